/**
 * MVCC reads at a timestamp over any {@linkcode Reader} (the engine or one of its snapshots).
 *
 * A read at `ts` sees, for each key, the newest version with timestamp ≤ `ts`; a tombstone there
 * means the key is absent. An intent on a read key whose start timestamp is ≤ `ts` makes the
 * outcome unknown (its transaction may commit at a timestamp ≤ `ts`), so the read returns the
 * intents (status `"locked"`) for the caller to resolve and retry, never a guess. Intents that
 * start after `ts` cannot commit at or below it and are ignored.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import {
  compareTimestamps,
  encodeBytes,
  encodedBytesLength,
  type Timestamp,
  writeEncodedBytes,
} from "../base/key_encoding.ts";
import type { Reader } from "../storage/engine.ts";
import { decodeIntent, type Intent } from "./intent.ts";
import { entryIsTombstone, entryTimestamp, entryValue } from "./mvcc_key.ts";
import { LOCKS_KEYSPACE } from "./mvcc_write.ts";
import { type MvccRow, newestAtOrBelow, scanForward, scanReverse } from "./_mvcc_scan.ts";

/** One row of {@linkcode mvccScan}. */
export type { MvccRow };

/** The outcome of {@linkcode mvccGet}. */
export type MvccGetResult =
  | { status: "found"; value: Uint8Array; timestamp: Timestamp }
  | { status: "absent" }
  | { status: "locked"; intents: Intent[] };

/** The outcome of {@linkcode mvccScan}. */
export type MvccScanResult =
  | {
    status: "ok";
    rows: MvccRow[];
    /**
     * Present when the limit was reached: the bound that continues the scan (the next `start`
     * of a forward scan, the next `end` of a reverse one).
     */
    resumeKey?: Uint8Array;
  }
  | { status: "locked"; intents: Intent[] };

/** Options of {@linkcode mvccScan}. */
export interface MvccScanOptions {
  /** Inclusive lower bound (a user key). @default the first key */
  start?: Uint8Array;
  /** Exclusive upper bound (a user key). @default past the last key */
  end?: Uint8Array;
  /** Read timestamp. */
  timestamp: Timestamp;
  /** Most rows to return, a positive integer. @default unlimited */
  limit?: number;
  /** Return rows in descending key order. @default false */
  reverse?: boolean;
}

const ABSENT: MvccGetResult = Object.freeze({ status: "absent" });

/**
 * Where {@linkcode mvccGet} encodes the key it looks up. Allocating a fresh array costs more than
 * the rest of the lookup; the encoding is used only during the (synchronous) call.
 */
let getScratch = new Uint8Array(256);

/**
 * Reads `key` at `timestamp`.
 *
 * @param reader the engine or a snapshot
 * @param key the user key
 * @param timestamp the read timestamp
 * @returns the newest visible value, absent, or the intents that block the read
 *
 * @example
 * ```ts ignore
 * const r = mvccGet(engine, key, { wallMs: Date.now(), logical: 0 });
 * if (r.status === "found") console.log(r.value);
 * ```
 */
export function mvccGet(reader: Reader, key: Uint8Array, timestamp: Timestamp): MvccGetResult {
  const lock = reader.get(LOCKS_KEYSPACE, key);
  if (lock !== undefined) {
    const intent = decodeIntent(key, lock);
    if (compareTimestamps(intent.startTimestamp, timestamp) <= 0) {
      return { status: "locked", intents: [intent] };
    }
  }
  const prefixLength = encodedBytesLength(key);
  if (prefixLength > getScratch.length) getScratch = new Uint8Array(prefixLength);
  const prefix = getScratch.subarray(0, prefixLength);
  writeEncodedBytes(prefix, 0, key);
  const found = newestAtOrBelow(reader, prefix, timestamp);
  if (found === undefined || entryIsTombstone(found.value)) return ABSENT;
  const newest = found.key.length === prefix.length;
  return {
    status: "found",
    value: entryValue(found.value, newest),
    timestamp: entryTimestamp(found.key, found.value, newest),
  };
}

/**
 * Scans `[start, end)` at a timestamp.
 *
 * @param reader the engine or a snapshot
 * @param options bounds, read timestamp, limit and direction
 * @returns the visible rows in key order (descending when reversed), or the intents met in the
 * part of the span the scan covered
 * @throws {RangeDbError} INVALID_ARGUMENT when the limit is not a positive integer
 */
export function mvccScan(reader: Reader, options: MvccScanOptions): MvccScanResult {
  const { start, end, timestamp, limit = Infinity, reverse = false } = options;
  if (limit !== Infinity && (!Number.isInteger(limit) || limit < 1)) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot scan as the limit is not a positive integer: limit is ${limit}`,
    );
  }
  const lo = start === undefined ? undefined : encodeBytes(start);
  const hi = end === undefined ? undefined : encodeBytes(end);
  const rows: MvccRow[] = [];
  const full = reverse
    ? scanReverse(reader, lo, hi, timestamp, limit, rows)
    : scanForward(reader, lo, hi, timestamp, limit, rows);
  let resumeKey: Uint8Array | undefined;
  let lockStart = start;
  let lockEnd = end;
  if (full) {
    const last = rows[rows.length - 1].key;
    if (reverse) {
      resumeKey = last;
      lockStart = last;
    } else {
      // The smallest key after `last`: the scan covered exactly [start, last].
      resumeKey = new Uint8Array(last.length + 1);
      resumeKey.set(last);
      lockEnd = resumeKey;
    }
  }
  const intents = intentsIn(reader, lockStart, lockEnd, timestamp);
  if (intents.length > 0) return { status: "locked", intents };
  return resumeKey === undefined ? { status: "ok", rows } : { status: "ok", rows, resumeKey };
}

function intentsIn(
  reader: Reader,
  start: Uint8Array | undefined,
  end: Uint8Array | undefined,
  timestamp: Timestamp,
): Intent[] {
  const intents: Intent[] = [];
  for (const { key, value } of reader.scan(LOCKS_KEYSPACE, { start, end })) {
    const intent = decodeIntent(key, value);
    if (compareTimestamps(intent.startTimestamp, timestamp) <= 0) intents.push(intent);
  }
  return intents;
}
