import assert from "node:assert/strict";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import {
  ConfChangeTransition,
  ConfChangeType,
  encodeConfChange,
  EntryType,
  type RawNode,
} from "../../../src/raft/mod.ts";
import {
  copyAppliedState,
  encodeProposalId,
  newStats,
  type RangeAppliedState,
} from "../../../src/kv/command.ts";
import { b, s } from "./_cluster.ts";
import { type Body, entry, MIN, put, rangeState, TestRange, withEngines } from "./_apply.ts";

const T = 100 * MIN;

const subsume = (into: number, gen: number): Body => ({
  case: "subsume",
  value: { intoRangeId: BigInt(into), expectedGeneration: BigInt(gen) },
});
const unfreeze = (into: number): Body => ({
  case: "unfreeze",
  value: { intoRangeId: BigInt(into) },
});
const abort = (sub: number): Body => ({
  case: "abortMerge",
  value: { subsumedRangeId: BigInt(sub) },
});

function merge(sub: RangeAppliedState, frozenAt: bigint, gen: number): Body {
  return {
    case: "merge",
    value: {
      subsumed: sub.descriptor,
      subsumedAppliedIndex: frozenAt,
      subsumedLastVersion: sub.lastVersion,
      subsumedStats: sub.stats,
      expectedGeneration: BigInt(gen),
    },
  };
}

Deno.test("applySubsume() freezes the range: every later command but Unfreeze is refused with RANGE_MOVED, conf changes included", async () => {
  await withEngines(1, async ([engine]) => {
    let confChanges = 0;
    const raw = {
      applyConfChange() {
        confChanges++;
        return { voters: [1, 2], learners: [], votersOutgoing: [], learnersNext: [] };
      },
    } as unknown as RawNode;
    const n = new TestRange(engine, rangeState(4, "/a", "/m", 3), raw);
    await n.apply([entry(2, T, put("/b", "1"))]);
    const cc = encodeConfChange({
      transition: ConfChangeTransition.Auto,
      changes: [{ type: ConfChangeType.RemoveNode, nodeId: 3 }],
      context: encodeProposalId(1, 99),
    });
    const [frozen, write, , conf] = await n.apply([
      entry(3, T, subsume(5, 3)),
      entry(4, T, put("/c", "2")),
      entry(5, T, subsume(5, 3)),
      { index: 6, term: 2, type: EntryType.ConfChange, data: cc },
    ]);
    assert.equal(frozen.errorCode, "");
    assert.equal(frozen.appliedIndex, 3n, "the freeze index");
    assert.equal(frozen.stats!.liveKeys, 1n);
    assert.equal(frozen.lastVersion, frozen.version);
    assert.equal(n.st.frozenIntoRangeId, 5n);
    assert.equal(write.errorCode, "RANGE_MOVED");
    assert.match(write.errorMessage, /frozen for a merge/);
    assert.equal(conf.errorCode, "RANGE_MOVED");
    assert.equal(confChanges, 0, "Raft never sees the refused change");
    assert.equal(n.st.descriptor!.replicas.length, 3);
    assert.equal(n.st.appliedIndex, 6n);
    const [other, un, after] = await n.apply([
      entry(7, T, unfreeze(6)),
      entry(8, T, unfreeze(5)),
      entry(9, T, put("/c", "3")),
    ]);
    assert.equal(other.succeeded, false, "a freeze into another range stays");
    assert.equal(un.succeeded, true);
    assert.equal(after.errorCode, "");
    assert.equal(n.st.frozenIntoRangeId, 0n);
  });
});

Deno.test("applyMerge() extends the right neighbour over the frozen range, adds its stats and reports it destroyed", async () => {
  await withEngines(2, async ([one, two]) => {
    const n = new TestRange(one, rangeState(4, "/a", "/m", 3));
    await n.apply([
      entry(2, T + 5000, put("/b", "1")),
      entry(3, T + 5000, put("/c", "22")),
      entry(4, T + 5000, subsume(5, 3)),
    ]);
    const r = new TestRange(two, rangeState(5, "/m", "/z", 7));
    await r.apply([entry(2, T, put("/n", "333"))]);
    r.local.set(4, copyAppliedState(n.st));
    const [res] = await r.apply([entry(3, T, merge(n.st, 4n, 7))]);
    assert.equal(res.errorCode, "");
    assert.equal(s(r.st.descriptor!.start), "/a");
    assert.equal(s(r.st.descriptor!.end), "/z");
    assert.equal(r.st.descriptor!.generation, 8n);
    assert.deepEqual([r.st.stats!.liveKeys, r.st.stats!.liveBytes], [3n, 12n]);
    assert.ok(r.st.lastVersion >= n.st.lastVersion, "the larger last version");
    assert.deepEqual(r.destroyed, [[4, 5]]);
    assert.deepEqual(res.descriptors.map((d) => Number(d.rangeId)), [5]);
    const [aborted] = await r.apply([entry(4, T, abort(4))]);
    assert.equal(aborted.succeeded, false, "the merge applied before the abort");
    assert.equal(r.st.descriptor!.generation, 9n);
  });
});

