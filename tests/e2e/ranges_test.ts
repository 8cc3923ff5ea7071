/**
 * Ranges on real processes (docs/design/0009): a 3-node cluster splits into many ranges under
 * lowered thresholds and merges back after deletes, every key readable from every node; a node
 * that joins later serves reads, writes and scans of ranges it holds no replica of; cross-range
 * batches stay atomic when their coordinating node is killed. The full-size variant (1 GiB with
 * the default thresholds) runs with RANGEDB_TEST_1GIB=1.
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect, type RangeDbClient } from "../../src/client/mod.ts";
import { type TestCluster, withCluster } from "../harness/cluster.ts";
import { isCallError, KV, NodeGrpc } from "../harness/cluster_grpc.ts";
import { eventually, forEachConcurrently, keyOf } from "../harness/cluster_workload.ts";
import {
  checkReadableEverywhere,
  partitionsByCli,
  type RangeJson,
  setSettings,
  userRanges,
  waitForRanges,
} from "./_ranges_support.ts";

/** Keys of the split phase and the size of their values: ~1.2 MB over 64 KiB ranges. */
const DATA_KEYS = 1_200;
const VALUE_BYTES = 1_000;
const MIN_USER_RANGES = 16;

/** A value of `bytes` bytes that names its key (so a misplaced value is recognised). */
function bigValue(key: string, bytes = VALUE_BYTES): string {
  const unit = `${key}|`;
  return unit.repeat(Math.ceil(bytes / unit.length)).slice(0, bytes);
}

/** Checks that a partition list covers the key space once, in order, each range with a leader. */
function assertCoversKeySpace(ranges: readonly RangeJson[]): void {
  assert.equal(ranges[0].start, "", "the first range starts at the start of the key space");
  assert.equal(ranges[ranges.length - 1].end, "", "the last range ends at the end");
  for (let i = 1; i < ranges.length; i++) {
    assert.equal(ranges[i].start, ranges[i - 1].end, `range ${ranges[i].range_id} is adjacent`);
  }
  for (const r of ranges) {
    assert.notEqual(r.leader_node_id, 0, `range ${r.range_id} has a leader`);
    assert.equal(r.frozen_into_range_id, 0, `range ${r.range_id} is not frozen`);
  }
}

