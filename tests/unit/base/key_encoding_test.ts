import assert from "node:assert/strict";
import fc from "fast-check";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import {
  compareBytes,
  compareTimestampAt,
  compareTimestampDescAt,
  compareTimestamps,
  decodeBytes,
  decodeUintTuple,
  encodeBytes,
  encodedBytesLength,
  encodeUintTuple,
  MAX_TIMESTAMP,
  readTimestamp,
  readTimestampDesc,
  readUint64,
  type Timestamp,
  validateTimestamp,
  writeTimestamp,
  writeTimestampDesc,
  writeUint64,
} from "../../../src/base/key_encoding.ts";

const sign = (n: number) => Math.sign(n);
const bytes = fc.uint8Array({ maxLength: 12 });
/** Bytes biased towards 0x00, 0x01 and 0xFF, the values the escaping is about. */
const trickyBytes = fc.array(fc.constantFrom(0x00, 0x01, 0x02, 0xfe, 0xff), { maxLength: 8 })
  .map((a) => new Uint8Array(a));
const anyBytes = fc.oneof(bytes, trickyBytes);
const timestamp: fc.Arbitrary<Timestamp> = fc.record({
  wallMs: fc.oneof(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.constantFrom(0, 2 ** 48 - 1)),
  logical: fc.integer({ min: 0, max: 0xffff }),
}).map(({ wallMs, logical }) => ({ wallMs, logical }));
const safeUint = fc.oneof(
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.constantFrom(0, 1, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER),
);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

Deno.test("encodeBytes() escapes 0x00 and terminates with 0x00 0x01", () => {
  assert.deepEqual(encodeBytes(new Uint8Array([])), new Uint8Array([0, 1]));
  assert.deepEqual(
    encodeBytes(new Uint8Array([0x61, 0x00, 0x62])),
    new Uint8Array([0x61, 0x00, 0xff, 0x62, 0x00, 0x01]),
  );
  assert.equal(encodedBytesLength(new Uint8Array([0, 0, 5])), 7);
});

