/**
 * The store's API as the layers above it (`src/rpc`, `src/server`) use it: client reads and
 * writes, membership, and status. {@linkcode ./store.ts} implements it.
 *
 * Keys here are raw user keys (bytes starting with "/"); the rpc layer validates them before it
 * calls. Versions are commit timestamps packed into one bigint (`wall ms << 16 | logical`, see
 * `version.ts`).
 *
 * Errors are {@linkcode RangeDbError}s:
 * - NOT_LEADER: this node does not lead the range; `details.leaderNodeId` (0 when unknown). The
 *   rpc layer forwards the request to the leader (writes) or retries.
 * - UNAVAILABLE: no leader or quorum within the deadline, or the proposal was dropped by a
 *   leadership change before it could be known to apply (the outcome is then unknown:
 *   `details.ambiguous` true; a retry with the same request id is safe).
 * - TIMEOUT: the deadline passed while waiting (the outcome of a write is unknown).
 * - INVALID_ARGUMENT: a write that the state machine refuses (limits), or a batch whose keys lie
 *   in more than one range (`details.crossRange`; atomic batches across ranges are not built
 *   yet).
 * - RANGE_NOT_FOUND: no replica on this node holds the key (`details.key`); the rpc layer finds
 *   the range with `lookupRange` and forwards.
 * - RANGE_MOVED: the key's range kept moving (split, merged, frozen for a merge) until the
 *   deadline; nothing was applied, a retry is safe.
 *
 * @module
 */

/** One write of a batch. */
export type WriteOp =
  | { type: "put"; key: Uint8Array; value: Uint8Array }
  | { type: "delete"; key: Uint8Array };

/** Options shared by every call. */
export interface CallOptions {
  /** Absolute deadline, ms since the epoch (Date.now() scale). @default now + 5000 */
  deadline?: number;
}

/** Options of a write. */
export interface WriteOptions extends CallOptions {
  /** The client's idempotency key; empty or absent disables deduplication. */
  requestId?: string;
}

/** Options of a read. */
export interface ReadOptions extends CallOptions {
  /** Serve from this replica's applied state without a ReadIndex round. @default false */
  serializable?: boolean;
}

/** The result of a write. */
export interface WriteResult {
  version: bigint;
}

/** The result of a delete. */
export interface DeleteResult extends WriteResult {
  /** Whether the key existed before. */
  deleted: boolean;
}

/** The result of a compare-and-swap. */
export interface CompareAndSwapResult {
  succeeded: boolean;
  /** Whether the key existed when compared. */
  found: boolean;
  /** The value found when not succeeded (undefined when absent). */
  actual?: Uint8Array;
  /** The version written when succeeded; 0n otherwise. */
  version: bigint;
}

/** A compare-and-swap. */
export interface CompareAndSwap {
  key: Uint8Array;
  /** undefined: the key must be absent. */
  expected: Uint8Array | undefined;
  /** undefined: delete the key when the comparison holds. */
  value: Uint8Array | undefined;
}

/** A key, its newest value and that value's version. */
export interface VersionedValue {
  key: Uint8Array;
  value: Uint8Array;
  version: bigint;
}

/** Options of a scan. */
export interface ScanOptions extends ReadOptions {
  /** At most this many keys; 0 or absent: no limit. */
  limit?: number;
  reverse?: boolean;
  keysOnly?: boolean;
  /**
   * The deadline of each part (range) after the first: now + this when the part starts, so a
   * long scan that its consumer drains slowly is not bound to the first part's `deadline`.
   * Absent: every part must finish by `deadline`.
   */
  partBudgetMs?: number;
}

/** A node as the store knows it (from `_/cluster/nodes/…` and range 1's configuration). */
export interface NodeInfo {
  name: string;
  nodeId: number;
  peerAddress: string;
  clientAddress: string;
  adminAddress: string;
  role: "voter" | "learner" | "none";
  leader: boolean;
  reachable: boolean;
  matchIndex: number;
  updatedAtMs: number;
}

/** A range as this node's replica knows it (or, without a local replica, as the meta copy does). */
export interface RangeInfo {
  rangeId: number;
  start: Uint8Array;
  /** Empty: the end of the key space. */
  end: Uint8Array;
  generation: number;
  voters: number[];
  learners: number[];
  /** 0 when unknown (or no local replica). */
  leaderNodeId: number;
  term: number;
  commitIndex: number;
  appliedIndex: number;
  /** Live keys and their key + value bytes (replicated stats; 0 without a local replica). */
  liveKeys: number;
  liveBytes: number;
  /** Commands this node's replica applied per second over the last 10 s. */
  writesPerSecond: number;
  /** Non-zero while frozen for a merge into that range. */
  frozenIntoRangeId: number;
  /** Whether this node holds a replica of the range (false: from the meta copy only). */
  local: boolean;
}

/** A split or merge this node coordinates. */
export interface MigrationInfo {
  kind: "split" | "merge";
  rangeId: number;
  /** Merge: the absorbing range. Split: the new range once allocated (0 before). */
  otherRangeId: number;
  /** Split: the split key (empty for merges). */
  key: Uint8Array;
  state: "allocating" | "splitting" | "freezing" | "waiting" | "merging" | "aborting";
  startedAtMs: number;
  reason: "manual" | "size" | "keys" | "load" | "small";
  nodeId: number;
}

