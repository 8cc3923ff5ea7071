/**
 * Garbage collection of old versions. After GC at `threshold`, reads at any timestamp ≥
 * `threshold` return what they returned before; reads below it may not. So, per key: versions
 * newer than `threshold` stay, the newest version at or below it stays (it answers reads in
 * `[threshold, next version)`) unless it is a tombstone, and every older version goes.
 *
 * Precondition: nothing is written at or below `threshold` afterwards (the range's GC threshold
 * refuses such writes); otherwise a dropped tombstone could uncover the new, older version.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { encodeBytes, type Timestamp } from "../base/key_encoding.ts";
import type { Reader, WriteBatch } from "../storage/engine.ts";
import {
  compareEntryTimestamp,
  entryIsTombstone,
  hasPrefix,
  isNewest,
  prefixLengthOf,
  userKeyOf,
} from "./mvcc_key.ts";
import { DATA_KEYSPACE } from "./mvcc_write.ts";

/** Options of {@linkcode addGcDeletes}. */
export interface GcBatchOptions {
  /** Inclusive lower bound (a user key). @default the first key */
  start?: Uint8Array;
  /** Exclusive upper bound (a user key). @default past the last key */
  end?: Uint8Array;
  /**
   * Versions deleted by one call before it stops (plus at most one tombstone that completes the
   * key before it). @default {10000}
   */
  maxDeletes?: number;
  /**
   * Versions examined by one call before it stops at the next key; a positive integer, so that
   * each call examines at least one key and a resumed collection progresses. @default {100000}
   */
  maxScanned?: number;
}

/** The outcome of {@linkcode addGcDeletes}. */
export interface GcBatchResult {
  /** Versions whose deletion was added to the batch. */
  deleted: number;
  /** Versions examined. */
  scanned: number;
  /**
   * Present when the call stopped early: the `start` of the next call, made after this batch
   * is written.
   */
  resumeKey?: Uint8Array;
}

/**
 * Adds to `batch` the deletion of the versions that GC at `threshold` removes from
 * `[start, end)`, stopping after a bounded amount of work.
 *
 * A tombstone kept as the newest version at or below `threshold` is deleted only in the batch
 * that deletes the last older version of its key, so no batch boundary can uncover an older
 * value (nor leave older versions without the newest record that `mvcc_key.ts` requires).
 *
 * @param reader the engine (the batch must be written before the next call reads)
 * @param batch the batch to add to
 * @param threshold the GC threshold
 * @param options bounds and limits
 * @returns counts and, when stopped early, where to resume
 * @throws {RangeDbError} INVALID_ARGUMENT when `maxDeletes` or `maxScanned` is not a positive
 * integer
 */
export function addGcDeletes(
  reader: Reader,
  batch: WriteBatch,
  threshold: Timestamp,
  options: GcBatchOptions = {},
): GcBatchResult {
  const { start, end, maxDeletes = 10_000, maxScanned = 100_000 } = options;
  if (!(Number.isInteger(maxDeletes) && maxDeletes >= 1)) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot collect garbage as maxDeletes is not a positive integer: maxDeletes is ${maxDeletes}`,
    );
  }
  if (!(Number.isInteger(maxScanned) && maxScanned >= 1)) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot collect garbage as maxScanned is not a positive integer: maxScanned is ${maxScanned}`,
    );
  }
  const lo = start === undefined ? undefined : encodeBytes(start);
  const hi = end === undefined ? undefined : encodeBytes(end);
  let deleted = 0;
  let scanned = 0;
  let prefix: Uint8Array | undefined;
  let keptFound = false;
  let pendingTombstone: Uint8Array | undefined;
  for (const { key, value } of reader.scan(DATA_KEYSPACE, { start: lo, end: hi })) {
    const newest = isNewest(key, value);
    const prefixLength = prefixLengthOf(key, newest);
    const sameKey = prefix !== undefined && hasPrefix(key, prefixLength, prefix);
    if (!sameKey) {
      if (pendingTombstone !== undefined) {
        batch.delete(DATA_KEYSPACE, pendingTombstone);
        deleted++;
        pendingTombstone = undefined;
      }
      // Both limits are at least 1: a stop here follows at least one examined key.
      if (deleted >= maxDeletes || scanned >= maxScanned) {
        return { deleted, scanned, resumeKey: userKeyOf(key, prefixLength) };
      }
      prefix = key.subarray(0, prefixLength);
      keptFound = false;
    } else if (deleted >= maxDeletes) {
      // Mid-key: the pending tombstone stays until its older versions are all gone.
      return { deleted, scanned, resumeKey: userKeyOf(key, prefixLength) };
    }
    scanned++;
    if (compareEntryTimestamp(key, value, newest, threshold) > 0) continue;
    if (!keptFound) {
      keptFound = true;
      if (entryIsTombstone(value)) pendingTombstone = key;
      continue;
    }
    batch.delete(DATA_KEYSPACE, key);
    deleted++;
  }
  if (pendingTombstone !== undefined) {
    batch.delete(DATA_KEYSPACE, pendingTombstone);
    deleted++;
  }
  return { deleted, scanned };
}
