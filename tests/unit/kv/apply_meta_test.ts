import assert from "node:assert/strict";
import { MAX_TIMESTAMP } from "../../../src/base/key_encoding.ts";
import { mvccGet, mvccScan } from "../../../src/mvcc/mod.ts";
import { decodeDescriptor, newDescriptor, type RangeDescriptor } from "../../../src/kv/command.ts";
import { endOfPartitionByEndKey, systemKeys } from "../../../src/kv/keys.ts";
import type { Engine } from "../../../src/storage/mod.ts";
import { b, s } from "./_cluster.ts";
import { type Body, entry, MIN, rangeState, TestRange, withEngines } from "./_apply.ts";

const T = 100 * MIN;

const desc = (id: number, start: string, end: string, generation: number) =>
  newDescriptor({ rangeId: id, start: b(start), end: b(end), generation, voters: [1, 2, 3] });

const update = (descriptors: RangeDescriptor[], removed: RangeDescriptor[] = []): Body => ({
  case: "updateMeta",
  value: { descriptors, removed },
});

function stored(engine: Engine, key: Uint8Array): RangeDescriptor | undefined {
  const r = mvccGet(engine, key, MAX_TIMESTAMP);
  return r.status === "found" ? decodeDescriptor(r.value) : undefined;
}

/** The by-end index as "end → range id@generation" lines. */
function byEnd(engine: Engine): string[] {
  const r = mvccScan(engine, { ...systemKeys.partitionsByEndSpan(), timestamp: MAX_TIMESTAMP });
  assert.equal(r.status, "ok");
  return (r.status === "ok" ? r.rows : []).map((row) => {
    const d = decodeDescriptor(row.value);
    const end = endOfPartitionByEndKey(row.key);
    return `${end.length === 0 ? "<last>" : s(end)} → ${d.rangeId}@${d.generation}`;
  });
}

Deno.test("applyAllocateRangeId() hands out 2, 3, … on range 1 and is refused elsewhere", async () => {
  await withEngines(1, async ([engine]) => {
    const r1 = new TestRange(engine, rangeState(1, "", ""));
    const alloc: Body = { case: "allocateRangeId", value: {} };
    const [a, c] = await r1.apply([entry(2, T, alloc), entry(3, T, alloc)]);
    assert.deepEqual([a.rangeId, c.rangeId], [2n, 3n]);
    assert.equal(r1.st.nextRangeId, 4n);
    const other = new TestRange(engine, rangeState(5, "/a", "/b"));
    const [refused, meta] = await other.apply([
      entry(2, T, alloc),
      entry(3, T, update([desc(5, "/a", "/b", 2)])),
    ]);
    assert.equal(refused.errorCode, "FAILED_PRECONDITION");
    assert.match(refused.errorMessage, /not range 1: range is 5$/);
    assert.equal(meta.errorCode, "FAILED_PRECONDITION");
  });
});

Deno.test("applyUpdateMeta() replaces a record only by a higher generation and keeps the by-end index pointing at the right range", async () => {
  await withEngines(1, async ([engine]) => {
    const r1 = new TestRange(engine, rangeState(1, "", ""));
    await r1.apply([
      // The bootstrap split: range 2 = ["", "_/"), range 1 = ["_/", "").
      entry(2, T, update([desc(1, "_/", "", 2), desc(2, "", "_/", 2)])),
    ]);
    assert.deepEqual(byEnd(engine), ["_/ → 2@2", "<last> → 1@2"]);
    // Range 2 splits at /m: range 3 = ["", "/m"), range 2 = ["/m", "_/").
    await r1.apply([entry(3, T, update([desc(2, "/m", "_/", 3), desc(3, "", "/m", 3)]))]);
    assert.deepEqual(byEnd(engine), ["/m → 3@3", "_/ → 2@3", "<last> → 1@2"]);
    // A late, older update changes nothing.
    await r1.apply([entry(4, T, update([desc(2, "", "_/", 2)]))]);
    assert.equal(stored(engine, systemKeys.partition(2))?.generation, 3n);
    assert.equal(stored(engine, systemKeys.raftGroup(2))?.generation, 3n);
    assert.deepEqual(byEnd(engine), ["/m → 3@3", "_/ → 2@3", "<last> → 1@2"]);
    // Range 2 absorbs range 3: its record grows, range 3's go, and so does by-end /m.
    await r1.apply([entry(5, T, update([desc(2, "", "_/", 4)], [desc(3, "", "/m", 3)]))]);
    assert.equal(stored(engine, systemKeys.partition(3)), undefined);
    assert.equal(stored(engine, systemKeys.raftGroup(3)), undefined);
    assert.deepEqual(byEnd(engine), ["_/ → 2@4", "<last> → 1@2"]);
    // A late update of the merged range (the split's, delayed) does not bring it back.
    await r1.apply([entry(6, T, update([desc(3, "", "/m", 3)]))]);
    assert.equal(stored(engine, systemKeys.partition(3)), undefined);
    assert.deepEqual(byEnd(engine), ["_/ → 2@4", "<last> → 1@2"]);
    // Nor does one of a range removed before its record was ever written.
    await r1.apply([entry(7, T, update([], [desc(9, "/x", "/y", 4)]))]);
    await r1.apply([entry(8, T, update([desc(9, "/x", "/y", 4)]))]);
    assert.equal(stored(engine, systemKeys.partition(9)), undefined);
    // A removal at a lower generation than the record keeps it.
    await r1.apply([entry(9, T, update([], [desc(2, "", "_/", 3)]))]);
    assert.equal(stored(engine, systemKeys.partition(2))?.generation, 4n);
    // A range whose end moves (merge of its right neighbour, here by hand) drops its old entry.
    await r1.apply([entry(10, T, update([desc(2, "", "_/zz", 5)]))]);
    assert.deepEqual(byEnd(engine), ["_/zz → 2@5", "<last> → 1@2"]);
  });
});

Deno.test("applyBootstrap() writes range 1's descriptor records, by-end included", async () => {
  await withEngines(1, async ([engine]) => {
    const r1 = new TestRange(engine, rangeState(1, "", ""));
    const [res] = await r1.apply([
      entry(2, T, {
        case: "bootstrap",
        value: { descriptor: r1.st.descriptor, systemWrites: [] },
      }),
    ]);
    assert.equal(res.succeeded, true);
    assert.deepEqual(byEnd(engine), ["<last> → 1@1"]);
    assert.equal(stored(engine, systemKeys.partition(1))?.rangeId, 1n);
    // Everything in the range's span counts, system keys too.
    assert.equal(r1.st.stats!.liveKeys, 3n);
  });
});
