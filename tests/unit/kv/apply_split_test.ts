import assert from "node:assert/strict";
import { MAX_TIMESTAMP } from "../../../src/base/key_encoding.ts";
import { mvccGet, mvccScan } from "../../../src/mvcc/mod.ts";
import { dedupeRecordKey } from "../../../src/kv/dedupe.ts";
import { b, s } from "./_cluster.ts";
import { type Body, dump, entry, MIN, put, rangeState, TestRange, withEngines } from "./_apply.ts";

const T = 100 * MIN;

const split = (key: string, newRangeId: number, expectedGeneration: number): Body => ({
  case: "split",
  value: {
    splitKey: b(key),
    newRangeId: BigInt(newRangeId),
    expectedGeneration: BigInt(expectedGeneration),
  },
});

/** Live keys and bytes of [lo, hi) read back from the engine. */
function live(r: TestRange, lo: string, hi: string): [bigint, bigint] {
  const got = mvccScan(r.engine, { start: b(lo), end: b(hi), timestamp: MAX_TIMESTAMP });
  assert.equal(got.status, "ok");
  let bytes = 0;
  for (const row of got.status === "ok" ? got.rows : []) bytes += row.key.length + row.value.length;
  return [BigInt(got.status === "ok" ? got.rows.length : 0), BigInt(bytes)];
}

Deno.test("applySplit() shrinks the parent to [key, end) and creates [start, key) with exact stats, writes of the same batch included", async () => {
  await withEngines(1, async ([engine]) => {
    const r = new TestRange(engine, rangeState(7, "/", ""));
    await r.apply([entry(2, T, put("/a", "11")), entry(3, T, put("/x", "2222"))]);
    // One batch: writes on both sides, the split, then more writes.
    const results = await r.apply([
      entry(4, T, put("/b", "333")),
      entry(5, T, put("/y", "4")),
      entry(6, T, { case: "write", value: { ops: [{ key: b("/a"), delete: true }] } }),
      entry(7, T, split("/m", 9, 1)),
      entry(8, T, put("/z", "55555")),
    ]);
    const res = results[3];
    assert.equal(res.errorCode, "");
    const parent = r.st.descriptor!;
    assert.equal(s(parent.start), "/m");
    assert.equal(parent.end.length, 0);
    assert.equal(parent.generation, 2n);
    assert.deepEqual(res.descriptors.map((d) => Number(d.rangeId)), [7, 9]);
    assert.equal(r.created.length, 1);
    const created = r.created[0];
    assert.equal(created.parentRangeId, 7);
    const left = created.applied;
    assert.equal(s(left.descriptor!.start), "/");
    assert.equal(s(left.descriptor!.end), "/m");
    assert.equal(left.descriptor!.generation, 2n, "the parent's new generation");
    assert.deepEqual(left.descriptor!.replicas, parent.replicas);
    assert.equal(left.appliedIndex, 10n);
    assert.equal(left.appliedTerm, 5n);
    assert.equal(left.lastVersion, res.version, "the parent's last version as of the split");
    assert.deepEqual([left.stats!.liveKeys, left.stats!.liveBytes], live(r, "/", "/m"));
    assert.deepEqual([r.st.stats!.liveKeys, r.st.stats!.liveBytes], live(r, "/m", "0"));
    assert.deepEqual(live(r, "/", "/m"), [1n, 5n], "only /b=333 lives on the left");
  });
});

Deno.test("applySplit() refuses a stale generation, a key not strictly inside, and a key inside _/, writing nothing", async () => {
  await withEngines(2, async ([engine, other]) => {
    const r = new TestRange(engine, rangeState(3, "/b", "/p", 4));
    await r.apply([entry(2, T, put("/c", "1"))]);
    const before = dump(engine).filter((l) => !l.startsWith("raft_state"));
    const results = await r.apply([
      entry(3, T, split("/d", 9, 3)),
      entry(4, T, split("/b", 9, 4)),
      entry(5, T, split("/p", 9, 4)),
      entry(6, T, split("/a", 9, 4)),
      entry(7, T, split("/d", 3, 4)),
    ]);
    assert.deepEqual(results.map((x) => x.errorCode), [
      "FAILED_PRECONDITION",
      "INVALID_ARGUMENT",
      "INVALID_ARGUMENT",
      "INVALID_ARGUMENT",
      "INVALID_ARGUMENT",
    ]);
    assert.match(results[0].errorMessage, /^Cannot split range as its generation changed/);
    assert.equal(r.created.length, 0);
    assert.equal(r.st.descriptor!.generation, 4n);
    assert.deepEqual(dump(engine).filter((l) => !l.startsWith("raft_state")), before);

    const whole = new TestRange(other, rangeState(1, "", ""));
    const [inside, atSystem] = await whole.apply([
      entry(2, T, split("_/partitions/", 2, 1)),
      entry(3, T, split("_/", 2, 1)),
    ]);
    assert.equal(inside.errorCode, "INVALID_ARGUMENT");
    assert.match(inside.errorMessage, /inside the system keyspace/);
    assert.equal(atSystem.errorCode, "", "the bootstrap split at _/ itself is allowed");
    assert.equal(s(whole.st.descriptor!.start), "_/");
    assert.equal(s(whole.created[0].applied.descriptor!.end), "_/");
  });
});

Deno.test("applyEntries() refuses a write for a key the split moved to the new range: RANGE_MOVED, nothing written, no dedupe record", async () => {
  await withEngines(1, async ([engine]) => {
    const r = new TestRange(engine, rangeState(7, "/", ""));
    const results = await r.apply([
      entry(2, T, split("/m", 9, 1)),
      // Proposed to the parent before the split, applied after it.
      entry(3, T, put("/c", "late"), "req-late"),
      entry(4, T, { case: "compareAndSwap", value: { key: b("/d"), expectAbsent: true } }),
      entry(5, T, put("/q", "fine"), "req-ok"),
    ]);
    assert.equal(results[1].errorCode, "RANGE_MOVED");
    assert.match(
      results[1].errorMessage,
      /^Cannot apply the command as its key is outside the range/,
    );
    assert.equal(results[2].errorCode, "RANGE_MOVED");
    assert.equal(results[3].errorCode, "");
    assert.equal(mvccGet(engine, b("/c"), MAX_TIMESTAMP).status, "absent");
    assert.equal(engine.get("dedupe", dedupeRecordKey(b("/c"), "req-late")), undefined);
    assert.notEqual(engine.get("dedupe", dedupeRecordKey(b("/q"), "req-ok")), undefined);
    assert.equal(r.st.stats!.liveKeys, 1n, "only /q counts");
  });
});
