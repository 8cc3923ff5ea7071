/**
 * {@linkcode MvccStore}: the MVCC operations bound to one {@linkcode Engine}, each write in its
 * own engine transaction. Callers that group many writes per transaction use
 * {@linkcode MvccBatch} on their own engine batch instead.
 *
 * Writes (and GC batches) run one after another: each reads the newest records that the one
 * before it wrote (see `mvcc_batch.ts`), so the store queues them rather than letting two build
 * their batches from the same state.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { Timestamp } from "../base/key_encoding.ts";
import { DEFAULT_KEY_LIMITS, type KeyLimits } from "../base/key_limits.ts";
import type { Engine, Reader, WriteOptions } from "../storage/engine.ts";
import { decodeIntent, type Intent } from "./intent.ts";
import { addGcDeletes, type GcBatchOptions } from "./mvcc_gc.ts";
import {
  mvccGet,
  type MvccGetResult,
  mvccScan,
  type MvccScanOptions,
  type MvccScanResult,
} from "./mvcc_read.ts";
import { MvccBatch } from "./mvcc_batch.ts";
import { LOCKS_KEYSPACE, type MvccWrite, validateMvccKey } from "./mvcc_write.ts";

/** Options of {@linkcode MvccStore}. */
export interface MvccStoreOptions {
  /** Limits every write is validated against. @default {DEFAULT_KEY_LIMITS} */
  limits?: Readonly<KeyLimits>;
}

/** Options of {@linkcode MvccStore.gc}. */
export interface GcOptions extends GcBatchOptions, WriteOptions {
  /** Stops between batches when aborted. */
  signal?: AbortSignal;
}

/** The outcome of {@linkcode MvccStore.gc}. */
export interface GcResult {
  /** Versions deleted. */
  deleted: number;
  /** Engine transactions written. */
  batches: number;
}

/**
 * Versioned reads and writes over an engine's `data` and `locks` keyspaces.
 *
 * @example
 * ```ts
 * import { createMemoryEngine } from "../storage/mod.ts";
 * import { MvccStore } from "./mvcc_store.ts";
 * const store = new MvccStore(createMemoryEngine());
 * const key = new TextEncoder().encode("/user/1");
 * await store.put(key, new Uint8Array([1]), { wallMs: 10, logical: 0 });
 * store.get(key, { wallMs: 20, logical: 0 }); // { status: "found", value: [1], ... }
 * store.get(key, { wallMs: 5, logical: 0 }); // { status: "absent" }
 * ```
 */
export class MvccStore {
  readonly #engine: Engine;
  readonly #limits: Readonly<KeyLimits>;
  /** Settles when the last queued write has; the next write starts after it. */
  #tail: Promise<unknown> = Promise.resolve();

  /**
   * @param engine the engine to store in
   * @param options limits
   */
  constructor(engine: Engine, options: MvccStoreOptions = {}) {
    this.#engine = engine;
    this.#limits = options.limits ?? DEFAULT_KEY_LIMITS;
  }

  /** The limits writes are validated against. */
  get limits(): Readonly<KeyLimits> {
    return this.#limits;
  }

  /**
   * Writes a version of `key` holding `value` at `timestamp`.
   *
   * @throws {RangeDbError} INVALID_ARGUMENT when the key, value or timestamp is invalid
   */
  put(
    key: Uint8Array,
    value: Uint8Array,
    timestamp: Timestamp,
    options?: WriteOptions,
  ): Promise<void> {
    return this.write([{ type: "put", key, value, timestamp }], options);
  }

  /**
   * Writes a tombstone of `key` at `timestamp`.
   *
   * @throws {RangeDbError} INVALID_ARGUMENT when the key or timestamp is invalid
   */
  delete(key: Uint8Array, timestamp: Timestamp, options?: WriteOptions): Promise<void> {
    return this.write([{ type: "delete", key, timestamp }], options);
  }

