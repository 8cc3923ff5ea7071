/**
 * Order-preserving binary encodings for storage keys: the unsigned-byte order of the encodings
 * equals the logical order of the values, so LMDB's byte-ordered B-tree sorts composite keys
 * correctly.
 *
 * - Byte strings: {@linkcode encodeBytes} escapes 0x00 as 0x00 0xFF and terminates with 0x00 0x01,
 *   so `encodeBytes(a) + suffix` sorts exactly as `a`, whatever the suffixes.
 * - Unsigned 64-bit integers: 8 bytes big-endian ({@linkcode writeUint64}). Integers are plain
 *   numbers, exact up to 2^53 - 1 (ids, raft indexes), never bigint: bigint is slow on hot paths.
 * - Timestamps: a {@linkcode Timestamp} is the 64-bit hybrid value `wallMs << 16 | logical`,
 *   held as two numbers (wallMs needs up to 48 bits, so the 64-bit value does not fit a number)
 *   and encoded as that 64-bit value: 6 bytes of wallMs then 2 bytes of logical, big-endian.
 * - Tuples of integers ({@linkcode encodeUintTuple}), for the raft log keys (rangeId, index),
 *   used once the multi-raft store lands.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "./errors.ts";

/**
 * A hybrid logical timestamp: milliseconds of physical time plus a logical counter that orders
 * events within one millisecond. As a 64-bit unsigned integer it is `wallMs * 2^16 + logical`.
 *
 * Invariants: `wallMs` is an integer in [0, 2^48), `logical` an integer in [0, 2^16).
 */
export interface Timestamp {
  /** Physical time in milliseconds since the Unix epoch. */
  readonly wallMs: number;
  /** Counter within one millisecond. */
  readonly logical: number;
}

/** The largest timestamp (2^64 - 1 as a 64-bit value). */
export const MAX_TIMESTAMP: Timestamp = Object.freeze({ wallMs: 2 ** 48 - 1, logical: 0xffff });

/** Bytes of an encoded 64-bit integer or timestamp. */
export const UINT64_BYTES = 8;

/** Bytes of the terminator that ends every {@linkcode encodeBytes} output. */
export const BYTES_TERMINATOR_LENGTH = 2;

const TWO_POW_32 = 2 ** 32;
const TWO_POW_16 = 2 ** 16;

/**
 * Compares two byte arrays as unsigned bytes, lexicographically (a proper prefix sorts first).
 *
 * @param a first array
 * @param b second array
 * @returns a negative number, 0 or a positive number as a < b, a = b or a > b
 *
 * @example
 * ```ts
 * import { compareBytes } from "./key_encoding.ts";
 * compareBytes(new Uint8Array([1]), new Uint8Array([1, 0])); // < 0
 * ```
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * Compares two timestamps.
 *
 * @param a first timestamp
 * @param b second timestamp
 * @returns a negative number, 0 or a positive number as a < b, a = b or a > b
 */
export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  return a.wallMs !== b.wallMs ? a.wallMs - b.wallMs : a.logical - b.logical;
}

/**
 * Throws unless `ts` satisfies the {@linkcode Timestamp} invariants.
 *
 * @param ts the timestamp to check
 * @throws {RangeDbError} INVALID_ARGUMENT when a field is out of range or not an integer
 */
