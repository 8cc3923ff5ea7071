/**
 * The cluster side of `bench/ranges_bench.ts`: real server processes from the e2e harness
 * ({@linkcode TestCluster}), their process ids and CPU times from `/proc`, their scheduler state
 * from `/metrics`, the SDK client that drives them, and the leaders of the ranges.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { connect, type RangeDbClient, type RangeStatus } from "../src/client/mod.ts";
import { TestCluster } from "../tests/harness/cluster.ts";

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ; 100 on Linux). */
const CLOCK_TICKS = 100;
/** How long the SDK may take for one call, retries included. */
const SDK_TIMEOUT_MS = 30_000;

/** A node's scheduler state as its `/metrics` reports it. */
export interface SchedulerSample {
  replicas: number;
  awake: number;
  turns: number;
  replicaTicks: number;
  leaderQuiesces: number;
  messagesSent: number;
}

/** A running cluster of real server processes and an SDK client connected to it. */
export class BenchCluster {
  /** Clusters started and not yet stopped, for {@linkcode stopAllClusters}. */
  static readonly running = new Set<BenchCluster>();
  readonly cluster: TestCluster;
  readonly db: RangeDbClient;
  /** The server process id of each node, by node index. */
  readonly pids: number[];
  readonly #root: string;

  private constructor(cluster: TestCluster, db: RangeDbClient, pids: number[], root: string) {
    this.cluster = cluster;
    this.db = db;
    this.pids = pids;
    this.#root = root;
  }

