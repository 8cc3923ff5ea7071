import assert from "node:assert/strict";
import { decodeResult, encodeCommand, newCommand } from "../../../src/kv/command.ts";
import type { Store } from "../../../src/kv/mod.ts";
import { b, s, TestCluster, waitFor } from "./_cluster.ts";
import {
  bootstrapSplit,
  descriptorOf,
  propose,
  splitAt,
  waitForLeaderOf,
  withSplitCluster,
} from "./_ranges.ts";

const KEYS = "abcdefghijklmnopqrstuvwxyz".split("").map((ch) => `/${ch}`);

/** Puts `key` through the leader of its range, with one request id across retries. */
function put(c: TestCluster, key: string, value: string) {
  const requestId = crypto.randomUUID();
  return c.onRangeLeader(b(key), (st) => st.put(b(key), b(value), { requestId }));
}

/** Waits until every store has the range `rangeId` initialized over [start, end). */
async function waitForRange(c: TestCluster, rangeId: number, start: string, end: string) {
  await waitFor(
    () =>
      [...c.stores.values()].every((st) => {
        const d = st.replicas.get(rangeId)?.descriptor;
        return d !== undefined && s(d.start) === start && s(d.end) === end;
      }),
    10_000,
    `range ${rangeId} = [${start}, ${end}) on every store`,
  );
}

function statsOf(st: Store, rangeId: number) {
  const r = st.ranges().find((x) => x.rangeId === rangeId)!;
  return { keys: r.liveKeys, bytes: r.liveBytes };
}

Deno.test("Store applies a split on every replica: both ranges serve writes, linearizable reads and CAS with their bounds and exact stats", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    await c.waitForLeader();
    const boot = await bootstrapSplit(c);
    assert.equal(boot.descriptors[1].rangeId, 2n);
    await waitForRange(c, 2, "", "_/");
    for (const k of KEYS) await put(c, k, `v${k}`);
    const res = await splitAt(c, b("/m"));
    assert.deepEqual(res.descriptors.map((d) => Number(d.rangeId)), [2, 3]);
    await waitForRange(c, 3, "", "/m");
    await waitForRange(c, 2, "/m", "_/");
    // Stats are replicated state: the same on every node, and exact.
    const left = KEYS.filter((k) => k < "/m");
    const bytesOf = (ks: string[]) => ks.reduce((n, k) => n + k.length + `v${k}`.length, 0);
    await waitFor(
      () =>
        [...c.stores.values()].every((st) =>
          JSON.stringify(statsOf(st, 3)) ===
            JSON.stringify({ keys: left.length, bytes: bytesOf(left) }) &&
          statsOf(st, 2).keys === KEYS.length - left.length
        ),
      10_000,
      "the stats of both ranges on every store",
    );
    // Writes on both sides, then CAS, then linearizable reads on every store.
    await put(c, "/b", "left");
    await put(c, "/x", "right");
    const cas = (key: string, expected: string, value: string) =>
      c.onRangeLeader(
        b(key),
        (st) => st.compareAndSwap({ key: b(key), expected: b(expected), value: b(value) }),
      );
    assert.equal((await cas("/c", "v/c", "c2")).succeeded, true);
    assert.equal((await cas("/y", "nope", "y2")).succeeded, false);
    assert.equal((await cas("/y", "v/y", "y2")).succeeded, true);
    for (const st of c.stores.values()) {
      const get = async (k: string) => s((await st.get(b(k)))?.value);
      assert.equal(await get("/b"), "left");
      assert.equal(await get("/x"), "right");
      assert.equal(await get("/c"), "c2");
      assert.equal(await get("/y"), "y2");
      assert.equal(st.replicaFor(b("/l")).rangeId, 3);
      assert.equal(st.replicaFor(b("/m")).rangeId, 2);
      assert.equal(st.lookupRange(b("/a")).rangeId, 3);
    }
    // Applied writes per second over 10 s, counted by every replica.
    for (const st of c.stores.values()) {
      assert.ok(st.ranges().find((r) => r.rangeId === 2)!.writesPerSecond > 0);
    }
  } finally {
    await c.close();
  }
});

