/**
 * The loops of {@linkcode ./mvcc_read.ts}'s `mvccScan` over the `data` keyspace, one per
 * direction, and the version lookup they share with `mvccGet`.
 *
 * They read through {@linkcode Reader.visitViews}: the engine lends each entry as views valid
 * for one step, so the loops keep nothing of an entry except copies: a visible row's key and
 * value (carved out of a {@linkcode RowArena}), the current key's prefix (in a reused
 * {@linkcode PrefixScratch}) and, in reverse, the candidate version (in a reused
 * {@linkcode CandidateScratch}).
 *
 * @module
 */

import type { Timestamp } from "../base/key_encoding.ts";
import type { KeyValue, Reader } from "../storage/engine.ts";
import {
  checkNewest,
  compareEntryTimestamp,
  entryIsTombstone,
  entryTimestamp,
  isNewest,
  NEWEST_HEADER_BYTES,
  plainUserKeyLength,
  prefixLengthOf,
  userKeyOf,
  versionKeyFromPrefix,
  versionPrefixEnd,
} from "./mvcc_key.ts";
import { DATA_KEYSPACE } from "./mvcc_write.ts";
import { RowArena } from "./_row_arena.ts";

/** One visible version read at a timestamp (exported by `mvcc_read.ts` as `MvccRow`). */
export interface MvccRow {
  key: Uint8Array;
  value: Uint8Array;
  /** The commit timestamp of the version read. */
  timestamp: Timestamp;
}

/**
 * Versions of one key stepped over one by one before the scan seeks instead (a seek restarts an
 * engine iteration, which costs more than a few steps).
 */
const STEPS_BEFORE_SEEK = 8;

/**
 * The newest version of the key with encoded prefix `prefix` at or below `ts`: the newest record
 * (one exact lookup) when it is old enough, else the first older version from `ts` down.
 *
 * @param reader the engine or a snapshot
 * @param prefix the key's encoded prefix; the result's key is `prefix` itself when the newest
 * record is the version found
 * @param ts the read timestamp
 * @returns the version's entry, or undefined when none is old enough
 */
export function newestAtOrBelow(
  reader: Reader,
  prefix: Uint8Array,
  ts: Timestamp,
): KeyValue | undefined {
  const newest = reader.get(DATA_KEYSPACE, prefix);
  if (newest === undefined) return undefined;
  checkNewest(prefix, newest);
  if (compareEntryTimestamp(prefix, newest, true, ts) <= 0) return { key: prefix, value: newest };
  const start = versionKeyFromPrefix(prefix, ts);
  const end = versionPrefixEnd(prefix);
  for (const kv of reader.scan(DATA_KEYSPACE, { start, end, limit: 1 })) return kv;
  return undefined;
}

/**
 * A copy of the encoded prefix of the key being read, in memory reused from key to key (most
 * keys are read without a seek, so their prefix is only ever compared).
 */
class PrefixScratch {
  #bytes = new Uint8Array(64);
  /** The prefix's length; -1 before the first key. */
  length = -1;

  /** Copies `key[0:length]` as the current prefix. */
  set(key: Uint8Array, length: number): void {
    if (length > this.#bytes.length) this.#bytes = new Uint8Array(length * 2);
    const bytes = this.#bytes;
    for (let i = 0; i < length; i++) bytes[i] = key[i];
    this.length = length;
  }

  /** Whether `key`'s first `prefixLength` bytes are the current prefix. */
  matches(key: Uint8Array, prefixLength: number): boolean {
    if (prefixLength !== this.length) return false;
    const bytes = this.#bytes;
    // Neighbouring keys usually share their beginning, so compare from the end.
    for (let i = prefixLength - 1; i >= 0; i--) if (key[i] !== bytes[i]) return false;
    return true;
  }

  /** A new array holding the current prefix. */
  copy(): Uint8Array {
    return this.#bytes.slice(0, this.length);
  }
}

/**
 * A copy of the reverse scan's candidate version, in memory reused and only ever grown: most
 * versions at or below the read timestamp become the candidate and are replaced by the next
 * one, so only the one left when the key changes is copied again, into the rows' arena.
 */
class CandidateScratch {
  #key = new Uint8Array(64);
  #value = new Uint8Array(256);
  #keyLength = 0;
  #valueLength = 0;
  /** Whether a candidate is held. */
  held = false;