Deno.test("3 nodes split into at least 16 ranges under lowered thresholds, every node reads every key, a joined node serves them, and deletes merge the ranges back", async (t) => {
  await withCluster({ nodes: 3, timeoutMs: 170_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 20_000 });
    try {
      await waitForRanges(db, "the bootstrap split", 30_000, (r) => r.length === 2);
      const keys = Array.from({ length: DATA_KEYS }, (_, i) => keyOf("data", i));

      await t.step("lowered thresholds split the data into at least 16 ranges", async () => {
        // Through the CLI once: min first, as the rule min < max holds after every change.
        const min = await cluster.cli(["admin", "config", "set", "range_min_bytes", "16KiB"]);
        assert.equal(min.code, 0, min.stderr);
        assert.equal(min.stdout, "OK range_min_bytes 16MiB -> 16KiB\n");
        const refused = await cluster.cli(["admin", "config", "set", "range_max_bytes", "8KiB"]);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /below the minimum of 64KiB.*\(INVALID_ARGUMENT\)/);
        await setSettings(db, [["range_max_bytes", "64KiB"]]);
        const got = await cluster.cli(["admin", "config", "get", "range_max_bytes"]);
        assert.equal(got.stdout, "64KiB\n");

        await forEachConcurrently(keys, 32, async (key) => {
          await db.put(key, bigValue(key));
        });
        const started = Date.now();
        const count = await waitForRanges(
          db,
          `${MIN_USER_RANGES} user ranges with leaders`,
          90_000,
          (r) => r.length >= MIN_USER_RANGES + 1 && r.every((x) => x.leader !== 0),
        );
        console.log(`split into ${count} ranges in ${Date.now() - started} ms after the load`);
      });

      await t.step(
        "the partition list shows every range with its leader, keys and size",
        async () => {
          const liveBytes = keys.reduce((n, key) => n + key.length + VALUE_BYTES, 0);
          // Splits may still run; the stats of the list add up once the last one applied.
          await eventually("the ranges' stats adding up to the data", 30_000, async () => {
            const ranges = await partitionsByCli(cluster);
            assertCoversKeySpace(ranges);
            const users = userRanges(ranges);
            const keysSum = users.reduce((n, r) => n + r.live_keys, 0);
            const bytesSum = users.reduce((n, r) => n + r.live_bytes, 0);
            const over = users.filter((r) => r.live_bytes > 64 * 1024);
            return [
              ...(users.length >= MIN_USER_RANGES ? [] : [`only ${users.length} user ranges`]),
              ...(keysSum === DATA_KEYS ? [] : [`live keys add up to ${keysSum}`]),
              ...(bytesSum === liveBytes
                ? []
                : [`live bytes add up to ${bytesSum}, not ${liveBytes}`]),
              ...over.map((r) => `range ${r.range_id} holds ${r.live_bytes} bytes`),
            ];
          });
        },
      );

      await t.step("every node reads every key: a full scan and a get of each", async () => {
        await checkReadableEverywhere(cluster, "data", keys, (k) => bigValue(k));
      });

      await t.step(
        "a node joining after the splits serves ranges it holds no replica of",
        async () => {
          const joined = await cluster.join();
          const one = await connect({
            endpoints: [cluster.nodes[joined].client],
            timeoutMs: 20_000,
          });
          try {
            const status = await one.clusterStatus();
            const local = status.ranges.map((r) => Number(r.rangeId)).filter((id) => id !== 1);
            assert.deepEqual(local, [], "the joined node holds no user range");
            await one.put("/joined/a", "written through the joined node");
            assert.equal(await one.getText("/joined/a"), "written through the joined node");
            assert.equal(await one.getText(keys[DATA_KEYS - 1]), bigValue(keys[DATA_KEYS - 1]));
            await one.batch().put("/joined/b", "b").put("/joined/c", "c").commit();
          } finally {
            one.close();
          }
          // Scans through it cross every range (RangePage forwarding), as do its gets.
          await checkReadableEverywhere(cluster, "data", keys, (k) => bigValue(k), {
            nodes: [joined],
            sampleGets: 200,
          });
          await checkReadableEverywhere(
            cluster,
            "joined",
            ["/joined/a", "/joined/b", "/joined/c"],
            (k) => k === "/joined/a" ? "written through the joined node" : k.slice(-1),
          );
        },
      );

      await t.step(
        "deleting the data merges the ranges back; writes meanwhile survive",
        async () => {
          await forEachConcurrently(keys, 32, async (key) => {
            await db.delete(key);
          });
          await setSettings(db, [["range_merge_delay", "1s"]]);
          const kept = new Map<string, string>();
          let writing = true;
          const writer = writeWhileMerging(db, kept, () => writing);
          const started = Date.now();
          try {
            await waitForRanges(db, "the ranges merged back to two", 90_000, (r) => r.length === 2);
          } finally {
            writing = false;
            await writer;
          }
          console.log(
            `merged back in ${Date.now() - started} ms; ${await writer} writes meanwhile`,
          );
          const ranges = await partitionsByCli(cluster);
          assert.deepEqual(ranges.map((r) => [r.start, r.end]), [["", "_/"], ["_/", ""]]);
          const keptKeys = [...kept.keys()].sort();
          await checkReadableEverywhere(cluster, "kept", keptKeys, (k) => kept.get(k)!);
          await checkReadableEverywhere(cluster, "data", [], () => "");
        },
      );
    } finally {
      db.close();
    }
  });
});

