/**
 * Helpers of the durability and crash-point tests: a write stream that records which writes were
 * acknowledged and which have an unknown outcome, a check that every acknowledged write is on
 * every node (and nothing that was never written), and starting a node with a crash point armed
 * and seeing it die there.
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect, type RangeDbClient } from "../../src/client/mod.ts";
import type { TestCluster } from "../harness/cluster.ts";
import { Admin, withNodeGrpc } from "../harness/cluster_grpc.ts";
import { eventually, keyOf, scanPrefix, valueOf } from "../harness/cluster_workload.ts";

/** The line `crashPoint()` writes to stderr before the process kills itself. */
function crashLine(point: string): RegExp {
  return new RegExp(`"msg":"test crash point reached","point":"${point}"`);
}

/** Writes under one key prefix: acknowledged ones, and those whose outcome is unknown. */
export class WriteHistory {
  /** Acknowledged: must be present, with this value, on every node. */
  readonly acked = new Map<string, string>();
  /** Failed or timed out: may or may not have happened, never checked either way. */
  readonly unknown = new Set<string>();
  /** When each acknowledgement arrived (Date.now()), in order. */
  readonly ackTimes: number[] = [];
  #next = 0;

  /** @param prefix the key prefix (no slashes) every write of this history uses */
  constructor(readonly prefix: string) {}

  /** The next unique key of this history. */
  nextKey(): string {
    return keyOf(this.prefix, this.#next++);
  }

  /** Puts one new key and records the outcome. */
  async put(db: RangeDbClient, timeoutMs = 10_000): Promise<boolean> {
    const key = this.nextKey();
    try {
      await db.put(key, valueOf(key), { timeoutMs });
      this.acked.set(key, valueOf(key));
      this.ackTimes.push(Date.now());
      return true;
    } catch {
      this.unknown.add(key);
      return false;
    }
  }

  /** Puts `count` new keys, `concurrency` at a time; every put must succeed. */
  async putMany(db: RangeDbClient, count: number, concurrency: number): Promise<void> {
    const keys = Array.from({ length: count }, () => this.nextKey());
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const key = keys[next++];
        await db.put(key, valueOf(key), { timeoutMs: 15_000 });
        this.acked.set(key, valueOf(key));
        this.ackTimes.push(Date.now());
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  /**
   * Starts `writers` loops that each put one new key after another until `stop()` is called;
   * each put may take `timeoutMs` (retries included) before its outcome counts as unknown.
   *
   * @returns `stop()` (resolves once every loop has ended) and `ackedSince(n)`: waits until `n`
   * more writes are acknowledged
   */
  stream(db: RangeDbClient, writers: number, timeoutMs = 10_000): WriteStream {
    let running = true;
    const loops = Array.from({ length: writers }, async () => {
      while (running) {
        if (!await this.put(db, timeoutMs)) await new Promise((r) => setTimeout(r, 50));
      }
    });
    return {
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
      moreAcked: (n: number, timeoutMs = 30_000) => {
        const target = this.acked.size + n;
        return eventually(
          `${n} more acknowledged writes under /${this.prefix}/`,
          timeoutMs,
          () => Promise.resolve(this.acked.size >= target ? [] : [`${this.acked.size} acked`]),
        );
      },
    };
  }

  /** How many acknowledgements arrived in [from, to] (Date.now() times). */
  ackedBetween(from: number, to: number): number {
    return this.ackTimes.filter((t) => t >= from && t <= to).length;
  }

  /**
   * What a scan of this prefix shows wrong: acknowledged writes missing or changed, keys never
   * written, values not the ones written.
   */
  problemsIn(found: ReadonlyMap<string, string>, max = 10): string[] {
    const out: string[] = [];
    for (const [key, value] of this.acked) {
      const got = found.get(key);
      if (got !== value) out.push(got === undefined ? `${key} missing` : `${key}=${got}`);
    }
    for (const [key, value] of found) {
      if (!this.acked.has(key) && !this.unknown.has(key)) out.push(`${key} was never written`);
      else if (value !== valueOf(key)) out.push(`${key}=${value} was never written`);
    }
    return out.length <= max ? out : [...out.slice(0, max), `… ${out.length - max} more`];
  }
}

/** A running write loop of {@linkcode WriteHistory.stream}. */
export interface WriteStream {
  stop(): Promise<void>;
  moreAcked(n: number, timeoutMs?: number): Promise<void>;
}

/**
 * Checks every history on every running node: a serializable scan of each node (once it has
 * caught up) and a linearizable scan through any node hold every acknowledged write with its
 * value and nothing that was never written.
 *
 * @throws {Error} listing what a node lacks or holds wrongly after `timeoutMs`
 */
export async function expectHistoriesOnEveryNode(
  cluster: TestCluster,
  histories: readonly WriteHistory[],
  timeoutMs = 30_000,
): Promise<void> {
  const all = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 15_000 });
  try {
    for (const h of histories) {
      assert.deepEqual(h.problemsIn(await scanPrefix(all, h.prefix, false)), [], `/${h.prefix}/`);
    }
  } finally {
    all.close();
  }
  await Promise.all(
    cluster.runningIndexes().map(async (i) => {
      const one = await connect({ endpoints: [cluster.nodes[i].client], timeoutMs: 15_000 });
      try {
        await eventually(
          `every acknowledged write on node ${i} (serializable)`,
          timeoutMs,
          async () => {
            const problems: string[] = [];
            for (const h of histories) {
              problems.push(...h.problemsIn(await scanPrefix(one, h.prefix, true)));
            }
            return problems;
          },
        );
      } finally {
        one.close();
      }
    }),
  );
}

