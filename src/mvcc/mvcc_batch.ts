/**
 * {@linkcode MvccBatch}: MVCC writes collected into one engine {@linkcode WriteBatch}, so a
 * caller (a replica applying many commands in one scheduler turn) groups any number of them into
 * one engine transaction.
 *
 * Writing a version reads the key's newest record (the layout of `mvcc_key.ts` keeps it under
 * the bare prefix), so the reader must reflect every earlier write: build a batch only once the
 * batches written before it have resolved, and do not write through two batches at once.
 * Writes within one batch see each other.
 *
 * The batch also counts what its writes do to the live data: {@linkcode MvccBatch.liveDelta}
 * is the change of live keys (keys whose newest version is not a tombstone) and of their key +
 * value bytes, and {@linkcode MvccBatch.liveStats} counts the live data of a span as the batch
 * leaves it. A range keeps its replicated stats exact with them.
 *
 * @module
 */

import {
  compareBytes,
  decodeBytes,
  encodeBytes,
  encodedBytesLength,
  type Timestamp,
  writeEncodedBytes,
} from "../base/key_encoding.ts";
import { DEFAULT_KEY_LIMITS, type KeyLimits } from "../base/key_limits.ts";
import type { Reader, WriteBatch } from "../storage/engine.ts";
import { encodeIntent, type Intent } from "./intent.ts";
import { Slab } from "./_slab.ts";
import {
  type Alloc,
  checkNewest,
  compareEntryTimestamp,
  demoteNewest,
  encodeNewest,
  encodeOlder,
  entryIsTombstone,
  entryTimestamp,
  entryValue,
  NEWEST_HEADER_BYTES,
  plainUserKeyLength,
  TAG_NEWEST_VALUE,
  versionKeyFromPrefix,
} from "./mvcc_key.ts";
import { DATA_KEYSPACE, LOCKS_KEYSPACE, type MvccWrite, validateMvccWrite } from "./mvcc_write.ts";

/**
 * MVCC writes over one engine batch. Every method validates all its input before it adds
 * anything, so a refused call leaves the batch as it was; {@linkcode MvccBatch.addAll} validates
 * a whole list first.
 *
 * @example
 * ```ts
 * import { createMemoryEngine } from "../storage/mod.ts";
 * import { MvccBatch } from "./mvcc_batch.ts";
 * const engine = createMemoryEngine();
 * const batch = engine.batch();
 * const mvcc = new MvccBatch(engine, batch);
 * mvcc.put(new TextEncoder().encode("/a"), new Uint8Array([1]), { wallMs: 1, logical: 0 });
 * mvcc.delete(new TextEncoder().encode("/b"), { wallMs: 1, logical: 0 });
 * await engine.write(batch);
 * ```
 */
export class MvccBatch {
  /** The engine batch written to. */
  readonly batch: WriteBatch;
  readonly #reader: Reader;
  readonly #limits: Readonly<KeyLimits>;
  /** Newest records written by this batch: prefix hash → [prefix, record] pairs. */
  readonly #newest = new Map<number, [Uint8Array, Uint8Array][]>();
  readonly #slab = new Slab();
  readonly #alloc: Alloc = (n) => this.#slab.alloc(n);
  #liveKeys = 0;
  #liveBytes = 0;

  /**
   * @param reader the engine's latest state (see the module doc)
   * @param batch the engine batch to add to
   * @param limits the limits writes are validated against
   */
  constructor(reader: Reader, batch: WriteBatch, limits: Readonly<KeyLimits> = DEFAULT_KEY_LIMITS) {
    this.#reader = reader;
    this.batch = batch;
    this.#limits = limits;
  }

  /**
   * Validates every write, then adds them all in order. One invalid write means nothing is
   * added.
   *
   * @param writes the writes
   * @throws {RangeDbError} INVALID_ARGUMENT naming the first violated limit
   */
  addAll(writes: readonly MvccWrite[], limits: Readonly<KeyLimits> = this.#limits): void {
    for (const write of writes) validateMvccWrite(write, limits);
    for (const write of writes) this.#apply(write);
  }