/**
 * Writes small keys under `/kept/` (overwriting some) until `more()` is false; records values.
 *
 * @returns how many writes were done
 */
async function writeWhileMerging(
  db: RangeDbClient,
  kept: Map<string, string>,
  more: () => boolean,
): Promise<number> {
  let i = 0;
  for (; more(); i++) {
    const key = keyOf("kept", i % 50);
    const value = `v${i}`;
    await db.put(key, value);
    kept.set(key, value);
    await new Promise((r) => setTimeout(r, 50));
  }
  return i;
}

/** The three keys of cross-range batch `id`: one in each of [-, /bank/h), [/bank/h, /bank/p) and
 * [/bank/p, _/). */
function batchKeys(id: string): string[] {
  return [`/bank/a/${id}`, `/bank/m/${id}`, `/bank/t/${id}`];
}

Deno.test("cross-range batches are atomic, and stay all-or-nothing with no intent left when their coordinating node is killed", async (t) => {
  await withCluster({ nodes: 3, timeoutMs: 150_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 20_000 });
    try {
      await waitForRanges(db, "the bootstrap split", 30_000, (r) => r.length === 2);
      for (const key of ["/bank/h", "/bank/p"]) {
        const split = await cluster.cli(["admin", "partition", "split", key]);
        assert.equal(split.code, 0, split.stderr);
      }
      await waitForRanges(db, "four ranges", 30_000, (r) => r.length === 4);

      await t.step("rangedb batch put over three ranges is visible from every node", async () => {
        const [a, m, z] = batchKeys("cli");
        const out = await cluster.cli(["batch", "put", a, "1", m, "2", z, "3"]);
        assert.equal(out.code, 0, out.stderr);
        assert.match(out.stdout, /^OK version=\d+\n$/);
        const ids = new Set<bigint>();
        for (const key of [a, m, z]) ids.add((await db.admin.lookupRange(key))!.rangeId);
        assert.equal(ids.size, 3, "the batch's keys lie in three ranges");
        for (const node of cluster.nodes) {
          for (const [key, value] of [[a, "1"], [m, "2"], [z, "3"]]) {
            const got = await cluster.cli(["get", key], { endpoints: [node.client] });
            assert.deepEqual([got.code, got.stdout], [0, value], `${key} on node ${node.index}`);
          }
        }
      });

      await t.step("kill -9 of the coordinator leaves every batch all or nothing", async () => {
        // Whether a kill leaves intents for readers to settle depends on where each batch in
        // flight was (in 6 of 10 kills tried, none was between its prepare and its intents'
        // resolution), so the count is reported, not asserted; the readers' settling is
        // asserted deterministically by tests/unit/txn/batch_commit_test.ts.
        await killCoordinatorRound(cluster, db, "r0");
      });

      await t.step("no intent is left: every key takes a plain write", async () => {
        const keys: string[] = [];
        for await (const { key } of db.rangeText("/bank/", "/bank0", { timeoutMs: 60_000 })) {
          keys.push(key);
        }
        await forEachConcurrently(keys, 16, async (key) => {
          await db.put(key, "overwritten");
        });
        assert.ok(keys.length >= 60, `keys of committed batches: ${keys.length}`);
      });
    } finally {
      db.close();
    }
  });
});

/** One batch sent to the coordinator: its id and whether it was acknowledged. */
interface BatchOutcome {
  id: string;
  ok: boolean;
}

/**
 * One round: batches through a node that leads none of their ranges (the node that receives a
 * cross-range batch coordinates it, so the prepared intents live on in the leaders when it
 * dies) until it is frozen and killed; every batch must then be all or nothing, the same through
 * every node and through the restarted one.
 *
 * @returns the expired intents the nodes logged settling so far
 */
