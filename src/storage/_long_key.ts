/**
 * The LMDB engine's long-key form: how a logical key longer than LMDB's key limit is stored.
 *
 * lmdb-js refuses keys over {@linkcode LMDB_MAX_KEY_BYTES} (at LMDB's default 4 KiB pages). A
 * logical key k with |k| <= {@linkcode LONG_KEY_PREFIX_BYTES} (T) is stored as itself. A longer
 * key is stored in long form:
 *
 * - physical key = k[0:T] ++ the first {@linkcode LONG_KEY_HASH_BYTES} bytes of SHA-256(k),
 *   exactly LMDB_MAX_KEY_BYTES (L) long;
 * - physical value = uint32 big-endian |k[T:]| ++ k[T:] ++ value.
 *
 * A physical key is long form exactly when it is longer than T, so the two forms never collide.
 *
 * Order invariant: the physical order of two keys equals their logical order unless both are
 * long with equal first T bytes (a "group"). Proof: if either key is short (length <= T), the
 * two keys either differ at an index below T, where both forms keep the logical bytes, or the
 * short one is a proper prefix of the other, and then (being at most T long) also a proper
 * prefix of the other's physical form. Two long keys whose T-prefixes differ differ below T.
 * Consequences: the members of a group are contiguous in physical order (a physical key between
 * two members starts with their T-prefix and is longer than T, so it is a member) and sorted by
 * hash; and for a short bound b, k < b holds exactly when physical(k) < b.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { KeyValue } from "./engine.ts";
import { compareBytes } from "../base/key_encoding.ts";

/** The longest key lmdb-js accepts at LMDB's default 4 KiB page size (L). */
export const LMDB_MAX_KEY_BYTES = 1978;

/** Bytes of SHA-256 kept in a long-form physical key. */
export const LONG_KEY_HASH_BYTES = 16;

/** Longest logical key stored as itself (T); longer keys are stored in long form. */
export const LONG_KEY_PREFIX_BYTES = LMDB_MAX_KEY_BYTES - LONG_KEY_HASH_BYTES;

/** Bytes of the length of k[T:] at the start of a long-form physical value. */
export const REST_LENGTH_BYTES = 4;

const T = LONG_KEY_PREFIX_BYTES;

/**
 * The physical key of a logical key longer than T.
 *
 * @param key a logical key longer than {@linkcode LONG_KEY_PREFIX_BYTES}
 * @returns k[0:T] ++ SHA-256(k)[0:16]
 */
export function longPhysicalKey(key: Uint8Array): Uint8Array {
  const physical = new Uint8Array(LMDB_MAX_KEY_BYTES);
  physical.set(key.subarray(0, T));
  const digest = createHash("sha256").update(key).digest();
  physical.set(digest.subarray(0, LONG_KEY_HASH_BYTES), T);
  return physical;
}

/** The physical key of any logical key: itself when short. */
export function physicalKey(key: Uint8Array): Uint8Array {
  return key.length > T ? longPhysicalKey(key) : key;
}

/**
 * The physical value of a long logical key.
 *
 * @param key a logical key longer than T
 * @param value its value
 * @returns uint32 |k[T:]| ++ k[T:] ++ value
 */
export function encodeLongValue(key: Uint8Array, value: Uint8Array): Uint8Array {
  const rest = key.length - T;
  const physical = new Uint8Array(REST_LENGTH_BYTES + rest + value.length);
  new DataView(physical.buffer).setUint32(0, rest);
  physical.set(key.subarray(T), REST_LENGTH_BYTES);
  physical.set(value, REST_LENGTH_BYTES + rest);
  return physical;
}

function restLength(physicalKey: Uint8Array, physicalValue: Uint8Array): number {
  const rest = physicalValue.length < REST_LENGTH_BYTES ? -1 : new DataView(
    physicalValue.buffer,
    physicalValue.byteOffset,
    REST_LENGTH_BYTES,
  ).getUint32(0);
  if (
    physicalKey.length !== LMDB_MAX_KEY_BYTES || rest < 1 ||
    rest > physicalValue.length - REST_LENGTH_BYTES
  ) {
    throw new RangeDbError(
      ErrorCode.CORRUPTION,
      `Cannot decode long key as its record is malformed: physical key is ${physicalKey.length} bytes, physical value is ${physicalValue.length} bytes`,
      { details: { keySize: physicalKey.length, valueSize: physicalValue.length } },
    );
  }
  return rest;
}

/**
 * The logical pair of a long-form record. The returned value is a view into `physicalValue`.
 *
 * @throws {RangeDbError} CORRUPTION when the record is malformed
 */
export function decodeLong(physicalKey: Uint8Array, physicalValue: Uint8Array): KeyValue {
  const rest = restLength(physicalKey, physicalValue);
  const key = new Uint8Array(T + rest);
  key.set(physicalKey.subarray(0, T));
  key.set(physicalValue.subarray(REST_LENGTH_BYTES, REST_LENGTH_BYTES + rest), T);
  return { key, value: physicalValue.subarray(REST_LENGTH_BYTES + rest) };
}

/**
 * The value of long key `key` in the record stored under its physical key, or a throw when the
 * record belongs to another key (a SHA-256 prefix collision, or damage).
 *
 * @param key the long logical key looked up
 * @param physicalKey its physical key
 * @param physicalValue the value stored under `physicalKey`
 * @returns the logical value, a view into `physicalValue`
 * @throws {RangeDbError} INTERNAL when the record holds another key; CORRUPTION when malformed
 */
export function longValueOf(
  key: Uint8Array,
  physicalKey: Uint8Array,
  physicalValue: Uint8Array,
): Uint8Array {
  const rest = restLength(physicalKey, physicalValue);
  const stored = physicalValue.subarray(REST_LENGTH_BYTES, REST_LENGTH_BYTES + rest);
  if (compareBytes(stored, key.subarray(T)) !== 0) {
    throw new RangeDbError(
      ErrorCode.INTERNAL,
      `Cannot access long key as its slot holds another key with the same prefix and hash: key is ${key.length} bytes, stored key is ${
        T + rest
      } bytes`,
      { details: { size: key.length, storedSize: T + rest } },
    );
  }
  return physicalValue.subarray(REST_LENGTH_BYTES + rest);
}

/** Logical size of a stored record (key plus value bytes), without decoding it. */
export function logicalBytes(physicalKey: Uint8Array, physicalValue: Uint8Array): number {
  return physicalKey.length > T
    ? physicalKey.length - LONG_KEY_HASH_BYTES + physicalValue.length - REST_LENGTH_BYTES
    : physicalKey.length + physicalValue.length;
}

/** Whether two long-form physical keys belong to the same group (equal first T bytes). */
export function sameGroup(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length <= T || b.length <= T) return false;
  for (let i = T - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The smallest physical key at or below every physical key of a logical key >= `start`, to use
 * as an inclusive lower bound.
 */
export function physicalLowerBound(start: Uint8Array): Uint8Array {
  return start.length > T ? start.slice(0, T) : start;
}

/**
 * An inclusive physical upper bound at or above every physical key of a logical key < `end`,
 * when `end` is long: the last possible member of end's group. (A short `end` is its own exact
 * exclusive bound.)
 */
export function physicalUpperBound(end: Uint8Array): Uint8Array {
  const bound = new Uint8Array(LMDB_MAX_KEY_BYTES).fill(0xff);
  bound.set(end.subarray(0, T));
  return bound;
}
