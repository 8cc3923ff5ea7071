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
 * - INVALID_ARGUMENT: a write that the state machine refuses (limits).
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

/** A range as this node's replica knows it. */
export interface RangeInfo {
  rangeId: number;
  start: Uint8Array;
  /** Empty: the end of the key space. */
  end: Uint8Array;
  generation: number;
  voters: number[];
  learners: number[];
  leaderNodeId: number;
  term: number;
  commitIndex: number;
  appliedIndex: number;
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
   * The keys of [start, end) (end empty: the end of the user keyspace), newest values, read from
   * one consistent snapshot; yields chunks of at most `chunkSize` pairs.
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

  /**
   * Hands leadership of every range this node leads to the most caught-up voter and waits up to
   * `timeoutMs` for it to move. Used by graceful shutdown.
   */
  transferLeadershipAway(timeoutMs: number): Promise<void>;
  /** Stops the scheduler, fails pending requests with UNAVAILABLE; does not close the engine. */
  stop(): Promise<void>;
}