async function killCoordinatorRound(
  cluster: TestCluster,
  db: RangeDbClient,
  tag: string,
): Promise<number> {
  const primary = await db.admin.lookupRange("/bank/a/");
  const coordinator = cluster.nodes.findIndex((n) => n.client !== primary?.leaderClientAddress);
  // Frozen first, then killed: the prepares it sent still apply on the leaders, and no commit
  // or intent resolution follows.
  const outcomes = await batchesUntilKilled(cluster, coordinator, tag, async () => {
    cluster.pause(coordinator);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await cluster.kill(coordinator);
  });
  const acked = outcomes.filter((o) => o.ok).length;
  console.log(
    `${tag}: ${outcomes.length} batches through node ${coordinator}: ${acked} acknowledged, ` +
      `${outcomes.length - acked} failed or cut off by the kill`,
  );
  assert.ok(acked >= 20, `enough batches committed before the kill: ${acked}`);
  assert.ok(outcomes.length > acked, "some batches were in flight at the kill");

  const survivors = cluster.runningIndexes().map((i) => cluster.nodes[i].client);
  const seen = await readBatches(survivors, outcomes);
  await cluster.startNode(coordinator);
  await cluster.waitReady(coordinator, 60_000);
  // The restarted node reads the same outcome of every batch.
  const again = await readBatches([cluster.nodes[coordinator].client], outcomes);
  assert.deepEqual(again, seen, "the restarted coordinator sees the same batches");
  const committed = [...seen.values()].filter((s) => s === "all").length;
  const resolved = cluster.nodes.map((n) =>
    cluster.stderrOf(n.index).split("resolving an expired intent").length - 1
  ).reduce((a, b) => a + b, 0);
  console.log(
    `${tag}: after the kill: ${committed} batches committed, ${seen.size - committed} none; ` +
      `${resolved} expired intents resolved by readers so far`,
  );
  return resolved;
}

/**
 * Sends cross-range batches straight to node `coordinator` (raw gRPC, so it coordinates them) from
 * 12 workers; once 30 have been acknowledged `kill` runs while batches are in flight, and the
 * workers stop at their next failure.
 */
async function batchesUntilKilled(
  cluster: TestCluster,
  coordinator: number,
  tag: string,
  kill: () => Promise<void>,
): Promise<BatchOutcome[]> {
  const outcomes: BatchOutcome[] = [];
  const grpcs = Array.from({ length: 12 }, () => new NodeGrpc(cluster.nodes[coordinator].client));
  let killed: Promise<void> | undefined;
  let acked = 0;
  const enc = new TextEncoder();
  try {
    await Promise.all(grpcs.map(async (node, w) => {
      for (let i = 0;; i++) {
        const id = `${tag}w${w}-${String(i).padStart(4, "0")}`;
        const ops = batchKeys(id).map((key) => ({
          op: { case: "put" as const, value: { key: enc.encode(key), value: enc.encode(id) } },
        }));
        const outcome = { id, ok: false };
        outcomes.push(outcome);
        try {
          await node.unary(KV.method.batch, { ops, requestId: crypto.randomUUID() }, 10_000);
          outcome.ok = true;
          if (++acked === 30) killed = kill();
        } catch (err) {
          if (killed !== undefined || !isCallError(err)) return;
          throw err;
        }
      }
    }));
  } finally {
    for (const g of grpcs) g.close();
  }
  await killed;
  return outcomes;
}

/**
 * Reads the three keys of every batch through each endpoint and checks each batch is all there
 * (with its id as value) or not at all; an acknowledged batch must be all there.
 *
 * @returns batch id → "all" or "none"
 */