  /** Copies `key` and `value` as the candidate. */
  set(key: Uint8Array, value: Uint8Array): void {
    if (key.length > this.#key.length) this.#key = new Uint8Array(key.length * 2);
    if (value.length > this.#value.length) this.#value = new Uint8Array(value.length * 2);
    this.#key.set(key);
    this.#value.set(value);
    this.#keyLength = key.length;
    this.#valueLength = value.length;
    this.held = true;
  }

  /** Views of the candidate's key and value, valid until the next {@linkcode set}. */
  view(): KeyValue {
    return {
      key: this.#key.subarray(0, this.#keyLength),
      value: this.#value.subarray(0, this.#valueLength),
    };
  }
}

/** Appends the entry to `rows` unless it is a tombstone, copying its bytes into `arena`. */
function pushVisible(
  rows: MvccRow[],
  arena: RowArena,
  key: Uint8Array,
  value: Uint8Array,
  newest: boolean,
): void {
  if (entryIsTombstone(value)) return;
  const prefixLength = prefixLengthOf(key, newest);
  const plain = plainUserKeyLength(key, prefixLength);
  rows.push({
    // A key with escaped bytes is decoded into a new array, already a copy.
    key: plain >= 0 ? arena.copy(key, 0, plain) : userKeyOf(key, prefixLength),
    value: arena.copy(value, newest ? NEWEST_HEADER_BYTES : 1, value.length),
    timestamp: entryTimestamp(key, value, newest),
  });
}

/**
 * Forward scan: for each key, step over versions newer than `ts`, take the first one at or below
 * it, then step over the older ones; seek past whichever run grows long.
 *
 * @returns true when `rows` reached `limit`
 */
export function scanForward(
  reader: Reader,
  lo: Uint8Array | undefined,
  hi: Uint8Array | undefined,
  ts: Timestamp,
  limit: number,
  rows: MvccRow[],
): boolean {
  const arena = new RowArena();
  const prefix = new PrefixScratch();
  let seek: Uint8Array | undefined = lo;
  let resolved = false;
  let steps = 0;
  let full = false;
  let restart = false;
  const visit = (key: Uint8Array, value: Uint8Array): boolean => {
    const newest = isNewest(key, value);
    const prefixLength = prefixLengthOf(key, newest);
    if (prefix.matches(key, prefixLength)) {
      if (++steps > STEPS_BEFORE_SEEK) {
        const current = prefix.copy();
        seek = resolved ? versionPrefixEnd(current) : versionKeyFromPrefix(current, ts);
        steps = 0;
        restart = true;
        return false;
      }
      if (resolved) return true;
    } else {
      prefix.set(key, prefixLength);
      resolved = false;
      steps = 0;
    }
    if (compareEntryTimestamp(key, value, newest, ts) > 0) return true;
    resolved = true;
    pushVisible(rows, arena, key, value, newest);
    full = rows.length >= limit;
    return !full;
  };
  do {
    restart = false;
    reader.visitViews(DATA_KEYSPACE, { start: seek, end: hi }, visit);
  } while (restart);
  return full;
}

/**
 * Reverse scan: a key's versions arrive oldest first, so remember (a copy of) the last one at or
 * below `ts` and emit it when the key changes; once a newer one appears the key is settled. Long
 * runs of versions are cut short by a point lookup and a seek below the key.
 *
 * @returns true when `rows` reached `limit`
 */
export function scanReverse(
  reader: Reader,
  lo: Uint8Array | undefined,
  hi: Uint8Array | undefined,
  ts: Timestamp,
  limit: number,
  rows: MvccRow[],
): boolean {
  const arena = new RowArena();
  const prefix = new PrefixScratch();
  const candidate = new CandidateScratch();
  let seek: Uint8Array | undefined = hi;
  let resolved = false;
  let steps = 0;
  let full = false;
  let restart = false;
  // Emits the candidate of the key just left; true when the limit is reached.
  const settle = (): boolean => {
    if (!candidate.held) return false;
    const { key, value } = candidate.view();
    pushVisible(rows, arena, key, value, key.length === prefix.length);
    return rows.length >= limit;
  };
  const visit = (key: Uint8Array, value: Uint8Array): boolean => {
    const newest = isNewest(key, value);
    const prefixLength = prefixLengthOf(key, newest);
    if (prefix.matches(key, prefixLength)) {
      if (++steps > STEPS_BEFORE_SEEK) {
        // The bare prefix is the key's smallest entry: an exclusive end there skips them all.
        const current = prefix.copy();
        if (!resolved) {
          const found = newestAtOrBelow(reader, current, ts);
          if (found === undefined) candidate.held = false;
          else candidate.set(found.key, found.value);
        }
        resolved = true;
        seek = current;
        steps = 0;
        restart = true;
        return false;
      }
      if (resolved) return true;
    } else {
      full = settle();
      if (full) return false;
      prefix.set(key, prefixLength);
      candidate.held = false;
      resolved = false;
      steps = 0;
    }
    if (compareEntryTimestamp(key, value, newest, ts) > 0) {
      resolved = true;
      return true;
    }
    candidate.set(key, value);
    return true;
  };
  do {
    restart = false;
    reader.visitViews(DATA_KEYSPACE, { start: lo, end: seek, reverse: true }, visit);
  } while (restart);
  return full || settle() || rows.length >= limit;
}