  /**
   * What this batch's writes changed so far: live keys (newest version not a tombstone) and
   * their bytes (user key + value). Take it before and after a group of writes to learn theirs.
   */
  get liveDelta(): { keys: number; bytes: number } {
    return { keys: this.#liveKeys, bytes: this.#liveBytes };
  }

  /**
   * Counts the live keys of the user keys `[start, end)` and their bytes (user key + value), as
   * this batch leaves them: the reader's newest records, replaced by this batch's own.
   *
   * @param start inclusive lower bound (a user key; empty: the first key)
   * @param end exclusive upper bound (empty: past the last key)
   * @returns live keys and bytes
   */
  liveStats(start: Uint8Array, end: Uint8Array): { keys: number; bytes: number } {
    const lo = start.length === 0 ? undefined : encodeBytes(start);
    const hi = end.length === 0 ? undefined : encodeBytes(end);
    let keys = 0;
    let bytes = 0;
    const count = (prefix: Uint8Array, record: Uint8Array) => {
      if (record[0] !== TAG_NEWEST_VALUE) return;
      keys++;
      bytes += userKeyLength(prefix) + record.length - NEWEST_HEADER_BYTES;
    };
    this.#reader.visitViews(DATA_KEYSPACE, { start: lo, end: hi }, (key, value) => {
      // Older versions (tags below the newest ones) live under longer keys: skip them.
      if (value[0] < TAG_NEWEST_VALUE - 1) return;
      if (this.#pendingNewest(key) !== undefined) return;
      count(key, value);
    });
    for (const slots of this.#newest.values()) {
      for (const [prefix, record] of slots) {
        if (lo !== undefined && compareBytes(prefix, lo) < 0) continue;
        if (hi !== undefined && compareBytes(prefix, hi) >= 0) continue;
        count(prefix, record);
      }
    }
    return { keys, bytes };
  }

