import assert from "node:assert/strict";
import fc from "fast-check";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import {
  compareBytes,
  compareTimestamps,
  encodeBytes,
  type Timestamp,
} from "../../../src/base/key_encoding.ts";
import {
  checkNewest,
  demoteNewest,
  encodeNewest,
  encodeOlder,
  entryIsTombstone,
  entryTimestamp,
  entryValue,
  isNewest,
  userKeyOf,
  versionKeyFromPrefix,
  versionPrefixEnd,
} from "../../../src/mvcc/mvcc_key.ts";

const key = fc.array(fc.constantFrom(0x00, 0x01, 0x2f, 0x61, 0xff), { maxLength: 6 })
  .map((a) => new Uint8Array(a));
const timestamp: fc.Arbitrary<Timestamp> = fc.record({
  wallMs: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  logical: fc.integer({ min: 0, max: 0xffff }),
}).map(({ wallMs, logical }) => ({ wallMs, logical }));
/** A version's key; undefined timestamp stands for the newest record under the bare prefix. */
const entry = fc.tuple(key, fc.option(timestamp, { nil: undefined }));

function entryKey([k, ts]: [Uint8Array, Timestamp | undefined]): Uint8Array {
  const prefix = encodeBytes(k);
  return ts === undefined ? prefix : versionKeyFromPrefix(prefix, ts);
}

Deno.test("version keys order by user key, then the newest record, then newest first", () => {
  fc.assert(
    fc.property(entry, entry, (a, b) => {
      let expected = Math.sign(compareBytes(a[0], b[0]));
      if (expected === 0) {
        if (a[1] === undefined || b[1] === undefined) {
          expected = (a[1] === undefined ? 0 : 1) - (b[1] === undefined ? 0 : 1);
        } else expected = Math.sign(compareTimestamps(b[1], a[1]));
      }
      assert.equal(Math.sign(compareBytes(entryKey(a), entryKey(b))), expected);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("versionPrefixEnd() bounds exactly the entries of one key", () => {
  fc.assert(
    fc.property(key, entry, (owner, other) => {
      const prefix = encodeBytes(owner);
      const k = entryKey(other);
      const inside = compareBytes(prefix, k) <= 0 && compareBytes(k, versionPrefixEnd(prefix)) < 0;
      assert.equal(inside, compareBytes(owner, other[0]) === 0);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("newest and older records decode to their key, timestamp and value", () => {
  fc.assert(
    fc.property(key, timestamp, fc.option(fc.uint8Array({ maxLength: 4 })), (k, ts, v) => {
      const value = v ?? undefined;
      const prefix = encodeBytes(k);
      const newest = encodeNewest(ts, value);
      assert.equal(isNewest(prefix, newest), true);
      assert.deepEqual(userKeyOf(prefix, prefix.length), k);
      assert.deepEqual(entryTimestamp(prefix, newest, true), ts);
      assert.equal(entryIsTombstone(newest), value === undefined);
      if (value !== undefined) assert.deepEqual(entryValue(newest, true), value);
      const older = demoteNewest(prefix, newest);
      assert.deepEqual(older, { key: versionKeyFromPrefix(prefix, ts), value: encodeOlder(value) });
      assert.equal(isNewest(older.key, older.value), false);
      assert.deepEqual(userKeyOf(older.key, prefix.length), k);
      assert.deepEqual(entryTimestamp(older.key, older.value, false), ts);
      if (value !== undefined) assert.deepEqual(entryValue(older.value, false), value);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("isNewest() and checkNewest() refuse malformed records", () => {
  const prefix = encodeBytes(new Uint8Array([0x2f]));
  const older = versionKeyFromPrefix(prefix, { wallMs: 1, logical: 0 });
  for (
    const [k, bad] of [[prefix, [7]], [prefix, [3, 0]], [prefix, [2, ...new Array(9)]], [
      older,
      [0, 1],
    ], [prefix, [1, 5]]] as const
  ) {
    assert.throws(
      () => isNewest(k, new Uint8Array(bad)),
      (e) => isRangeDbError(e, ErrorCode.CORRUPTION),
      `${bad}`,
    );
  }
  assert.throws(
    () => checkNewest(older, encodeOlder(new Uint8Array([1]))),
    (e) => isRangeDbError(e, ErrorCode.CORRUPTION),
  );
});
