import assert from "node:assert/strict";
import { raftStateKey, RaftStateKind } from "../../../src/kv/keys.ts";
import { decodeHardState } from "../../../src/kv/raft_log_codec.ts";
import { b, s, TestCluster, waitFor } from "./_cluster.ts";
import {
  bootstrapSplit,
  mergeFrozen,
  splitAt,
  subsume,
  updateMeta,
  waitForLeaderOf,
  withSplitCluster,
} from "./_ranges.ts";

function put(c: TestCluster, key: string, value: string) {
  const requestId = crypto.randomUUID();
  return c.onRangeLeader(b(key), (st) => st.put(b(key), b(value), { requestId }));
}

/** A node that does not lead the range of `key` (messages to it can be dropped safely). */
async function follower(c: TestCluster, key: string): Promise<number> {
  const leader = await waitForLeaderOf(c, b(key));
  return [...c.stores.keys()].find((id) => id !== leader.nodeId)!;
}

async function serializableValue(c: TestCluster, node: number, key: string) {
  const got = await c.stores.get(node)!.get(b(key), { serializable: true }).catch(() => undefined);
  return s(got?.value);
}

Deno.test("Store on a node whose parent has not split yet refuses the new range's snapshot, keeps the vote its uninitialized replica gave, and gets the range from the split", async () => {
  await withSplitCluster(async (c) => {
    await put(c, "/a", "before");
    const lag = await follower(c, "/a");
    // Followers learn a commit with the next append or heartbeat (lazyCommitBroadcast).
    await waitFor(
      async () => (await serializableValue(c, lag, "/a")) === "before",
      10_000,
      "the follower to apply the first put",
    );
    // The lagging node hears nothing of range 2 (the parent), everything of the new range.
    c.net.drop = (_from, to, _m, rangeId) => to === lag && rangeId === 2;
    const res = await splitAt(c, b("/m"));
    const newRange = Number(res.descriptors[1].rangeId);
    await put(c, "/a", "after");
    const lagging = c.stores.get(lag)!;
    // Its replica of the new range voted (the parent's leader campaigned at once) but holds
    // nothing: the snapshot the new leader sends overlaps range 2, which it still serves.
    await waitFor(() => c.net.snapshotsRefused > 0, 10_000, "a refused snapshot");
    const uninit = lagging.replicas.get(newRange);
    assert.ok(uninit !== undefined && uninit.descriptor === undefined, "uninitialized");
    const voted = uninit.storage.hardState();
    assert.ok(voted.term > 5 && voted.vote !== 0, `voted: ${JSON.stringify(voted)}`);
    assert.equal(s(lagging.replicas.get(2)?.descriptor?.start), "", "the parent is unsplit");
    assert.equal(await serializableValue(c, lag, "/a"), "before");

    // The parent catches up (the new range still cannot reach the node): the node creates the
    // new range by applying the split, over its uninitialized replica.
    c.net.drop = (_from, to, _m, rangeId) => to === lag && rangeId === newRange;
    await waitFor(
      () => lagging.replicas.get(newRange)?.descriptor !== undefined,
      10_000,
      "the lagging node to apply the split",
    );
    const created = lagging.replicas.get(newRange)!;
    assert.notEqual(created, uninit, "a new replica object");
    assert.equal(created.appliedIndex, 10, "created by its own split, not a snapshot");
    assert.equal(s(created.descriptor!.end), "/m");
    const hs = decodeHardState(
      c.engines.get(lag)!.get("raft_state", raftStateKey(newRange, RaftStateKind.HardState))!,
    );
    assert.deepEqual(
      { term: hs.term, vote: hs.vote },
      { term: voted.term, vote: voted.vote },
      "the term and vote it gave are kept",
    );
    assert.equal(hs.commit, 10);
    c.net.drop = undefined;
    await waitFor(
      async () => (await serializableValue(c, lag, "/a")) === "after",
      10_000,
      "the lagging node to catch up",
    );
  });
});

Deno.test("Store on a node whose subsumed replica is frozen installs the merged range's snapshot and destroys that replica", async () => {
  const c = await TestCluster.create(3, { logTruncation: { threshold: 30, keep: 5 } });
  try {
    await c.startAll();
    await c.waitForLeader();
    await bootstrapSplit(c);
    await put(c, "/a", "1");
    await splitAt(c, b("/m"));
    await waitFor(
      () => [...c.stores.values()].every((st) => st.replicas.get(3)?.descriptor !== undefined),
      10_000,
      "range 3 on every store",
    );
    const lag = await follower(c, "/x");
    const frozen = await subsume(c, b("/a"));
    // The lagging node applied the freeze (the coordinator waited for it), then hears nothing
    // of range 2 while it absorbs range 3 and moves on past its log.
    c.net.drop = (_from, to, _m, rangeId) => to === lag && rangeId === 2;
    const merged = await mergeFrozen(c, frozen);
    assert.equal(merged.errorCode, "");
    await updateMeta(c, merged.descriptors, frozen.descriptors);
    for (let i = 0; i < 40; i++) await put(c, `/b${i}`, `${i}`);
    const lagging = c.stores.get(lag)!;
    assert.equal(lagging.replicas.get(3)?.frozen, true, "still frozen there");
    const sent = c.net.snapshotsSent;
    c.net.drop = undefined;
    await waitFor(
      async () => (await serializableValue(c, lag, "/b39")) === "39",
      10_000,
      "the lagging node to install range 2's snapshot",
    );
    assert.ok(c.net.snapshotsSent > sent, "caught up by snapshot");
    assert.equal(c.net.snapshotsRefused, 0);
    assert.equal(lagging.replicas.has(3), false, "the frozen replica is destroyed");
    assert.equal(lagging.rangeSet.tombstones.get(3), 2);
    assert.notEqual(
      c.engines.get(lag)!.get("raft_state", raftStateKey(3, RaftStateKind.Tombstone)),
      undefined,
    );
    assert.equal(s(lagging.replicas.get(2)?.descriptor?.start), "");
    assert.equal(await serializableValue(c, lag, "/a"), "1");
    // Restarted, it loads range 2 and the tombstone, not range 3.
    await c.stop(lag);
    const restarted = await c.start(lag);
    assert.equal(restarted.replicas.has(3), false);
    assert.equal(restarted.rangeSet.tombstones.get(3), 2);
    assert.deepEqual(
      restarted.ranges().map((r) => [r.rangeId, s(r.start), s(r.end)]),
      [[2, "", "_/"], [1, "_/", ""]],
    );
    await waitFor(
      async () => s((await restarted.get(b("/b0")).catch(() => undefined))?.value) === "0",
      10_000,
      "a linearizable read on the restarted node",
    );
  } finally {
    await c.close();
  }
});

Deno.test("Store restarted after splits loads every range with its bounds and serves them", async () => {
  await withSplitCluster(async (c) => {
    await splitAt(c, b("/g"));
    await splitAt(c, b("/p"));
    for (const k of ["/a", "/h", "/q"]) await put(c, k, k);
    await waitFor(
      () => [...c.stores.values()].every((st) => st.ranges().length === 4),
      10_000,
      "four ranges everywhere",
    );
    await c.stop(2);
    const restarted = await c.start(2);
    assert.deepEqual(
      restarted.ranges().map((r) => [s(r.start), s(r.end)]),
      [["", "/g"], ["/g", "/p"], ["/p", "_/"], ["_/", ""]],
    );
    for (const k of ["/a", "/h", "/q"]) {
      await waitFor(
        async () => s((await restarted.get(b(k)).catch(() => undefined))?.value) === k,
        10_000,
        `${k} on the restarted node`,
      );
    }
  });
});