/** The outcome of a split (or, with `dryRun`, what it would be). */
export interface SplitOutcome {
  /** The new range `[start, key)`. */
  left: RangeInfo;
  /** The parent, now `[key, end)`. */
  right: RangeInfo;
  dryRun: boolean;
}

/** The outcome of a merge (or, with `dryRun`, what it would be). */
export interface MergeOutcome {
  /** The right-hand neighbour after absorbing `subsumedRangeId`. */
  merged: RangeInfo;
  subsumedRangeId: number;
  dryRun: boolean;
}

/** A raw entry of the system keyspace (`_/…`). */
export interface MetaEntry {
  key: Uint8Array;
  value: Uint8Array;
  version: bigint;
}

/** What a joining node tells the cluster about itself. */
export interface JoinRecord {
  name: string;
  peerAddress: string;
  clientAddress: string;
  adminAddress: string;
  /** The random id of the node's data directory. */
  incarnation: string;
}

/** What a joining node is told. */
export interface JoinResult {
  clusterId: string;
  nodeId: number;
  /** Peer addresses of the current members, by node id. */
  peerAddresses: Map<number, string>;
}

/** A node's store as used by the rpc and server layers. */
export interface KvStore {
  /** This node's id. */
  readonly nodeId: number;
  readonly clusterId: string;

  get(key: Uint8Array, options?: ReadOptions): Promise<VersionedValue | undefined>;
  /**
   * The keys of [start, end) (end empty: the end of the user keyspace), newest values; yields
   * chunks of at most `chunkSize` pairs. The scan walks the ranges of the span (leftward when
   * `reverse`): each range's part is read at its own read point from one consistent snapshot,
   * so a scan across ranges is not one snapshot (docs/design/0009).
   *
   * @throws {RangeDbError} RANGE_NOT_FOUND, after yielding everything before it, when no local
   *   replica holds the next part: `details.key` is the part's first key (forward) or its
   *   exclusive end (reverse), `details.reverse` the direction; RANGE_MOVED when a part's range
   *   kept moving until the deadline
   */
  scan(
    start: Uint8Array,
    end: Uint8Array,
    options?: ScanOptions & { chunkSize?: number },
  ): AsyncIterable<VersionedValue[]>;
  put(key: Uint8Array, value: Uint8Array, options?: WriteOptions): Promise<WriteResult>;
  delete(key: Uint8Array, options?: WriteOptions): Promise<DeleteResult>;
  /** Writes all of `ops` atomically at one version. */
  batch(ops: WriteOp[], options?: WriteOptions): Promise<WriteResult>;
  compareAndSwap(cas: CompareAndSwap, options?: WriteOptions): Promise<CompareAndSwapResult>;

  /**
   * Handles a join on the leader of range 1 (NOT_LEADER elsewhere; the rpc layer forwards).
   * Idempotent for the same name and incarnation; a name recorded with another non-empty
   * incarnation (a node that lost its data directory) is refused with FAILED_PRECONDITION.
   */
  join(
    record: JoinRecord,
    options?: CallOptions,
  ): Promise<JoinResult>;

  /**
   * Checks from this node's applied state, without writing, that a node may take part: throws
   * FAILED_PRECONDITION when `clusterId` is non-empty and not this cluster's, or when a node
   * named `name` is recorded with a non-empty incarnation other than `incarnation`.
   */
  checkMember(name: string, incarnation: string, clusterId: string): void;

  /**
   * Whether node `nodeId` may exchange Raft messages as `incarnation`: false only when its
   * record holds another non-empty incarnation (the node lost its data directory and must not
   * vote as the voter it was). Unknown nodes and empty incarnations pass.
   */
  incarnationMatches(nodeId: number, incarnation: string): boolean;

  /** Node id of range 1's leader as known here; 0 when unknown. */
  leaderNodeId(): number;
  /** Whether range 1 has a leader that this node can reach through Raft and it has applied
   * everything up to the leader's commit as of the last heartbeat (serves reads and writes). */
  isReady(): boolean;
  /** The nodes known to the cluster. */
  nodes(): NodeInfo[];
  /** The ranges this node holds a replica of. */
  ranges(): RangeInfo[];
  /** The configured replication factor (from `_/cluster/config/replication_factor`). */
  replicationFactor(): number;
  /** Peer address of a node; undefined when unknown. */
  peerAddressOf(nodeId: number): string | undefined;
  /** Client address of a node; undefined when unknown. */
  clientAddressOf(nodeId: number): string | undefined;

  // ---- Ranges (docs/design/0009) ----