Deno.test("applyMerge() refuses a stale generation, a non-neighbour, other replicas and a merge across _/", async () => {
  await withEngines(1, async ([engine]) => {
    const sub = rangeState(4, "/a", "/m", 3);
    sub.frozenIntoRangeId = 5n;
    sub.stats = newStats(0n, 0n);
    const r = new TestRange(engine, rangeState(5, "/m", "/z", 7));
    r.local.set(4, sub);
    const gap = copyAppliedState(sub);
    gap.descriptor!.end = b("/l");
    const others = copyAppliedState(sub);
    others.descriptor!.replicas.pop();
    const results = await r.apply([
      entry(2, T, merge(sub, 1n, 6)),
      entry(3, T, merge(gap, 1n, 7)),
      entry(4, T, merge(others, 1n, 7)),
    ]);
    assert.deepEqual(results.map((x) => x.errorCode), Array(3).fill("FAILED_PRECONDITION"));
    assert.match(results[0].errorMessage, /generation changed/);
    assert.match(results[1].errorMessage, /not the left neighbour/);
    assert.match(results[2].errorMessage, /replicas differ/);
    assert.equal(r.st.descriptor!.generation, 7n);
    assert.equal(r.destroyed.length, 0);

    const system = new TestRange(engine, rangeState(1, "_/", ""));
    const user = rangeState(2, "", "_/");
    user.frozenIntoRangeId = 1n;
    system.local.set(2, user);
    const [across] = await system.apply([entry(2, T, merge(user, 1n, 1))]);
    assert.equal(across.errorCode, "FAILED_PRECONDITION");
    assert.match(across.errorMessage, /user and system keys/);
  });
});

Deno.test("applyMerge() fails loudly when this node's subsumed replica has not applied its freeze", async () => {
  await withEngines(1, async ([engine]) => {
    const sub = rangeState(4, "/a", "/m", 3);
    const r = new TestRange(engine, rangeState(5, "/m", "/z", 7));
    // Not frozen here.
    r.local.set(4, sub);
    await assert.rejects(
      () => r.apply([entry(2, T, merge(sub, 1n, 7))]),
      (e) => isRangeDbError(e, ErrorCode.INTERNAL) && /has not applied its freeze/.test(e.message),
    );
    // Frozen, but behind the freeze index.
    const behind = copyAppliedState(sub);
    behind.frozenIntoRangeId = 5n;
    r.local.set(4, behind);
    await assert.rejects(
      () => r.apply([entry(2, T, merge(sub, 9n, 7))]),
      (e) => isRangeDbError(e, ErrorCode.INTERNAL),
    );
    r.local.clear();
    await assert.rejects(
      () => r.apply([entry(2, T, merge(sub, 1n, 7))]),
      (e) => isRangeDbError(e, ErrorCode.INTERNAL),
    );
  });
});

Deno.test("applyMerge() applies without the subsumed replica when this node destroyed it as merged into this range", async () => {
  await withEngines(2, async ([one, two]) => {
    const sub = rangeState(4, "/a", "/m", 3);
    sub.frozenIntoRangeId = 5n;
    sub.stats = newStats(2n, 10n);
    // The merged-replica collector destroyed range 4 here, as merged into range 6: not this one.
    const other = new TestRange(one, rangeState(5, "/m", "/z", 7));
    other.tombstones.set(4, 6);
    await assert.rejects(
      () => other.apply([entry(2, T, merge(sub, 1n, 7))]),
      (e) => isRangeDbError(e, ErrorCode.INTERNAL),
    );
    // As merged into this range: the merge applies as on every other node, nothing to destroy.
    const r = new TestRange(two, rangeState(5, "/m", "/z", 7));
    r.tombstones.set(4, 5);
    const [res] = await r.apply([entry(2, T, merge(sub, 1n, 7))]);
    assert.equal(res.errorCode, "");
    assert.equal(s(r.st.descriptor!.start), "/a");
    assert.equal(r.st.descriptor!.generation, 8n);
    assert.deepEqual([r.st.stats!.liveKeys, r.st.stats!.liveBytes], [2n, 10n]);
    assert.deepEqual(r.destroyed, []);
  });
});

Deno.test("applyAbortMerge() before the merge bumps the generation so that the merge can no longer apply", async () => {
  await withEngines(1, async ([engine]) => {
    const sub = rangeState(4, "/a", "/m", 3);
    sub.frozenIntoRangeId = 5n;
    const r = new TestRange(engine, rangeState(5, "/m", "/z", 7));
    r.local.set(4, sub);
    const [aborted, late] = await r.apply([
      entry(2, T, abort(4)),
      entry(3, T, merge(sub, 1n, 7)),
    ]);
    assert.equal(aborted.succeeded, true, "the merge had not applied");
    assert.equal(late.errorCode, "FAILED_PRECONDITION");
    assert.equal(s(r.st.descriptor!.start), "/m");
    assert.equal(r.destroyed.length, 0);
  });
});