export function validateTimestamp(ts: Timestamp): void {
  const { wallMs, logical } = ts;
  if (
    !Number.isInteger(wallMs) || wallMs < 0 || wallMs > MAX_TIMESTAMP.wallMs ||
    !Number.isInteger(logical) || logical < 0 || logical > 0xffff
  ) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot encode timestamp as it is out of range: wallMs is ${wallMs}, logical is ${logical}`,
      { details: { wallMs, logical } },
    );
  }
}

/**
 * The length of {@linkcode encodeBytes}`(bytes)`.
 *
 * @param bytes the raw bytes
 * @returns the encoded length (raw length + one per 0x00 byte + 2)
 */
export function encodedBytesLength(bytes: Uint8Array): number {
  let n = bytes.length + BYTES_TERMINATOR_LENGTH;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0) n++;
  return n;
}

/**
 * Writes {@linkcode encodeBytes}`(bytes)` into `target` at `offset`, for callers that
 * preallocate a whole composite key.
 *
 * @param target the destination, with room for {@linkcode encodedBytesLength}`(bytes)` bytes
 * @param offset where to start writing
 * @param bytes the raw bytes
 * @returns the offset just past the terminator
 */
export function writeEncodedBytes(target: Uint8Array, offset: number, bytes: Uint8Array): number {
  let o = offset;
  // A plain loop: keys are short, and bulk copies of subarrays cost an allocation each.
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    target[o++] = b;
    if (b === 0) target[o++] = 0xff;
  }
  target[o++] = 0x00;
  target[o++] = 0x01;
  return o;
}

/**
 * Encodes a byte string so that encodings, even followed by arbitrary suffixes, sort as the raw
 * strings: 0x00 becomes 0x00 0xFF and 0x00 0x01 terminates.
 *
 * @param bytes the raw bytes
 * @returns the encoding
 *
 * @example
 * ```ts
 * import { encodeBytes } from "./key_encoding.ts";
 * encodeBytes(new Uint8Array([0x61, 0x00])); // [0x61, 0x00, 0xff, 0x00, 0x01]
 * ```
 */
export function encodeBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(encodedBytesLength(bytes));
  writeEncodedBytes(out, 0, bytes);
  return out;
}

/** A decoded value and the offset just past its encoding. */
export interface Decoded<T> {
  value: T;
  end: number;
}

/**
 * Decodes one {@linkcode encodeBytes} encoding that starts at `offset`.
 *
 * @param encoded the buffer holding the encoding
 * @param offset where the encoding starts
 * @returns the raw bytes (a new array) and the offset past the terminator
 * @throws {RangeDbError} CORRUPTION when the encoding is malformed or unterminated
 */
export function decodeBytes(encoded: Uint8Array, offset = 0): Decoded<Uint8Array> {
  let zeros = 0;
  let i = offset;
  for (; i < encoded.length; i++) {
    if (encoded[i] !== 0) continue;
    const next = encoded[i + 1];
    if (next === 0x01) break;
    if (next !== 0xff) throw malformed(encoded, i);
    zeros++;
    i++;
  }
  if (i >= encoded.length) throw malformed(encoded, i);
  const end = i + BYTES_TERMINATOR_LENGTH;
  if (zeros === 0) return { value: encoded.slice(offset, i), end };
  const out = new Uint8Array(i - offset - zeros);
  let o = 0;
  for (let j = offset; j < i; j++) {
    out[o++] = encoded[j];
    if (encoded[j] === 0) j++;
  }
  return { value: out, end };
}

function malformed(encoded: Uint8Array, at: number): RangeDbError {
  return new RangeDbError(
    ErrorCode.CORRUPTION,
    `Cannot decode byte string as its escaping is malformed: at offset ${at} of ${encoded.length} bytes`,
    { details: { offset: at, length: encoded.length } },
  );
}

function checkUint(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot encode integer as it is not a non-negative safe integer: value is ${value}`,
      { details: { value } },
    );
  }
}

/**
 * Writes `value` as 8 bytes big-endian (ascending order).
 *
 * @param target the destination
 * @param offset where to write
 * @param value an integer in [0, 2^53)
 * @returns `offset + 8`
 * @throws {RangeDbError} INVALID_ARGUMENT when `value` is negative, fractional or unsafe
 */
export function writeUint64(target: Uint8Array, offset: number, value: number): number {
  checkUint(value);
  return writeWords(target, offset, Math.floor(value / TWO_POW_32), value >>> 0);
}

/**
 * Reads an integer written by {@linkcode writeUint64}.
 *
 * @param source the buffer
 * @param offset where the 8 bytes start
 * @returns the integer
 * @throws {RangeDbError} CORRUPTION when the value exceeds 2^53 - 1
 */
export function readUint64(source: Uint8Array, offset: number): number {
  return wordsToNumber(readWord(source, offset), readWord(source, offset + 4));
}

function wordsToNumber(hi: number, lo: number): number {
  if (hi > 0x1fffff) {
    throw new RangeDbError(
      ErrorCode.CORRUPTION,
      `Cannot decode integer as it exceeds 2^53 - 1: high word is ${hi}`,
      { details: { hi, lo } },
    );
  }
  return hi * TWO_POW_32 + lo;
}

/**
 * Writes a timestamp as its 64-bit value, 8 bytes big-endian (ascending order). The timestamp
 * is trusted (see {@linkcode validateTimestamp}); this runs on hot paths.
 *
 * @param target the destination
 * @param offset where to write
 * @param ts the timestamp
 * @returns `offset + 8`
 */
export function writeTimestamp(target: Uint8Array, offset: number, ts: Timestamp): number {
  const w = ts.wallMs;
  return writeWords(target, offset, Math.floor(w / TWO_POW_16), ((w & 0xffff) << 16) | ts.logical);
}

/**
 * Writes a timestamp so that later timestamps sort first (the complement of
 * {@linkcode writeTimestamp}); MVCC keys use it to put the newest version first.
 *
 * @param target the destination
 * @param offset where to write
 * @param ts the timestamp
 * @returns `offset + 8`
 */
export function writeTimestampDesc(target: Uint8Array, offset: number, ts: Timestamp): number {
  const w = ts.wallMs;
  return writeWords(
    target,
    offset,
    ~Math.floor(w / TWO_POW_16),
    ~(((w & 0xffff) << 16) | ts.logical),
  );
}

/**
 * Reads a timestamp written by {@linkcode writeTimestamp}.
 *
 * @param source the buffer
 * @param offset where the 8 bytes start
 * @returns the timestamp
 */
