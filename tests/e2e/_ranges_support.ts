/**
 * Helpers of the multi-range end-to-end tests (ranges_test.ts): cluster settings, the partition
 * list, waiting for a range count, loading keys and checking that every node reads all of them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect, type RangeDbClient } from "../../src/client/mod.ts";
import type { TestCluster } from "../harness/cluster.ts";
import { forEachConcurrently, prefixEnd } from "../harness/cluster_workload.ts";

/** One range as `rangedb admin partition list -o json` prints it. */
export interface RangeJson {
  range_id: number;
  start?: string;
  end?: string;
  start_base64?: string;
  end_base64?: string;
  generation: number;
  voters: number[];
  leader_node_id: number;
  live_keys: number;
  live_bytes: number;
  frozen_into_range_id: number;
}

/** Sets cluster settings in order through the SDK (each is validated against the previous). */
export async function setSettings(
  db: RangeDbClient,
  settings: readonly [string, string][],
): Promise<void> {
  for (const [name, value] of settings) {
    const res = await db.admin.setConfig(name, value, { timeoutMs: 15_000 });
    assert.equal(res.current?.value !== undefined, true, `${name} set`);
  }
}

/** The partition list through the CLI's JSON output (every node's client address as endpoints). */
export async function partitionsByCli(cluster: TestCluster): Promise<RangeJson[]> {
  const out = await cluster.cli(["admin", "partition", "list", "-o", "json"], {
    timeoutMs: 30_000,
  });
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout).partitions as RangeJson[];
}

/** The user ranges (all but range 1, which holds `_/`) of a partition list. */
export function userRanges(ranges: readonly RangeJson[]): RangeJson[] {
  return ranges.filter((r) => r.range_id !== 1);
}

/**
 * Polls the partition list (SDK) until `done` holds for it, and returns that list.
 *
 * @throws {Error} with the last list and `what` when `timeoutMs` passes
 */
export async function waitForRanges(
  db: RangeDbClient,
  what: string,
  timeoutMs: number,
  done: (ranges: { rangeId: number; liveKeys: number; leader: number }[]) => boolean,
  onPoll?: (count: number) => void,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last: { rangeId: number; liveKeys: number; leader: number }[] = [];
  for (;;) {
    try {
      const res = await db.admin.listPartitions({ timeoutMs: 10_000 });
      last = res.partitions.map((r) => ({
        rangeId: Number(r.rangeId),
        liveKeys: Number(r.liveKeys),
        leader: Number(r.leaderNodeId),
      }));
      onPoll?.(last.length);
      if (done(last)) return last.length;
    } catch { /* the next poll tells */ }
    if (Date.now() >= deadline) {
      throw new Error(
        `Cannot see ${what} within ${timeoutMs} ms: last list has ${last.length} ranges ` +
          JSON.stringify(last),
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Checks that every node reads exactly the expected keys of `/<prefix>/…`: one full Range scan
 * per node (crossing every range; streamed, so values are never all held at once) and a
 * linearizable get of every key (or of about `sampleGets` of them).
 *
 * @param keys the expected keys, in key order
 * @param valueFor the value each key must hold
 */
export async function checkReadableEverywhere(
  cluster: TestCluster,
  prefix: string,
  keys: readonly string[],
  valueFor: (key: string) => string,
  options: { nodes?: number[]; sampleGets?: number; concurrency?: number } = {},
): Promise<void> {
  const step = options.sampleGets === undefined
    ? 1
    : Math.max(1, Math.floor(keys.length / options.sampleGets));
  const sample = keys.filter((_, i) => i % step === 0);
  for (const i of options.nodes ?? cluster.runningIndexes()) {
    const db = await connect({ endpoints: [cluster.nodes[i].client], timeoutMs: 30_000 });
    try {
      let n = 0;
      const wrong: string[] = [];
      const scan = db.rangeText(`/${prefix}/`, prefixEnd(prefix), { timeoutMs: 120_000 });
      for await (const { key, value } of scan) {
        if (key !== keys[n] || value !== valueFor(key)) {
          if (wrong.length < 5) wrong.push(`#${n}: ${key} (expected ${keys[n]})`);
        }
        n++;
      }
      assert.deepEqual(wrong, [], `node ${i}: scan of /${prefix}/ differs`);
      assert.equal(n, keys.length, `node ${i}: keys scanned under /${prefix}/`);
      await forEachConcurrently(sample, options.concurrency ?? 32, async (key) => {
        assert.ok((await db.getText(key)) === valueFor(key), `node ${i}: get ${key}`);
      });
    } finally {
      db.close();
    }
  }
}
