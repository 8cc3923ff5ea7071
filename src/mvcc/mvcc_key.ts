/**
 * The layout of versions in the `data` keyspace.
 *
 * Every user key U has a prefix `P = encodeBytes(U)` (escaped, terminated by 0x00 0x01). Its
 * versions are stored as:
 * - the newest version under `P` itself, value = newest tag, the commit timestamp (8 bytes,
 *   ascending encoding), then the value bytes;
 * - each older version under `P + descending timestamp` (8 bytes), value = older tag, then the
 *   value bytes.
 *
 * `P` sorts before `P + anything`, and descending timestamps put newer before older, so the
 * versions of a key are contiguous and newest first, and user keys sort as raw bytes. Keeping the
 * newest version under the bare prefix lets a read at a current timestamp be one exact-key
 * lookup instead of a positioned range read (4x cheaper in LMDB); the price is that writing a
 * version reads the newest one first (see `mvcc_batch.ts`).
 *
 * Invariants: a key with any stored version has its newest record at `P`, and every older
 * version's timestamp is lower than the newest record's. The versions of U occupy exactly
 * `[P, versionPrefixEnd(P))`: `P` with its final 0x01 raised to 0x02 (no other key's encoding
 * continues a prefix with 0x00 0x02).
 *
 * A tombstone is a version without value bytes (tags {@linkcode TAG_OLDER_TOMBSTONE} and
 * {@linkcode TAG_NEWEST_TOMBSTONE}). The tag tells the two key shapes apart, so a reader never
 * parses a key to learn where its prefix ends.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import {
  compareTimestampAt,
  compareTimestampDescAt,
  decodeBytes,
  readTimestamp,
  readTimestampDesc,
  type Timestamp,
  UINT64_BYTES,
  writeTimestamp,
  writeTimestampDesc,
} from "../base/key_encoding.ts";

/** Tag of an older version that holds a value. */
export const TAG_OLDER_VALUE = 0x01;
/** Tag of an older version that is a tombstone. */
export const TAG_OLDER_TOMBSTONE = 0x00;
/** Tag of the newest version (under the bare prefix) that holds a value. */
export const TAG_NEWEST_VALUE = 0x03;
/** Tag of the newest version (under the bare prefix) that is a tombstone. */
export const TAG_NEWEST_TOMBSTONE = 0x02;

/** Bytes before the value in a newest record: tag and timestamp. */
export const NEWEST_HEADER_BYTES = 1 + UINT64_BYTES;

/** Allocates a zero-filled byte array; encoders take one so batches can pool memory. */
export type Alloc = (n: number) => Uint8Array;

const newBytes: Alloc = (n) => new Uint8Array(n);

/**
 * Encodes the key of an older version from the key's encoded prefix.
 *
 * @param prefix `encodeBytes(userKey)`
 * @param ts the version's timestamp
 * @param alloc where the result's memory comes from
 * @returns `prefix + descending ts`
 */
export function versionKeyFromPrefix(
  prefix: Uint8Array,
  ts: Timestamp,
  alloc: Alloc = newBytes,
): Uint8Array {
  const out = alloc(prefix.length + UINT64_BYTES);
  out.set(prefix);
  writeTimestampDesc(out, prefix.length, ts);
  return out;
}

/**
 * The exclusive upper bound of the versions of the key whose encoded prefix is `prefix`.
 *
 * @param prefix `encodeBytes(userKey)`, ending with 0x00 0x01
 * @returns a new array: `prefix` with its last byte raised to 0x02
 */
export function versionPrefixEnd(prefix: Uint8Array): Uint8Array {
  const out = prefix.slice();
  out[out.length - 1] = 0x02;
  return out;
}

/**
 * Encodes the stored value of a newest record.
 *
 * @param ts the version's timestamp
 * @param value the bytes, or undefined for a tombstone
 * @param alloc where the result's memory comes from
 * @returns tag, timestamp, value
 */