async function readBatches(
  endpoints: string[],
  outcomes: readonly BatchOutcome[],
): Promise<Map<string, "all" | "none">> {
  const result = new Map<string, "all" | "none">();
  for (const endpoint of endpoints) {
    const db = await connect({ endpoints: [endpoint], timeoutMs: 30_000 });
    try {
      await forEachConcurrently(outcomes, 16, async ({ id, ok }) => {
        const values = await Promise.all(batchKeys(id).map((k) => db.getText(k)));
        const present = values.filter((v) => v !== null);
        assert.ok(
          present.length === 0 || (present.length === 3 && present.every((v) => v === id)),
          `batch ${id} is partly visible through ${endpoint}: ${JSON.stringify(values)}`,
        );
        if (ok) assert.equal(present.length, 3, `acknowledged batch ${id} is lost`);
        const seen = present.length === 3 ? "all" : "none";
        const before = result.get(id);
        assert.ok(before === undefined || before === seen, `batch ${id} differs by node`);
        result.set(id, seen);
      });
    } finally {
      db.close();
    }
  }
  return result;
}

const ONE_GIB = Deno.env.get("RANGEDB_TEST_1GIB") === "1";
/** The full-size load: 16,400 values of 64 KiB, a little over 1 GiB. */
const GIB_VALUE_BYTES = 64 * 1024;
const GIB_KEYS = 16_400;

Deno.test({
  name:
    "1 GiB into 3 nodes with the default 64 MiB threshold splits into at least 16 ranges, all readable, and merges back after deletes (RANGEDB_TEST_1GIB=1)",
  ignore: !ONE_GIB,
  async fn() {
    await withCluster({ nodes: 3, timeoutMs: 3_600_000 }, async (cluster) => {
      await cluster.waitAllReady();
      const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 60_000 });
      const phase = (name: string, started: number) =>
        console.log(`${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      try {
        await waitForRanges(db, "the bootstrap split", 30_000, (r) => r.length === 2);
        const keys = Array.from({ length: GIB_KEYS }, (_, i) => keyOf("gib", i));
        const value = (key: string) => bigValue(key, GIB_VALUE_BYTES);
        let started = Date.now();
        // Keys in random order, so every range takes writes while the ranges split.
        const order = [...keys].sort(() => Math.random() - 0.5);
        await forEachConcurrently(order, 16, async (key) => {
          await db.put(key, value(key));
        });
        phase(`loaded ${GIB_KEYS} x ${GIB_VALUE_BYTES} bytes`, started);
        started = Date.now();
        let most = 0;
        await waitForRanges(
          db,
          "16 user ranges",
          600_000,
          (r) => r.length >= MIN_USER_RANGES + 1 && r.every((x) => x.leader !== 0),
          (n) => most = Math.max(most, n),
        );
        phase(`${most} ranges`, started);
        let ranges: RangeJson[] = [];
        await eventually("the last splits", 300_000, async () => {
          ranges = await partitionsByCli(cluster);
          const big = ranges.filter((r) => r.live_bytes > 64 * 1024 * 1024);
          return big.map((r) => `range ${r.range_id} holds ${r.live_bytes} bytes`);
        });
        assertCoversKeySpace(ranges);
        const sizes = userRanges(ranges).map((r) => (r.live_bytes / 1024 / 1024).toFixed(1));
        console.log(`${ranges.length} ranges, user range sizes in MiB: ${sizes.join(" ")}`);
        assert.ok(userRanges(ranges).length >= MIN_USER_RANGES);
        const liveKeys = userRanges(ranges).reduce((n, r) => n + r.live_keys, 0);
        assert.equal(liveKeys, GIB_KEYS);
        started = Date.now();
        await checkReadableEverywhere(cluster, "gib", keys, value, { sampleGets: 500 });
        phase("every node scanned every key", started);
        started = Date.now();
        await forEachConcurrently(keys, 32, async (key) => {
          await db.delete(key);
        });
        await setSettings(db, [["range_merge_delay", "1s"]]);
        await waitForRanges(db, "the ranges merged back", 600_000, (r) => r.length === 2);
        phase("deleted and merged back to 2 ranges", started);
        await checkReadableEverywhere(cluster, "gib", [], value);
      } finally {
        db.close();
      }
    });
  },
});