  /**
   * Starts `nodes` server processes (logging at "warn": the slow-turn warnings, not the
   * per-split info lines), waits until each is ready and until the bootstrap split left the
   * user keys in a range of their own, and connects the SDK.
   *
   * @throws {Error} with the nodes' output when the cluster does not form
   */
  static async start(
    options: { nodes: number; dataRoot?: string; env?: Record<string, string>; logLevel?: string },
  ): Promise<BenchCluster> {
    const root = await Deno.makeTempDir({ dir: options.dataRoot, prefix: "rangedb_bench_" });
    let cluster: TestCluster | undefined;
    let db: RangeDbClient | undefined;
    try {
      cluster = await TestCluster.start({
        nodes: options.nodes,
        dataRoot: root,
        logLevel: options.logLevel ?? "warn",
        env: options.env,
      });
      await cluster.waitAllReady();
      const pids = cluster.nodes.map((n) => serverPid(n.dataDir));
      db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: SDK_TIMEOUT_MS });
      const bench = new BenchCluster(cluster, db, pids, root);
      await bench.#waitUserRange();
      BenchCluster.running.add(bench);
      return bench;
    } catch (err) {
      db?.close();
      await cluster?.stop();
      await Deno.remove(root, { recursive: true }).catch(() => {});
      throw err;
    }
  }

  /** Waits for the bootstrap split at `_/` (range 1 keeps the system keys) and its leader. */
  async #waitUserRange(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const user = await this.db.admin.lookupRange("/").catch(() => undefined);
      if (user !== undefined && user.rangeId !== 1n && user.leaderClientAddress !== "") return;
      if (Date.now() > deadline) {
        throw new Error("Cannot use the cluster as the user keys did not get a range of their own");
      }
      await sleep(200);
    }
  }

  /** Every range from range 1's meta copy, in key order. */
  async partitions(): Promise<RangeStatus[]> {
    return (await this.db.admin.listPartitions()).partitions;
  }

  /**
   * How many ranges each node leads, in node order (as the meta copy names their leaders), with
   * the ranges whose leader the copy does not know, and the index of range 1's leader (-1 when
   * unknown): writes on ranges led elsewhere take their timestamps from it over the network.
   * Polls for up to 5 s while some leader is unknown.
   */
  async leaderSpread(
    filter: (r: RangeStatus) => boolean = () => true,
  ): Promise<{ perNode: number[]; unknown: number; rangeOneLeader: number }> {
    const ids = await this.nodeIds();
    // Ranges split off a moment ago may not have a leader the answering node knows yet.
    const deadline = Date.now() + 5_000;
    for (;;) {
      const perNode = ids.map(() => 0);
      let unknown = 0;
      let rangeOneLeader = -1;
      for (const r of await this.partitions()) {
        if (r.rangeId === 1n) rangeOneLeader = ids.indexOf(Number(r.leaderNodeId));
        if (!filter(r)) continue;
        const i = ids.indexOf(Number(r.leaderNodeId));
        if (i < 0) unknown++;
        else perNode[i]++;
      }
      if ((unknown === 0 && rangeOneLeader >= 0) || Date.now() > deadline) {
        return { perNode, unknown, rangeOneLeader };
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The numeric node id of each node, by node index. */
  async nodeIds(): Promise<number[]> {
    const status = await this.db.clusterStatus();
    const byPeer = new Map(status.nodes.map((n) => [n.peerAddress, Number(n.nodeId)]));
    return this.cluster.nodes.map((n) => byPeer.get(n.peer) ?? 0);
  }

  /** CPU seconds (user + system, every thread) each server process has used so far. */
  cpuSeconds(): number[] {
    return this.pids.map(processCpuSeconds);
  }

  /** Resident memory of each server process in bytes. */
  rssBytes(): number[] {
    return this.pids.map((pid) => {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
      return kb === undefined ? 0 : Number(kb) * 1024;
    });
  }

  /** Each node's scheduler state from its `/metrics` (undefined for a node that did not answer). */
  async schedulers(): Promise<(SchedulerSample | undefined)[]> {
    return await Promise.all(
      this.cluster.nodes.map(async (n) => {
        const text = await fetchText(`${n.adminUrl}/metrics`).catch(() => undefined);
        if (text === undefined) return undefined;
        const v = (name: string) => metricValue(text, name) ?? NaN;
        return {
          replicas: v("rangedb_raft_replicas"),
          awake: v("rangedb_raft_awake_replicas"),
          turns: v("rangedb_raft_turns_total"),
          replicaTicks: v("rangedb_raft_replica_ticks_total"),
          leaderQuiesces: v("rangedb_raft_leader_quiesces_total"),
          messagesSent: v("rangedb_raft_messages_sent_total"),
        };
      }),
    );
  }

  /** Every "slow raft turn" warning node `i` logged so far. */
  slowTurns(i: number): SlowTurn[] {
    const out: SlowTurn[] = [];
    for (const line of this.cluster.stderrOf(i).split("\n")) {
      if (!line.includes('"slow raft turn"')) continue;
      try {
        const o = JSON.parse(line);
        out.push({
          ts: String(o.ts),
          blockedMs: Number(o.blocked_ms),
          stageMs: Number(o.stage_ms),
          appliedEntries: Number(o.applied_entries),
        });
      } catch { /* a line cut by the capture: skip */ }
    }
    return out;
  }

  /** Closes the SDK, stops every node and removes the data directories. */
  async stop(): Promise<void> {
    BenchCluster.running.delete(this);
    this.db.close();
    await this.cluster.stop();
    await Deno.remove(this.#root, { recursive: true }).catch(() => {});
  }
}

/** Stops every cluster still running (on SIGINT or SIGTERM). */
export async function stopAllClusters(): Promise<void> {
  await Promise.all([...BenchCluster.running].map((b) => b.stop().catch(() => {})));
}

/** One "slow raft turn" warning of a node. */
export interface SlowTurn {
  ts: string;
  blockedMs: number;
  stageMs: number;
  appliedEntries: number;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The process id of the server whose command line names `dataDir` (`--data-dir=…`).
 *
 * @throws {Error} when no such process runs
 */
export function serverPid(dataDir: string): number {
  const flag = `--data-dir=${dataDir}`;
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry.name}/cmdline`, "utf8");
    } catch {
      continue; // ended meanwhile
    }
    if (cmdline.split("\0").includes(flag)) return Number(entry.name);
  }
  throw new Error(`Cannot find the server process of ${dataDir} in /proc`);
}

/** User + system CPU seconds of process `pid` (all its threads) from `/proc/<pid>/stat`. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name may hold spaces: the fields after it start past the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** The value of an unlabelled (but for `node`) sample of `name` in Prometheus text. */
export function metricValue(text: string, name: string): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== " " && rest[0] !== "{") continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

async function fetchText(url: string, timeoutMs = 10_000): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`Cannot read ${url}: HTTP ${res.status}`);
  }
  return await res.text();
}