export function encodeNewest(
  ts: Timestamp,
  value: Uint8Array | undefined,
  alloc: Alloc = newBytes,
): Uint8Array {
  const out = alloc(NEWEST_HEADER_BYTES + (value?.length ?? 0));
  out[0] = value === undefined ? TAG_NEWEST_TOMBSTONE : TAG_NEWEST_VALUE;
  writeTimestamp(out, 1, ts);
  if (value !== undefined) out.set(value, NEWEST_HEADER_BYTES);
  return out;
}

/**
 * Encodes the stored value of an older version.
 *
 * @param value the bytes, or undefined for a tombstone
 * @param alloc where the result's memory comes from
 * @returns tag, value
 */
export function encodeOlder(value: Uint8Array | undefined, alloc: Alloc = newBytes): Uint8Array {
  const out = alloc((value?.length ?? 0) + 1);
  if (value === undefined) {
    out[0] = TAG_OLDER_TOMBSTONE;
    return out;
  }
  out[0] = TAG_OLDER_VALUE;
  out.set(value, 1);
  return out;
}

/**
 * Turns a newest record into the key and value of the older version it becomes when a newer
 * version arrives.
 *
 * @param prefix the key's encoded prefix
 * @param newest the stored newest record
 * @param alloc where the result's memory comes from
 * @returns the older version's key and value
 */
export function demoteNewest(
  prefix: Uint8Array,
  newest: Uint8Array,
  alloc: Alloc = newBytes,
): { key: Uint8Array; value: Uint8Array } {
  const key = alloc(prefix.length + UINT64_BYTES);
  key.set(prefix);
  // The descending encoding is the bitwise complement of the ascending one.
  for (let i = 0; i < UINT64_BYTES; i++) key[prefix.length + i] = ~newest[1 + i];
  const value = alloc(newest.length - UINT64_BYTES);
  value[0] = newest[0] === TAG_NEWEST_VALUE ? TAG_OLDER_VALUE : TAG_OLDER_TOMBSTONE;
  value.set(newest.subarray(NEWEST_HEADER_BYTES), 1);
  return { key, value };
}

/**
 * Tells whether a stored entry is a newest record, checking its tag and length.
 *
 * @param key the entry's key, for the error message
 * @param stored the entry's value
 * @returns true for a newest record, false for an older version
 * @throws {RangeDbError} CORRUPTION for an unknown tag, a short record or a tombstone with bytes
 */
export function isNewest(key: Uint8Array, stored: Uint8Array): boolean {
  switch (stored[0]) {
    case TAG_NEWEST_VALUE:
      if (stored.length >= NEWEST_HEADER_BYTES) return true;
      break;
    case TAG_NEWEST_TOMBSTONE:
      if (stored.length === NEWEST_HEADER_BYTES) return true;
      break;
    case TAG_OLDER_VALUE:
      if (key.length > UINT64_BYTES) return false;
      break;
    case TAG_OLDER_TOMBSTONE:
      if (stored.length === 1 && key.length > UINT64_BYTES) return false;
  }
  throw new RangeDbError(
    ErrorCode.CORRUPTION,
    `Cannot read version as its record is malformed: tag is ${
      stored[0]
    }, value is ${stored.length} bytes, key is ${key.length} bytes`,
    { details: { tag: stored[0], valueLength: stored.length, keyLength: key.length } },
  );
}

/**
 * Throws unless the record stored under a bare prefix is a newest record.
 *
 * @param prefix the key (a bare prefix)
 * @param stored the stored value
 * @throws {RangeDbError} CORRUPTION otherwise
 */
export function checkNewest(prefix: Uint8Array, stored: Uint8Array): void {
  if (isNewest(prefix, stored)) return;
  throw new RangeDbError(
    ErrorCode.CORRUPTION,
    `Cannot read version as a bare prefix holds an older version: tag is ${
      stored[0]
    }, key is ${prefix.length} bytes`,
    { details: { tag: stored[0], keyLength: prefix.length } },
  );
}

