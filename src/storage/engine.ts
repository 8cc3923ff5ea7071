/**
 * The storage engine contract: named, ordered byte keyspaces with atomic batches and consistent
 * snapshots. Everything above `src/storage` (MVCC, raft log, node metadata) stores bytes through
 * this interface only. Two implementations: {@link ./lmdb_engine.ts} (production) and
 * {@link ./memory_engine.ts} (unit tests of pure logic). `tests/unit/storage/conformance.ts`
 * runs one suite against both.
 *
 * Keys and values are raw bytes. Keys compare as unsigned bytes, lexicographically (a shorter key
 * that is a prefix of a longer one sorts first).
 *
 * @module
 */

/** The keyspaces of a RangeDB node (ARCHITECTURE §4). */
export const KEYSPACES = [
  "data",
  "locks",
  "raft_log",
  "raft_state",
  "dedupe",
  "txn",
  "local",
] as const;

/** One named keyspace. */
export type Keyspace = typeof KEYSPACES[number];

/**
 * The longest key any engine accepts, in bytes (64 KiB). Keys are also never empty. A batch
 * holding a key outside 1..MAX_ENGINE_KEY_BYTES fails as a whole. The LMDB engine stores keys
 * longer than LMDB's own limit transparently (see `_long_key.ts`), so every engine behaves alike.
 */
export const MAX_ENGINE_KEY_BYTES = 65536;

/** A key/value pair returned by iteration. Both arrays belong to the caller. */
export interface KeyValue {
  key: Uint8Array;
  value: Uint8Array;
}

/** Bounds and direction of an ordered iteration. */
export interface ScanOptions {
  /** Inclusive lower bound. @default the first key */
  start?: Uint8Array;
  /** Exclusive upper bound. @default past the last key */
  end?: Uint8Array;
  /** Iterate from the upper bound down to the lower bound. @default false */
  reverse?: boolean;
  /** Stop after this many pairs. @default unlimited */
  limit?: number;
}

/** Read access, either to the latest committed state or to a snapshot of it. */
export interface Reader {
  /** Returns the value of `key`, or undefined when absent. */
  get(keyspace: Keyspace, key: Uint8Array): Uint8Array | undefined;
  /**
   * Iterates pairs in key order (or reverse order) within the bounds, lazily: an iteration sees
   * the state as of its first step, and writes committed while it runs are not seen by it.
   */
  scan(keyspace: Keyspace, options?: ScanOptions): Iterable<KeyValue>;
  /**
   * The fast path of {@linkcode Reader.scan} for layers that copy only what they keep (MVCC):
   * calls `visit` with each pair in order, eagerly, over the state as of the call, until it
   * returns false. The arrays passed are views valid only during that one call (the engine
   * reuses their memory for the next pair): never modify or keep them, copy instead. `visit`
   * may read through the same reader, but the views it holds are invalid from then on.
   */
  visitViews(keyspace: Keyspace, options: ScanOptions | undefined, visit: ViewVisitor): void;
}

/**
 * Receives one pair of {@linkcode Reader.visitViews}; both arrays are borrowed for the call.
 * Returning false stops the iteration; any other result continues it.
 */
export type ViewVisitor = (key: Uint8Array, value: Uint8Array) => boolean | void;

/**
 * A consistent, point-in-time view: writes committed after it was taken are invisible to it.
 * Must be closed; an unclosed snapshot pins old pages in LMDB.
 */
export interface Snapshot extends Reader {
  close(): void;
}

/**
 * Writes collected in memory and applied atomically by {@linkcode Engine.write}. The batch keeps
 * the key and value arrays it is given without copying them (the LMDB engine hands them to its
 * writer thread): do not modify or reuse them until the write has resolved.
 */
export interface WriteBatch {
  put(keyspace: Keyspace, key: Uint8Array, value: Uint8Array): void;
  delete(keyspace: Keyspace, key: Uint8Array): void;
  /** Deletes every key in [start, end). */
  deleteRange(keyspace: Keyspace, start: Uint8Array, end: Uint8Array): void;
  /** Number of operations collected. */
  readonly count: number;
  /** Approximate bytes of keys and values collected. */
  readonly byteSize: number;
}

/** Options of {@linkcode Engine.write}. */
export interface WriteOptions {
  /**
   * Wait until the batch is durable on disk (fsync) before resolving. Without it the batch is
   * atomic and visible at once but may be lost by a machine crash (not by a process crash).
   * @default true
   */
  sync?: boolean;
}

/** Size statistics of one keyspace. */
export interface KeyspaceStats {
  entries: number;
  /** Bytes of keys plus values stored (logical size). */
  logicalBytes: number;
}

/** Size statistics of the engine. */
export interface EngineStats {
  keyspaces: Record<Keyspace, KeyspaceStats>;
  /** Bytes the engine occupies on disk (0 for the in-memory engine). */
  diskBytes: number;
}

/** An open storage engine. */
export interface Engine extends Reader {
  /** Starts an empty batch. */
  batch(): WriteBatch;
  /**
   * Applies every operation of `batch` in one atomic transaction (all or nothing), in the
   * order they were added. Rejects with INVALID_ARGUMENT, having applied nothing, when an
   * operation is malformed (empty key, key over {@linkcode MAX_ENGINE_KEY_BYTES}, deleteRange
   * with start > end) or the batch did not come from this engine's {@linkcode Engine.batch}.
   */
  write(batch: WriteBatch, options?: WriteOptions): Promise<void>;
  /** Takes a consistent read snapshot. */
  snapshot(): Snapshot;
  /** Size statistics (may scan; not for hot paths). */
  stats(): EngineStats;
  /** Waits for pending writes, then closes. Further calls fail with FAILED_PRECONDITION. */
  close(): Promise<void>;
}
