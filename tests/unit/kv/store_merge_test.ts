import assert from "node:assert/strict";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import { raftLogSpan, raftStateKey, RaftStateKind } from "../../../src/kv/keys.ts";
import { MessageType } from "../../../src/raft/mod.ts";
import { b, s, TestCluster, waitFor } from "./_cluster.ts";
import {
  bootstrapSplit,
  descriptorOf,
  mergeAt,
  mergeFrozen,
  propose,
  splitAt,
  subsume,
  updateMeta,
  waitForLeaderOf,
} from "./_ranges.ts";

function put(c: TestCluster, key: string, value: string, requestId: string = crypto.randomUUID()) {
  return c.onRangeLeader(b(key), (st) => st.put(b(key), b(value), { requestId }));
}

/** A cluster with range 3 = ["", "/m") and range 2 = ["/m", "_/"), keys /a, /c, /n, /x. */
async function twoUserRanges(c: TestCluster) {
  await c.startAll();
  await c.waitForLeader();
  await bootstrapSplit(c);
  for (const k of ["/a", "/c", "/n", "/x"]) await put(c, k, `v${k}`);
  await splitAt(c, b("/m"));
  await waitFor(
    () => [...c.stores.values()].every((st) => st.replicas.get(3)?.descriptor !== undefined),
    10_000,
    "range 3 on every store",
  );
}

Deno.test("Store merges a range: the frozen range serves nothing, its replica is destroyed everywhere with a tombstone, and the merged span serves", async () => {
  const c = await TestCluster.create(3);
  try {
    await twoUserRanges(c);
    const first = await put(c, "/c", "dedupe-me", "req-before-merge");
    const frozen = await subsume(c, b("/a"));
    // Frozen: no read (linearizable or not) and no write is served by range 3.
    for (const st of c.stores.values()) {
      for (const serializable of [false, true]) {
        await assert.rejects(
          () => st.get(b("/a"), { serializable, deadline: Date.now() + 200 }),
          (e) => isRangeDbError(e, ErrorCode.RANGE_MOVED),
        );
      }
    }
    const leader3 = await waitForLeaderOf(c, b("/a"));
    await assert.rejects(
      () => leader3.put(b("/a"), b("no"), { deadline: Date.now() + 200 }),
      (e) => isRangeDbError(e, ErrorCode.RANGE_MOVED),
    );
    const merged = await mergeFrozen(c, frozen);
    assert.equal(merged.errorCode, "", merged.errorMessage);
    await updateMeta(c, merged.descriptors, frozen.descriptors);
    await waitFor(
      () =>
        [...c.stores.values()].every((st) =>
          !st.replicas.has(3) && s(st.replicas.get(2)?.descriptor?.start) === ""
        ),
      10_000,
      "range 3 gone and range 2 = ['', '_/') on every store",
    );
    for (const [id, st] of c.stores) {
      const engine = c.engines.get(id)!;
      assert.equal(st.rangeSet.tombstones.get(3), 2);
      assert.notEqual(
        engine.get("raft_state", raftStateKey(3, RaftStateKind.Tombstone)),
        undefined,
      );
      assert.equal(
        engine.get("raft_state", raftStateKey(3, RaftStateKind.AppliedState)),
        undefined,
      );
      assert.equal([...engine.scan("raft_log", raftLogSpan(3))].length, 0, "its log is gone");
      // A late message for range 3 does not bring it back.
      st.receive(id === 1 ? 2 : 1, [{
        rangeId: 3,
        message: {
          type: MessageType.Heartbeat,
          to: id,
          from: id === 1 ? 2 : 1,
          term: 99,
          logTerm: 0,
          index: 0,
          entries: [],
          commit: 0,
          reject: false,
          rejectHint: 0,
          context: new Uint8Array(),
        },
      }]);
      assert.equal(st.replicas.has(3), false);
      await assert.rejects(
        () => st.waitApplied(3, 1),
        (e) => isRangeDbError(e, ErrorCode.RANGE_NOT_FOUND) && e.details?.mergedIntoRangeId === 2,
      );
      // The merged span reads on every store.
      assert.equal(s((await st.get(b("/a")))?.value), "v/a");
      assert.equal(st.lookupRange(b("/a")).rangeId, 2);
    }
    await put(c, "/b", "after-merge");
    // A retry of a write range 3 applied is answered from its record, which moved to range 2.
    const retried = await put(c, "/c", "twice", "req-before-merge");
    assert.equal(retried.version, first.version);
    const leader = await waitForLeaderOf(c, b("/a"));
    assert.equal(s((await leader.get(b("/c")))?.value), "dedupe-me");
    const ranges = await leader.listRanges();
    assert.deepEqual(ranges.map((r) => [r.rangeId, s(r.start), s(r.end)]), [
      [2, "", "_/"],
      [1, "_/", ""],
    ]);
    assert.equal(ranges[0].liveKeys, 5);
  } finally {
    await c.close();
  }
});

Deno.test("Store aborts a merge: before it applied the subsumed range is unfrozen and serves again; after, the abort says it applied", async () => {
  const c = await TestCluster.create(3);
  try {
    await twoUserRanges(c);
    const frozen = await subsume(c, b("/a"));
    // The generation a coordinator's Merge carries, proposed while the abort runs.
    const generation = descriptorOf(await waitForLeaderOf(c, b("/m")), b("/m")).generation;
    const aborted = await propose(c, b("/m"), {
      case: "abortMerge",
      value: { subsumedRangeId: 3n },
    });
    assert.equal(aborted.succeeded, true, "the merge had not applied");
    const late = await mergeFrozen(c, frozen, generation);
    assert.equal(late.errorCode, "FAILED_PRECONDITION", "the merge cannot apply after the abort");
    const unfrozen = await propose(c, b("/a"), { case: "unfreeze", value: { intoRangeId: 2n } });
    assert.equal(unfrozen.succeeded, true);
    await put(c, "/a", "serves again");
    for (const st of c.stores.values()) assert.equal(st.replicas.has(3), true);

    await mergeAt(c, b("/a"));
    const after = await propose(c, b("/m"), {
      case: "abortMerge",
      value: { subsumedRangeId: 3n },
    });
    assert.equal(after.succeeded, false, "the merge applied first");
  } finally {
    await c.close();
  }
});