/**
 * The length of the encoded prefix within an entry's key.
 *
 * @param key the entry's key
 * @param newest whether the entry is a newest record ({@linkcode isNewest})
 * @returns the prefix length
 */
export function prefixLengthOf(key: Uint8Array, newest: boolean): number {
  return newest ? key.length : key.length - UINT64_BYTES;
}

/**
 * Compares an entry's timestamp with `ts` without allocating.
 *
 * @param key the entry's key
 * @param stored the entry's value
 * @param newest whether the entry is a newest record
 * @param ts the timestamp to compare with
 * @returns negative, 0 or positive as the entry is older than, as old as or newer than `ts`
 */
export function compareEntryTimestamp(
  key: Uint8Array,
  stored: Uint8Array,
  newest: boolean,
  ts: Timestamp,
): number {
  return newest
    ? compareTimestampAt(stored, 1, ts)
    : compareTimestampDescAt(key, key.length - UINT64_BYTES, ts);
}

/**
 * An entry's timestamp.
 *
 * @param key the entry's key
 * @param stored the entry's value
 * @param newest whether the entry is a newest record
 * @returns the timestamp
 */
export function entryTimestamp(key: Uint8Array, stored: Uint8Array, newest: boolean): Timestamp {
  return newest ? readTimestamp(stored, 1) : readTimestampDesc(key, key.length - UINT64_BYTES);
}

/**
 * Whether an entry is a tombstone.
 *
 * @param stored the entry's value (already checked by {@linkcode isNewest})
 * @returns true for a tombstone
 */
export function entryIsTombstone(stored: Uint8Array): boolean {
  return stored[0] === TAG_NEWEST_TOMBSTONE || stored[0] === TAG_OLDER_TOMBSTONE;
}

/**
 * An entry's value bytes (a view into `stored`).
 *
 * @param stored the entry's value (already checked by {@linkcode isNewest})
 * @param newest whether the entry is a newest record
 * @returns the value
 */
export function entryValue(stored: Uint8Array, newest: boolean): Uint8Array {
  return stored.subarray(newest ? NEWEST_HEADER_BYTES : 1);
}

/**
 * The user key of an entry.
 *
 * @param key the entry's key
 * @param prefixLength the length of its encoded prefix
 * @returns the user key; a view into `key` when the key holds no 0x00 byte
 * @throws {RangeDbError} CORRUPTION when the prefix is malformed
 */
export function userKeyOf(key: Uint8Array, prefixLength: number): Uint8Array {
  const plain = plainUserKeyLength(key, prefixLength);
  if (plain >= 0) return key.subarray(0, plain);
  return decodeBytes(key.subarray(0, prefixLength)).value;
}

/**
 * The length of an entry's user key when its prefix escapes nothing (the user key holds no 0x00
 * byte), so that the user key is the key's first bytes.
 *
 * @param key the entry's key
 * @param prefixLength the length of its encoded prefix
 * @returns the user key's length, or -1 when it must be decoded ({@linkcode userKeyOf})
 */
export function plainUserKeyLength(key: Uint8Array, prefixLength: number): number {
  const userEnd = prefixLength - 2;
  return userEnd >= 0 && key.indexOf(0) === userEnd && key[userEnd + 1] === 0x01 ? userEnd : -1;
}

/**
 * Tells whether `key`'s first `prefixLength` bytes equal `prefix`.
 *
 * @param key an entry's key
 * @param prefixLength the length of its encoded prefix
 * @param prefix an encoded prefix
 * @returns true when the prefixes are equal
 */
export function hasPrefix(key: Uint8Array, prefixLength: number, prefix: Uint8Array): boolean {
  if (prefixLength !== prefix.length) return false;
  // Neighbouring keys usually share their beginning, so compare from the end.
  for (let i = prefixLength - 1; i >= 0; i--) if (key[i] !== prefix[i]) return false;
  return true;
}