export function readTimestamp(source: Uint8Array, offset: number): Timestamp {
  return wordsToTimestamp(readWord(source, offset), readWord(source, offset + 4));
}

/**
 * Reads a timestamp written by {@linkcode writeTimestampDesc}.
 *
 * @param source the buffer
 * @param offset where the 8 bytes start
 * @returns the timestamp
 */
export function readTimestampDesc(source: Uint8Array, offset: number): Timestamp {
  return wordsToTimestamp(~readWord(source, offset) >>> 0, ~readWord(source, offset + 4) >>> 0);
}

/**
 * Compares the timestamp encoded at `source[offset..offset+8)` by {@linkcode writeTimestamp}
 * with `ts` without allocating.
 *
 * @param source the buffer
 * @param offset where the 8 bytes start
 * @param ts the timestamp to compare with
 * @returns a negative number, 0 or a positive number as the encoded timestamp is earlier than,
 * equal to or later than `ts`
 */
export function compareTimestampAt(source: Uint8Array, offset: number, ts: Timestamp): number {
  const hi = readWord(source, offset);
  const w = ts.wallMs;
  const tsHi = Math.floor(w / TWO_POW_16);
  if (hi !== tsHi) return hi - tsHi;
  return readWord(source, offset + 4) - ((((w & 0xffff) << 16) | ts.logical) >>> 0);
}

/**
 * Compares the timestamp encoded descending at `source[offset..offset+8)` with `ts` without
 * allocating.
 *
 * @param source the buffer
 * @param offset where the 8 bytes of {@linkcode writeTimestampDesc} start
 * @param ts the timestamp to compare with
 * @returns a negative number, 0 or a positive number as the encoded timestamp is earlier than,
 * equal to or later than `ts`
 */
export function compareTimestampDescAt(source: Uint8Array, offset: number, ts: Timestamp): number {
  const hi = ~readWord(source, offset) >>> 0;
  const w = ts.wallMs;
  const tsHi = Math.floor(w / TWO_POW_16);
  if (hi !== tsHi) return hi - tsHi;
  const lo = ~readWord(source, offset + 4) >>> 0;
  return lo - ((((w & 0xffff) << 16) | ts.logical) >>> 0);
}

function wordsToTimestamp(hi: number, lo: number): Timestamp {
  return { wallMs: hi * TWO_POW_16 + (lo >>> 16), logical: lo & 0xffff };
}

function writeWords(target: Uint8Array, offset: number, hi: number, lo: number): number {
  target[offset] = hi >>> 24;
  target[offset + 1] = hi >>> 16;
  target[offset + 2] = hi >>> 8;
  target[offset + 3] = hi;
  target[offset + 4] = lo >>> 24;
  target[offset + 5] = lo >>> 16;
  target[offset + 6] = lo >>> 8;
  target[offset + 7] = lo;
  return offset + 8;
}

function readWord(source: Uint8Array, offset: number): number {
  return ((source[offset] << 24) | (source[offset + 1] << 16) | (source[offset + 2] << 8) |
    source[offset + 3]) >>> 0;
}

/**
 * Encodes a tuple of integers, each as 8 bytes big-endian, so tuples sort element by element:
 * for the raft log keys `(rangeId, index)`, used once the multi-raft store lands. A shorter
 * tuple is a prefix of the longer ones that extend it, so `encodeUintTuple([rangeId])` bounds
 * the keys of one range.
 *
 * @param values integers in [0, 2^53)
 * @returns `8 * values.length` bytes
 * @throws {RangeDbError} INVALID_ARGUMENT when a value is negative, fractional or unsafe
 *
 * @example
 * ```ts
 * import { encodeUintTuple } from "./key_encoding.ts";
 * const key = encodeUintTuple([7, 42]); // entry 42 of range 7
 * const start = encodeUintTuple([7]);
 * const end = encodeUintTuple([8]); // all entries of range 7 lie in [start, end)
 * ```
 */
export function encodeUintTuple(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * UINT64_BYTES);
  for (let i = 0; i < values.length; i++) writeUint64(out, i * UINT64_BYTES, values[i]);
  return out;
}

/**
 * Decodes a tuple written by {@linkcode encodeUintTuple}.
 *
 * @param encoded the encoding
 * @returns the integers
 * @throws {RangeDbError} CORRUPTION when the length is not a multiple of 8 or a value is unsafe
 */
export function decodeUintTuple(encoded: Uint8Array): number[] {
  if (encoded.length % UINT64_BYTES !== 0) {
    throw new RangeDbError(
      ErrorCode.CORRUPTION,
      `Cannot decode integer tuple as its length is not a multiple of 8: length is ${encoded.length}`,
      { details: { length: encoded.length } },
    );
  }
  const out: number[] = [];
  for (let o = 0; o < encoded.length; o += UINT64_BYTES) out.push(readUint64(encoded, o));
  return out;
}
