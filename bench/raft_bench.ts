/**
 * `deno task bench:raft`: committed proposals per second through a 3-node in-memory Raft cluster
 * (the simulation's network without faults or delay, MemoryStorage without fsync), with 64-byte
 * entries and many proposals batched per Ready cycle. Prints throughput and latency percentiles
 * (propose → applied on the leader). Options: `--seconds S` (default 5), `--batch B` proposals per
 * cycle (default 256), `--window W` max uncommitted proposals (default 4096).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { MemoryStorage, type Message, RawNode, StateType } from "../src/raft/mod.ts";
import { Network } from "../tests/sim/network.ts";
import { Rng } from "../tests/sim/rng.ts";

const ENTRY_BYTES = 64;

interface BenchNode {
  raw: RawNode;
  storage: MemoryStorage;
  applied: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function main(): void {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "5" },
      batch: { type: "string", default: "256" },
      window: { type: "string", default: "4096" },
    },
  });
  const seconds = Number(values.seconds),
    batch = Number(values.batch),
    window = Number(values.window);
  const rng = new Rng(1);
  const net = new Network(rng.fork(), {
    dropRate: 0,
    dupRate: 0,
    minDelayMs: 0,
    maxDelayMs: 0,
    longDelayRate: 0,
    longDelayMs: 0,
  });
  const voters = [1, 2, 3];
  const nodes = new Map<number, BenchNode>();
  for (const id of voters) {
    const storage = new MemoryStorage();
    storage.applySnapshot({
      metadata: {
        index: 1,
        term: 1,
        confState: { voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      },
      data: new Uint8Array(0),
    });
    storage.setHardState({ term: 1, vote: 0, commit: 1 });
    const r = rng.fork();
    const raw = new RawNode({
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      applied: 1,
      maxInflightMsgs: 256,
      maxSizePerMsg: 1024 * 1024,
      checkQuorum: true,
      preVote: true,
      random: () => r.next(),
    });
    nodes.set(id, { raw, storage, applied: 1 });
  }
  const leader = nodes.get(1)!;
  leader.raw.campaign();

  const payload = new Uint8Array(ENTRY_BYTES);
  let proposed = 0, committed = 0, cycles = 0;
  // Proposal i (1-based, in proposal order) was proposed at proposeTime[i % cap].
  const cap = 1 << 20;
  const proposeTime = new Float64Array(cap);
  const latencies: number[] = [];
  let leaderNoops = 0;

  const processNode = (n: BenchNode, isLeader: boolean) => {
    while (n.raw.hasReady()) {
      const rd = n.raw.ready();
      if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot);
      if (rd.entries.length > 0) n.storage.append(rd.entries);
      if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
      for (const m of rd.messages) net.send(m, 0);
      for (const e of rd.committedEntries) {
        n.applied = e.index;
        if (!isLeader) continue;
        if (e.data.byteLength === 0) {
          leaderNoops++;
          continue;
        }
        committed++;
        if ((committed & 63) === 0) {
          latencies.push(performance.now() - proposeTime[committed % cap]);
        }
      }
      n.raw.advance();
      if (n.applied - n.storage.firstIndex() > 50_000) n.storage.compact(n.applied - 1000);
    }
  };

  const deliver = (msgs: Message[]) => {
    for (const m of msgs) nodes.get(m.to)!.raw.step(m);
  };

  const start = performance.now();
  const end = start + seconds * 1000;
  let lastTick = start;
  for (;;) {
    const now = performance.now();
    if (now >= end) break;
    if (now - lastTick >= 10) {
      lastTick = now;
      for (const n of nodes.values()) n.raw.tick();
    }
    if (leader.raw.status().softState.raftState === StateType.Leader) {
      const room = Math.min(batch, window - (proposed - committed));
      for (let i = 0; i < room; i++) {
        leader.raw.propose(payload);
        proposed++;
        proposeTime[proposed % cap] = now;
      }
    }
    for (let round = 0; round < 4; round++) {
      for (const [id, n] of nodes) processNode(n, id === 1);
      deliver(net.deliverDue(0, () => {}));
    }
    cycles++;
  }
  const elapsed = (performance.now() - start) / 1000;
  const lat = Float64Array.from(latencies).sort();
  console.log(
    `raft_bench: 3 nodes, ${ENTRY_BYTES}-byte entries, batch ${batch}, window ${window}, ${
      elapsed.toFixed(1)
    }s`,
  );
  console.log(
    `committed ${committed} proposals (${leaderNoops} no-ops), ${cycles} cycles: ${
      Math.round(committed / elapsed).toLocaleString("en-US")
    } proposals/s`,
  );
  // Every replica must have applied what the leader committed, or the number means nothing.
  console.log(
    `replicas: ${[...nodes].map(([id, n]) => `node ${id} applied ${n.applied}`).join(", ")}`,
  );
  if (lat.length > 0) {
    console.log(
      `latency propose→applied on leader: p50 ${percentile(lat, 0.5).toFixed(2)}ms p99 ${
        percentile(lat, 0.99).toFixed(2)
      }ms max ${
        lat[lat.length - 1].toFixed(2)
      }ms (includes queueing behind the ${window}-proposal window)`,
    );
  }
}

if (import.meta.main) main();
