import assert from "node:assert/strict";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import { encodeBytes, type Timestamp } from "../../../src/base/key_encoding.ts";
import { createMemoryEngine } from "../../../src/storage/mod.ts";
import { MvccBatch, mvccGet } from "../../../src/mvcc/mod.ts";
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