  /**
   * The range holding `key` as this node knows it: its local replica's descriptor and leader, or
   * else the meta copy's descriptor (leader 0).
   *
   * @throws {RangeDbError} RANGE_NOT_FOUND when neither a local replica nor the local meta copy
   *   holds it (the rpc layer then asks range 1's leader)
   */
  lookupRange(key: Uint8Array): RangeInfo;
  /**
   * Every range of the cluster in key order: the meta copy of range 1 (read linearizably through
   * this node's replica of range 1), with this node's replica state where it holds one.
   *
   * @throws {RangeDbError} RANGE_NOT_FOUND without a local replica of range 1; UNAVAILABLE/TIMEOUT
   */
  listRanges(options?: ReadOptions): Promise<RangeInfo[]>;
  /**
   * Entries of the system keyspace with `prefix` (starting with `_/`), newest values, read
   * through this node's replica of range 1 (linearizable unless `serializable`).
   *
   * @returns at most `limit` entries and whether more exist
   * @throws {RangeDbError} INVALID_ARGUMENT for a prefix outside `_/`; RANGE_NOT_FOUND without a
   *   local replica of range 1
   */
  metaScan(
    prefix: Uint8Array,
    limit: number,
    options?: ReadOptions,
  ): Promise<{ entries: MetaEntry[]; more: boolean }>;
  /** One entry of the system keyspace; undefined when absent. Errors as {@linkcode metaScan}. */
  metaGet(key: Uint8Array, options?: ReadOptions): Promise<MetaEntry | undefined>;
  /**
   * The cluster settings stored under `_/cluster/config/` (name → text form; settings at their
   * default are absent), read through this node's replica of range 1 (linearizable unless
   * `serializable`).
   *
   * @throws {RangeDbError} RANGE_NOT_FOUND without a local replica of range 1; UNAVAILABLE/TIMEOUT
   */
  clusterSettings(options?: ReadOptions): Promise<Map<string, string>>;
  /**
   * Writes one cluster setting on range 1 after validating it alone and together with the
   * settings this node's replica of range 1 holds (read linearizably first); with `dryRun` only
   * validates.
   *
   * @throws {RangeDbError} INVALID_ARGUMENT for an unknown setting, a bad value or a broken rule
   *   between settings; RANGE_NOT_FOUND without a local replica of range 1; UNAVAILABLE/TIMEOUT
   */
  setClusterSetting(
    name: string,
    value: string,
    options?: CallOptions & { dryRun?: boolean },
  ): Promise<void>;
  /**
   * Proposes an internal command (a serialized RaftCommand: split, merge, meta update …) on this
   * node's leader replica of the range holding `key`; resolves with the serialized CommandResult
   * once it applied here. A deterministic refusal comes back as a result with its error code.
   *
   * @throws {RangeDbError} NOT_LEADER (details.leaderNodeId, rangeId), RANGE_NOT_FOUND,
   *   RANGE_MOVED, UNAVAILABLE, TIMEOUT
   */
  proposeCommand(key: Uint8Array, command: Uint8Array, options?: CallOptions): Promise<Uint8Array>;
  /**
   * Waits until this node's replica of `rangeId` has durably applied `index`.
   *
   * @returns the applied index
   * @throws {RangeDbError} RANGE_NOT_FOUND when this node holds no replica of it (or it was merged
   *   away: details.mergedIntoRangeId), TIMEOUT at the deadline
   */
  waitApplied(rangeId: number, index: number, options?: CallOptions): Promise<number>;
  /**
   * Splits the range holding `key` at `key` (coordinated from this node: allocate an id from
   * range 1, propose Split on the parent's leader, update the meta copy).
   *
   * @throws {RangeDbError} INVALID_ARGUMENT for a key that is already a range boundary or lies in
   *   `_/`; UNAVAILABLE/TIMEOUT
   */
  splitRange(key: Uint8Array, options?: CallOptions & { dryRun?: boolean }): Promise<SplitOutcome>;
  /**
   * Merges range `rangeId` into its right-hand neighbour (Subsume, wait, Merge, meta update;
   * aborted and unfrozen when a step fails).
   *
   * @throws {RangeDbError} NOT_FOUND for an unknown range; FAILED_PRECONDITION when it has no
   *   right-hand neighbour, the neighbours' replicas differ, or the merge would cross `_/`;
   *   UNAVAILABLE/TIMEOUT
   */
  mergeRange(rangeId: number, options?: CallOptions & { dryRun?: boolean }): Promise<MergeOutcome>;
  /** The splits and merges this node coordinates right now. */
  migrations(): MigrationInfo[];
  /**
   * A block of `count` consecutive timestamps from this node's timestamp oracle (range 1's
   * leader), waiting for it to become ready.
   *
   * @returns the first of the block
   * @throws {RangeDbError} NOT_LEADER (details.leaderNodeId: range 1's leader) off range 1's
   *   leader; INVALID_ARGUMENT for a count outside 1…100,000; UNAVAILABLE at the deadline
   */
  allocateTimestamps(count: number, options?: CallOptions): Promise<bigint>;

  /**
   * Hands leadership of every range this node leads to the most caught-up voter and waits up to
   * `timeoutMs` for it to move. Used by graceful shutdown.
   */
  transferLeadershipAway(timeoutMs: number): Promise<void>;
  /** Stops the scheduler, fails pending requests with UNAVAILABLE; does not close the engine. */
  stop(): Promise<void>;
}
