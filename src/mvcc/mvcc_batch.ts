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
 * @module
 */

import {
  compareBytes,
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
  addAll(writes: readonly MvccWrite[]): void {
    for (const write of writes) validateMvccWrite(write, this.#limits);
    for (const write of writes) this.#apply(write);
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
    const slot = this.#newest.get(fnv1a(prefix))?.find(([p]) => compareBytes(p, prefix) === 0);
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
    }
    const newest = encodeNewest(ts, value, alloc);
    this.batch.put(DATA_KEYSPACE, prefix, newest);
    if (slot !== undefined) slot[1] = newest;
    else if (pending !== undefined) pending.push([prefix, newest]);
    else this.#newest.set(hash, [[prefix, newest]]);
  }
}

/** 32-bit FNV-1a: a cheap hash, to find a batch's earlier writes of a key without strings. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h;
}