Deno.test("encodeBytes() followed by any suffix orders as the raw bytes", () => {
  fc.assert(
    fc.property(anyBytes, anyBytes, anyBytes, anyBytes, (a, b, sa, sb) => {
      const expected = sign(compareBytes(a, b));
      const actual = sign(compareBytes(concat(encodeBytes(a), sa), concat(encodeBytes(b), sb)));
      if (expected !== 0) assert.equal(actual, expected);
      else assert.equal(actual, sign(compareBytes(sa, sb)));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("decodeBytes() inverts encodeBytes() and reports the end offset", () => {
  fc.assert(
    fc.property(anyBytes, anyBytes, anyBytes, (prefix, x, suffix) => {
      const encoded = concat(prefix, encodeBytes(x), suffix);
      const decoded = decodeBytes(encoded, prefix.length);
      assert.deepEqual(decoded.value, x);
      assert.equal(decoded.end, encoded.length - suffix.length);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("decodeBytes() refuses malformed escapes and missing terminators", () => {
  for (const bad of [[0x61], [0x61, 0x00], [0x00, 0x05, 0x00, 0x01]]) {
    assert.throws(
      () => decodeBytes(new Uint8Array(bad)),
      (e) => isRangeDbError(e, ErrorCode.CORRUPTION),
    );
  }
});

Deno.test("writeUint64() orders as the integers and round-trips", () => {
  fc.assert(
    fc.property(safeUint, safeUint, (a, b) => {
      const ea = new Uint8Array(8);
      const eb = new Uint8Array(8);
      writeUint64(ea, 0, a);
      writeUint64(eb, 0, b);
      assert.equal(sign(compareBytes(ea, eb)), sign(a - b));
      assert.equal(readUint64(ea, 0), a);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("writeUint64() refuses negative, fractional and unsafe integers", () => {
  for (const bad of [-1, 0.5, 2 ** 53, NaN]) {
    assert.throws(
      () => writeUint64(new Uint8Array(8), 0, bad),
      (e) => isRangeDbError(e, ErrorCode.INVALID_ARGUMENT),
    );
  }
});

Deno.test("readUint64() refuses values past 2^53 - 1", () => {
  assert.throws(
    () => readUint64(new Uint8Array(8).fill(0xff), 0),
    (e) => isRangeDbError(e, ErrorCode.CORRUPTION),
  );
});

Deno.test("writeTimestamp() encodes the 64-bit value wallMs << 16 | logical big-endian", () => {
  const out = new Uint8Array(8);
  writeTimestamp(out, 0, { wallMs: 0x0102_0304_0506, logical: 0x0708 });
  assert.deepEqual(out, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  writeTimestamp(out, 0, MAX_TIMESTAMP);
  assert.deepEqual(out, new Uint8Array(8).fill(0xff));
});

Deno.test("writeTimestamp() and writeTimestampDesc() order as the timestamps and round-trip", () => {
  fc.assert(
    fc.property(timestamp, timestamp, (a, b) => {
      const ea = new Uint8Array(8);
      const eb = new Uint8Array(8);
      writeTimestamp(ea, 0, a);
      writeTimestamp(eb, 0, b);
      const expected = sign(compareTimestamps(a, b));
      assert.equal(sign(compareBytes(ea, eb)), expected);
      assert.deepEqual(readTimestamp(ea, 0), a);
      assert.equal(sign(compareTimestampAt(ea, 0, b)), expected);
      writeTimestampDesc(ea, 0, a);
      writeTimestampDesc(eb, 0, b);
      assert.equal(sign(compareBytes(eb, ea)), expected);
      assert.deepEqual(readTimestampDesc(ea, 0), a);
      assert.equal(sign(compareTimestampDescAt(ea, 0, b)), expected);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("validateTimestamp() refuses fields out of range", () => {
  validateTimestamp(MAX_TIMESTAMP);
  for (
    const bad of [{ wallMs: -1, logical: 0 }, { wallMs: 2 ** 48, logical: 0 }, {
      wallMs: 1,
      logical: 0x10000,
    }, { wallMs: 1.5, logical: 0 }]
  ) {
    assert.throws(
      () => validateTimestamp(bad),
      (e) => isRangeDbError(e, ErrorCode.INVALID_ARGUMENT),
    );
  }
});

Deno.test("encodeUintTuple() orders tuples element by element and round-trips", () => {
  const tuple = fc.array(safeUint, { minLength: 1, maxLength: 3 });
  fc.assert(
    fc.property(tuple, tuple, (a, b) => {
      let expected = 0;
      for (let i = 0; i < Math.min(a.length, b.length) && expected === 0; i++) {
        expected = sign(a[i] - b[i]);
      }
      if (expected === 0) expected = sign(a.length - b.length);
      assert.equal(sign(compareBytes(encodeUintTuple(a), encodeUintTuple(b))), expected);
      assert.deepEqual(decodeUintTuple(encodeUintTuple(a)), a);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("encodeUintTuple() bounds the raft log of one range by its id alone", () => {
  const start = encodeUintTuple([7]);
  const end = encodeUintTuple([8]);
  for (const index of [0, 1, Number.MAX_SAFE_INTEGER]) {
    const key = encodeUintTuple([7, index]);
    assert.ok(compareBytes(start, key) <= 0 && compareBytes(key, end) < 0);
  }
  assert.ok(compareBytes(encodeUintTuple([6, Number.MAX_SAFE_INTEGER]), start) < 0);
});

Deno.test("decodeUintTuple() refuses a length that is not a multiple of 8", () => {
  assert.throws(
    () => decodeUintTuple(new Uint8Array(9)),
    (e) => isRangeDbError(e, ErrorCode.CORRUPTION),
  );
});
