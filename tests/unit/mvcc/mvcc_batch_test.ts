import assert from "node:assert/strict";
import fc from "fast-check";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import {
  encodeBytes,
  MAX_TIMESTAMP as MAX,
  type Timestamp,
} from "../../../src/base/key_encoding.ts";
import { createMemoryEngine } from "../../../src/storage/mod.ts";
import { MvccBatch, mvccGet, mvccScan } from "../../../src/mvcc/mod.ts";
import { encodeOlder } from "../../../src/mvcc/mvcc_key.ts";

const enc = new TextEncoder();
const ts = (wallMs: number): Timestamp => ({ wallMs, logical: 0 });

function versionsOf(engine: ReturnType<typeof createMemoryEngine>): number[] {
  const out: number[] = [];
  for (let t = 0; t <= 10; t++) {
    const r = mvccGet(engine, enc.encode("/k"), ts(t));
    out.push(r.status === "found" ? r.value[0] : -1);
  }
  return out;
}

Deno.test("MvccBatch writes of one key in one batch see each other, in any timestamp order", async () => {
  const engine = createMemoryEngine();
  const batch = engine.batch();
  const mvcc = new MvccBatch(engine, batch);
  const key = enc.encode("/k");
  mvcc.put(key, new Uint8Array([5]), ts(5));
  mvcc.put(key, new Uint8Array([2]), ts(2));
  mvcc.put(key, new Uint8Array([8]), ts(8));
  mvcc.delete(key, ts(9));
  mvcc.put(key, new Uint8Array([6]), ts(5));
  await engine.write(batch);
  assert.deepEqual(versionsOf(engine), [-1, -1, 2, 2, 2, 6, 6, 6, 8, -1, -1]);
  // One entry per version: the newest under the bare prefix, four older ones.
  assert.equal(engine.stats().keyspaces.data.entries, 4);
});

Deno.test("MvccBatch continues the versions that earlier batches wrote", async () => {
  const engine = createMemoryEngine();
  const key = enc.encode("/k");
  for (const t of [4, 9, 1, 7]) {
    const batch = engine.batch();
    new MvccBatch(engine, batch).put(key, new Uint8Array([t]), ts(t));
    await engine.write(batch);
  }
  assert.deepEqual(versionsOf(engine), [-1, 1, 1, 1, 4, 4, 4, 7, 7, 9, 9]);
});

Deno.test("MvccBatch.addAll() adds nothing when one write is invalid", () => {
  const engine = createMemoryEngine();
  const batch = engine.batch();
  assert.throws(
    () =>
      new MvccBatch(engine, batch).addAll([
        { type: "put", key: enc.encode("/a"), value: new Uint8Array(), timestamp: ts(1) },
        { type: "delete", key: enc.encode("nope"), timestamp: ts(1) },
      ]),
    (e) => isRangeDbError(e, ErrorCode.INVALID_ARGUMENT),
  );
  assert.equal(batch.count, 0);
});

Deno.test("MvccBatch refuses to build on a bare prefix that holds an older version", async () => {
  const engine = createMemoryEngine();
  const corrupt = engine.batch();
  corrupt.put("data", encodeBytes(enc.encode("/k")), encodeOlder(new Uint8Array([1])));
  await engine.write(corrupt);
  const batch = engine.batch();
  assert.throws(
    () => new MvccBatch(engine, batch).put(enc.encode("/k"), new Uint8Array(), ts(1)),
    (e) => isRangeDbError(e, ErrorCode.CORRUPTION),
  );
  assert.equal(batch.count, 0);
});

/** Live keys and bytes (user key + value) of the user keys in [lo, hi), read back from `engine`. */
function countLive(engine: ReturnType<typeof createMemoryEngine>, lo: string, hi: string) {
  const r = mvccScan(engine, { start: enc.encode(lo), end: enc.encode(hi), timestamp: MAX });
  assert.equal(r.status, "ok");
  let bytes = 0;
  for (const row of r.status === "ok" ? r.rows : []) bytes += row.key.length + row.value.length;
  return { keys: r.status === "ok" ? r.rows.length : 0, bytes };
}

Deno.test("MvccBatch.liveDelta and liveStats() count live keys and bytes exactly, pending writes included", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.array(
          fc.record({
            key: fc.constantFrom("/a", "/b", "/b\u0000x", "/c", "/d"),
            value: fc.option(fc.uint8Array({ maxLength: 4 }), { nil: undefined }),
            wallMs: fc.integer({ min: 1, max: 6 }),
          }),
          { maxLength: 6 },
        ),
        { maxLength: 5 },
      ),
      (batches) => {
        const engine = createMemoryEngine();
        let keys = 0;
        let bytes = 0;
        for (const writes of batches) {
          const batch = engine.batch();
          const mvcc = new MvccBatch(engine, batch);
          for (const w of writes) {
            const key = enc.encode(w.key);
            if (w.value === undefined) mvcc.delete(key, ts(w.wallMs));
            else mvcc.put(key, w.value, ts(w.wallMs));
          }
          const pendingAll = mvcc.liveStats(new Uint8Array(), new Uint8Array());
          const pendingPart = mvcc.liveStats(enc.encode("/b"), enc.encode("/c"));
          keys += mvcc.liveDelta.keys;
          bytes += mvcc.liveDelta.bytes;
          // The memory engine applies a batch synchronously.
          void engine.write(batch);
          assert.deepEqual(countLive(engine, "/", "0"), { keys, bytes });
          assert.deepEqual(pendingAll, { keys, bytes });
          assert.deepEqual(pendingPart, countLive(engine, "/b", "/c"));
        }
      },
    ),
    { numRuns: 200 },
  );
});