  /**
   * Applies `writes` atomically in one engine transaction, after validating all of them: one
   * invalid write means nothing is written.
   *
   * @throws {RangeDbError} INVALID_ARGUMENT naming the first violated limit
   */
  write(writes: readonly MvccWrite[], options?: WriteOptions): Promise<void> {
    return this.#queued(() => {
      const batch = this.#engine.batch();
      new MvccBatch(this.#engine, batch, this.#limits).addAll(writes);
      return this.#engine.write(batch, options);
    });
  }

  /** Runs `task` once every write queued before it has settled. */
  #queued<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Reads `key` at `timestamp`.
   *
   * @param key the user key
   * @param timestamp the read timestamp
   * @param reader a snapshot to read from @default the engine's latest state
   */
  get(key: Uint8Array, timestamp: Timestamp, reader: Reader = this.#engine): MvccGetResult {
    return mvccGet(reader, key, timestamp);
  }

  /**
   * Scans at a timestamp; see {@linkcode mvccScan}.
   *
   * @param options bounds, timestamp, limit, direction
   * @param reader a snapshot to read from @default the engine's latest state
   */
  scan(options: MvccScanOptions, reader: Reader = this.#engine): MvccScanResult {
    return mvccScan(reader, options);
  }

  /**
   * Writes (or replaces) the intent on `intent.key`.
   *
   * @throws {RangeDbError} INVALID_ARGUMENT when a key, the value or a field is invalid
   */
  putIntent(intent: Intent, options?: WriteOptions): Promise<void> {
    return this.write([{ type: "putIntent", intent }], options);
  }

  /**
   * Reads the intent on `key`, whatever its timestamp.
   *
   * @returns the intent, or undefined when the key is not locked
   */
  getIntent(key: Uint8Array, reader: Reader = this.#engine): Intent | undefined {
    const stored = reader.get(LOCKS_KEYSPACE, key);
    return stored === undefined ? undefined : decodeIntent(key, stored);
  }

  /**
   * Removes the intent on `key` (abort). Removing an absent intent is not an error.
   *
   * @throws {RangeDbError} INVALID_ARGUMENT when the key is invalid
   */
  removeIntent(key: Uint8Array, options?: WriteOptions): Promise<void> {
    return this.write([{ type: "removeIntent", key }], options);
  }

  /**
   * Commits the intent of `txnId` on `key` at `commitTimestamp`: its provisional value becomes a
   * version and the intent is removed, atomically.
   *
   * @throws {RangeDbError} NOT_FOUND when `key` holds no intent of `txnId`
   */
  commitIntent(
    key: Uint8Array,
    txnId: string,
    commitTimestamp: Timestamp,
    options?: WriteOptions,
  ): Promise<void> {
    return this.#queued(() => {
      validateMvccKey(key, this.#limits);
      const intent = this.getIntent(key);
      if (intent === undefined || intent.txnId !== txnId) {
        throw new RangeDbError(
          ErrorCode.NOT_FOUND,
          `Cannot commit intent as the key holds no intent of the transaction: transaction is ${txnId}, holder is ${
            intent?.txnId ?? "none"
          }`,
          { details: { txnId, holder: intent?.txnId } },
        );
      }
      const batch = this.#engine.batch();
      new MvccBatch(this.#engine, batch, this.#limits).commitIntent(intent, commitTimestamp);
      return this.#engine.write(batch, options);
    });
  }

  /**
   * Garbage-collects `[start, end)` at `threshold` (see `mvcc_gc.ts` for what is kept), one
   * bounded engine transaction at a time.
   *
   * @param threshold the GC threshold; nothing may be written at or below it afterwards
   * @param options bounds, per-batch limits, sync, signal
   * @returns versions deleted and transactions written
   * @throws {RangeDbError} CANCELLED when `signal` aborts between batches
   * @throws {RangeDbError} INVALID_ARGUMENT when `maxDeletes` or `maxScanned` is not a positive
   * integer
   */
  async gc(threshold: Timestamp, options: GcOptions = {}): Promise<GcResult> {
    const { signal, sync } = options;
    let start = options.start;
    let deleted = 0;
    let batches = 0;
    for (;;) {
      if (signal?.aborted) {
        throw new RangeDbError(
          ErrorCode.CANCELLED,
          "Cannot finish garbage collection as it was cancelled",
          {
            cause: signal.reason,
            details: { deleted, batches },
          },
        );
      }
      const result = await this.#queued(async () => {
        const batch = this.#engine.batch();
        const result = addGcDeletes(this.#engine, batch, threshold, { ...options, start });
        if (batch.count > 0) await this.#engine.write(batch, { sync });
        return result;
      });
      if (result.deleted > 0) batches++;
      deleted += result.deleted;
      if (result.resumeKey === undefined) return { deleted, batches };
      start = result.resumeKey;
    }
  }
}