/**
 * Checks that node `i` is a working member again: ready, listing every member as a voter, and
 * serving a write sent to it and a linearizable read of it.
 */
export async function expectMemberServes(cluster: TestCluster, i: number): Promise<void> {
  await cluster.waitReady(i);
  const members = cluster.nodes.length;
  await eventually(`node ${i} listing ${members} voters`, 20_000, async () => {
    const nodes = await withNodeGrpc(
      cluster.nodes[i].client,
      async (node) => (await node.unary(Admin.method.listNodes, {}, 5_000)).nodes,
    );
    const voters = nodes.filter((n) => n.role === "voter").length;
    return voters === members ? [] : [nodes.map((n) => `${n.name}:${n.role}`).join(" ")];
  });
  const one = await connect({ endpoints: [cluster.nodes[i].client], timeoutMs: 15_000 });
  try {
    const key = `/served/${i}/${Date.now()}`;
    await one.put(key, "yes");
    assert.equal(await one.getText(key), "yes");
  } finally {
    one.close();
  }
}

/**
 * Starts node `i` with `RANGEDB_TEST_CRASH_POINT=setting`. A node may reach its point before it
 * prints its addresses; that is not a failure here ({@linkcode expectCrash} checks the exit).
 */
export async function startArmed(
  cluster: TestCluster,
  i: number,
  setting: string,
): Promise<void> {
  try {
    await cluster.startNode(i, { env: { RANGEDB_TEST_CRASH_POINT: setting } });
  } catch (err) {
    if (cluster.isRunning(i)) throw err;
  }
}

/**
 * Waits until node `i` dies by itself, and checks that it killed itself with SIGKILL at `point`
 * (its last process wrote the crash line).
 *
 * @returns when the node wrote the crash line (ms since the epoch)
 * @throws {Error} when the node is still running after `timeoutMs`, ended otherwise, or wrote no
 * crash line for `point`
 */
export async function expectCrash(
  cluster: TestCluster,
  i: number,
  point: string,
  timeoutMs = 30_000,
): Promise<{ at: number; answered: number }> {
  await eventually(
    `node ${i} crashing at ${point}`,
    timeoutMs,
    () => Promise.resolve(cluster.isRunning(i) ? ["still running"] : []),
  );
  const exit = await cluster.kill(i, "SIGKILL");
  assert.equal(exit?.signal, "SIGKILL", `node ${i} ended with ${JSON.stringify(exit)}`);
  const line = lastProcessStderr(cluster, i).split("\n").find((l) => crashLine(point).test(l));
  assert.ok(line !== undefined, `node ${i} wrote no crash line for ${point}`);
  const fields = JSON.parse(line);
  return { at: Date.parse(fields.ts), answered: fields.answered ?? 0 };
}

/** The stderr of node `i`'s last process (ended or running). */
export function lastProcessStderr(cluster: TestCluster, i: number): string {
  const parts = cluster.stderrOf(i).split(/--- process (?:ended|abandoned) ---\n/);
  return cluster.isRunning(i) ? parts.at(-1)! : parts.at(-2) ?? "";
}

/**
 * The range holding user key `key` and the index of the node leading it, from the partition
 * list: polled until the bootstrap split has moved user keys out of range 1 and a running node
 * leads their range.
 */
export async function rangeLeader(
  cluster: TestCluster,
  db: RangeDbClient,
  key: string,
  timeoutMs = 20_000,
): Promise<{ rangeId: number; index: number }> {
  const k = new TextEncoder().encode(key);
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const { partitions } = await db.admin.listPartitions({ timeoutMs: 5_000 });
      const range = partitions.find((r) =>
        compareBytes(r.start, k) <= 0 && (r.end.length === 0 || compareBytes(k, r.end) < 0)
      );
      const index = cluster.runningIndexes().find((i) =>
        range !== undefined && cluster.nodes[i].client === range.leaderClientAddress
      );
      if (range !== undefined && Number(range.rangeId) !== 1 && index !== undefined) {
        return { rangeId: Number(range.rangeId), index };
      }
      last = JSON.stringify({
        rangeId: Number(range?.rangeId),
        leader: range?.leaderClientAddress,
      });
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Cannot find the leader of the range of ${key} in ${timeoutMs} ms: ${last}`);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