  #pendingNewest(prefix: Uint8Array): [Uint8Array, Uint8Array] | undefined {
    return this.#newest.get(fnv1a(prefix))?.find(([p]) => compareBytes(p, prefix) === 0);
  }

  /**
   * Adds a version of `key` holding `value` at `timestamp`.
   *
   * @throws {RangeDbError} INVALID_ARGUMENT when the key, value or timestamp is invalid
   */
  put(key: Uint8Array, value: Uint8Array, timestamp: Timestamp): void {
    this.#validated({ type: "put", key, value, timestamp });
  }

  /**
   * Adds a tombstone of `key` at `timestamp`.
   *
   * @throws {RangeDbError} INVALID_ARGUMENT when the key or timestamp is invalid
   */
  delete(key: Uint8Array, timestamp: Timestamp): void {
    this.#validated({ type: "delete", key, timestamp });
  }

  /**
   * Adds (or replaces) the intent on `intent.key`.
   *
   * @throws {RangeDbError} INVALID_ARGUMENT when a key, the value or a field is invalid
   */
  putIntent(intent: Intent): void {
    this.#validated({ type: "putIntent", intent });
  }

  /**
   * Adds the removal of the intent on `key`.
   *
   * @throws {RangeDbError} INVALID_ARGUMENT when the key is invalid
   */
  removeIntent(key: Uint8Array): void {
    this.#validated({ type: "removeIntent", key });
  }

  /**
   * Adds the commit of `intent`: its provisional value (or tombstone) becomes the version at
   * `commitTimestamp` and the intent is removed, atomically with the rest of the batch.
   *
   * @throws {RangeDbError} INVALID_ARGUMENT when the intent or timestamp is invalid
   */
  commitIntent(intent: Intent, commitTimestamp: Timestamp): void {
    this.#validated({ type: "commitIntent", intent, commitTimestamp });
  }

  /**
   * The newest version of `key` as this batch leaves it: its own latest write of the key, else
   * the reader's newest record. Lets a state machine evaluate a condition (compare-and-swap)
   * against the writes of earlier commands of the same batch.
   *
   * @param key the user key
   * @returns undefined when the key has no version; `value` undefined for a tombstone
   * @throws {RangeDbError} CORRUPTION when the stored record is malformed
   */
  newest(key: Uint8Array): { value: Uint8Array | undefined; timestamp: Timestamp } | undefined {
    const prefix = new Uint8Array(encodedBytesLength(key));
    writeEncodedBytes(prefix, 0, key);
    const slot = this.#pendingNewest(prefix);
    const current = slot !== undefined ? slot[1] : this.#reader.get(DATA_KEYSPACE, prefix);
    if (current === undefined) return undefined;
    checkNewest(prefix, current);
    return {
      value: entryIsTombstone(current) ? undefined : entryValue(current, true),
      timestamp: entryTimestamp(prefix, current, true),
    };
  }

  #validated(write: MvccWrite): void {
    validateMvccWrite(write, this.#limits);
    this.#apply(write);
  }

  #apply(write: MvccWrite): void {
    switch (write.type) {
      case "put":
        this.#writeVersion(write.key, write.timestamp, write.value);
        return;
      case "delete":
        this.#writeVersion(write.key, write.timestamp, undefined);
        return;
      case "putIntent":
        this.batch.put(LOCKS_KEYSPACE, write.intent.key, encodeIntent(write.intent));
        return;
      case "removeIntent":
        this.batch.delete(LOCKS_KEYSPACE, write.key);
        return;
      case "commitIntent":
        this.#writeVersion(write.intent.key, write.commitTimestamp, write.intent.value);
        this.batch.delete(LOCKS_KEYSPACE, write.intent.key);
    }
  }

  /** Writes a version, keeping the newest one under the bare prefix. */
  #writeVersion(key: Uint8Array, ts: Timestamp, value: Uint8Array | undefined): void {
    const alloc = this.#alloc;
    const prefix = alloc(encodedBytesLength(key));
    writeEncodedBytes(prefix, 0, key);
    const hash = fnv1a(prefix);
    const pending = this.#newest.get(hash);
    const slot = pending?.find(([p]) => compareBytes(p, prefix) === 0);
    const current = slot !== undefined ? slot[1] : this.#reader.get(DATA_KEYSPACE, prefix);
    if (current !== undefined) {
      checkNewest(prefix, current);
      const order = compareEntryTimestamp(prefix, current, true, ts);
      if (order > 0) {
        const olderKey = versionKeyFromPrefix(prefix, ts, alloc);
        this.batch.put(DATA_KEYSPACE, olderKey, encodeOlder(value, alloc));
        return;
      }
      if (order < 0) {
        const older = demoteNewest(prefix, current, alloc);
        this.batch.put(DATA_KEYSPACE, older.key, older.value);
      }
      if (!entryIsTombstone(current)) {
        this.#liveKeys--;
        this.#liveBytes -= key.length + current.length - NEWEST_HEADER_BYTES;
      }
    }
    if (value !== undefined) {
      this.#liveKeys++;
      this.#liveBytes += key.length + value.length;
    }
    const newest = encodeNewest(ts, value, alloc);
    this.batch.put(DATA_KEYSPACE, prefix, newest);
    if (slot !== undefined) slot[1] = newest;
    else if (pending !== undefined) pending.push([prefix, newest]);
    else this.#newest.set(hash, [[prefix, newest]]);
  }
}

/** The length of the user key whose encoded prefix is `prefix`. */
function userKeyLength(prefix: Uint8Array): number {
  const plain = plainUserKeyLength(prefix, prefix.length);
  return plain >= 0 ? plain : decodeBytes(prefix).value.length;
}

/** 32-bit FNV-1a: a cheap hash, to find a batch's earlier writes of a key without strings. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h;
}