Deno.test("Store makes the parent's leader campaign for the new range at once: it leads before any election timeout", async () => {
  // Elections after 2–4 s: a leader within 1.5 s of the split can only come from the campaign.
  const c = await TestCluster.create(3, { electionTick: 100 });
  try {
    await c.startAll();
    await c.waitForLeader(15_000);
    await bootstrapSplit(c);
    const parentLeader = (await waitForLeaderOf(c, b("/z"))).nodeId;
    await splitAt(c, b("/m"));
    const start = Date.now();
    const leader = await waitForLeaderOf(c, b("/a"));
    const elapsed = Date.now() - start;
    assert.equal(leader.nodeId, parentLeader, "the parent's leader leads the new range");
    assert.ok(elapsed < 1500, `elected after ${elapsed} ms`);
    await put(c, "/a", "served");
  } finally {
    await c.close();
  }
});

Deno.test("Store re-routes a write the parent refused because the split moved its key: applied once, on the new range", async () => {
  await withSplitCluster(async (c) => {
    await put(c, "/c", "before");
    const leader = await waitForLeaderOf(c, b("/c"));
    const parent = descriptorOf(leader, b("/c"));
    const alloc = await propose(c, b("_/"), { case: "allocateRangeId", value: {} });
    const split = newCommand({
      body: {
        case: "split",
        value: {
          splitKey: b("/m"),
          newRangeId: alloc.rangeId,
          expectedGeneration: parent.generation,
        },
      },
    });
    const parentStats = statsOf(leader, 2);
    // Both are proposed in the same turn, the split first: the put applies after it, on the
    // parent that no longer holds /c.
    const splitting = leader.proposeCommand(b("/m"), encodeCommand(split));
    const writing = leader.put(b("/c"), b("after"), { requestId: "req-moved" });
    const splitResult = decodeResult(await splitting);
    assert.equal(splitResult.errorCode, "");
    const written = await writing;
    assert.ok(written.version > splitResult.version, "applied after the split");
    const newRange = Number(splitResult.descriptors[1].rangeId);
    await waitForRange(c, newRange, "", "/m");
    for (const st of c.stores.values()) {
      const got = await st.get(b("/c"));
      assert.equal(s(got?.value), "after");
      assert.equal(got?.version, written.version, "written once, at that version");
    }
    // The parent's stats did not count it (the refusal wrote nothing); the new range holds it.
    await waitFor(() => statsOf(leader, newRange).keys === 1, 5000, "the new range's stats");
    assert.equal(statsOf(leader, 2).keys, parentStats.keys - 1);
    // Retried by the client with the same request id: answered from the record.
    const again = await c.onRangeLeader(
      b("/c"),
      (st) => st.put(b("/c"), b("again"), { requestId: "req-moved" }),
    );
    assert.equal(again.version, written.version);
    assert.equal(s((await leader.get(b("/c")))?.value), "after");
  });
});

Deno.test("Store.proposeCommand() returns split refusals as results: stale generation, a key in _/, a frozen range", async () => {
  await withSplitCluster(async (c) => {
    const leader = await waitForLeaderOf(c, b("/c"));
    const gen = descriptorOf(leader, b("/c")).generation;
    const split = (key: string, expectedGeneration: bigint) =>
      propose(c, b(key.startsWith("_") ? "_/" : key), {
        case: "split",
        value: { splitKey: b(key), newRangeId: 77n, expectedGeneration },
      });
    const stale = await split("/m", gen - 1n);
    assert.equal(stale.errorCode, "FAILED_PRECONDITION");
    const system = await split("_/partitions/", 2n);
    assert.equal(system.errorCode, "INVALID_ARGUMENT");
    const frozen = await propose(c, b("/c"), {
      case: "subsume",
      value: { intoRangeId: 1n, expectedGeneration: gen },
    });
    assert.equal(frozen.errorCode, "");
    const refused = await split("/m", gen);
    assert.equal(refused.errorCode, "RANGE_MOVED");
    for (const st of c.stores.values()) assert.equal(st.replicas.has(77), false);
  });
});
