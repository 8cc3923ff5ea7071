/**
 * {@linkcode Store}: a node's replicas, driven by one {@linkcode RaftScheduler}, behind the
 * {@linkcode KvStore} API (client reads and writes, membership, status) and the
 * {@linkcode TransportHandler} the peer transport calls.
 *
 * Writes are proposed on the leader of the key's range only (NOT_LEADER elsewhere; the rpc layer
 * forwards) with a timestamp from the {@linkcode TimestampOracle}; a write the range refuses
 * because the key left it (a split or merge applied first: RANGE_MOVED) is re-routed to the
 * replica now holding the key. Reads (`store_reads.ts`) are linearizable through a batched
 * ReadIndex on any replica, or serializable from the local applied state. Family:
 * `store_membership.ts` (membership and background duties), `store_ranges.ts` (routing index,
 * replica lifecycle of splits and merges), `store_meta.ts` (the range API).
 *
 * @module
 */

import type { Clock } from "../base/clock.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { encodeUintTuple } from "../base/key_encoding.ts";
import type { RandomBytes } from "../base/ids.ts";
import type { Logger } from "../base/logger.ts";
import type { Engine } from "../storage/mod.ts";
import { decodeAppliedState, newCommand } from "./command.ts";
import type {
  CallOptions,
  CompareAndSwap,
  CompareAndSwapResult,
  DeleteResult,
  JoinRecord,
  JoinResult,
  KvStore,
  MergeOutcome,
  MetaEntry,
  MigrationInfo,
  NodeInfo,
  RangeInfo,
  ReadOptions,
  ScanOptions,
  SplitOutcome,
  VersionedValue,
  WriteOp,
  WriteOptions,
  WriteResult,
} from "./kv_store.ts";
import { raftStateKey, RaftStateKind, rangeIdOfKey } from "./keys.ts";
import { NO_METRICS, type StoreMetrics } from "./metrics.ts";
import { RaftScheduler, storeStoppedError } from "./raft_scheduler.ts";
import { ReplicaMap } from "./raft_work_set.ts";
import { Replica, type ReplicaDeps, snapshotKey } from "./replica.ts";
import { snapshotPairsInRange } from "./replica_snapshot.ts";
import { StoreMembership } from "./store_membership.ts";
import { StoreRanges } from "./store_ranges.ts";
import { StoreReads } from "./store_reads.ts";
import { StoreWrites } from "./store_writes.ts";
import { StoreCoordination } from "./store_coordination.ts";
import { TimestampSource } from "./timestamp_source.ts";
import type { SplitSettings } from "./range_queue_deps.ts";
import { StoreMeta } from "./store_meta.ts";
import type { ClusterRouter } from "./cluster_router.ts";
import type {
  IncomingSnapshot,
  RaftTransport,
  RangeMessage,
  TransportHandler,
} from "./transport.ts";
import { TimestampOracle } from "./tso.ts";
import { FIRST_RANGE_ID } from "./bootstrap.ts";
import { isPlanted } from "./planted_bugs.ts";

/** The options of {@linkcode Store.open}. */
export interface StoreOptions {
  engine: Engine;
  /**
   * Who this node is. `incarnation` is the random id of its data directory: its node record
   * carries it, so that a node that lost its data cannot take its old place.
   */
  identity: { clusterId: string; nodeId: number; name: string; incarnation: string };
  self: { peerAddress: string; clientAddress: string; adminAddress: string };
  /** Peer addresses known before node records apply (initial --peers, or the join answer). */
  initialPeers: Map<number, string>;
  transport: RaftTransport;
  /** Used for every timer and every reading of the time. */
  clock: Clock;
  logger: Logger;
  /** @default NO_METRICS */
  metrics?: StoreMetrics;
  /** Raft timing. @default { tickIntervalMs: 100, electionTick: 10, heartbeatTick: 1 } */
  raft?: { tickIntervalMs?: number; electionTick?: number; heartbeatTick?: number };
  /**
   * Log truncation: past `threshold` applied entries the log keeps the last `keep` (tests use
   * small logs to exercise snapshots). @default 10,000 and 1,000
   */
  logTruncation?: { threshold: number; keep: number };
  /** Election jitter. @default Math.random */
  random?: () => number;
  /**
   * Random bytes of the replicas' first proposal sequence and ReadIndex nonce; the simulation
   * seeds it (with `random`) so that one seed gives one run. @default cryptoRandomBytes
   */
  randomBytes?: RandomBytes;
  /**
   * Thresholds of the split and merge queues that replace the cluster settings' (whose minimums,
   * 64 KiB and 1,000 keys, keep a test's few keys in one range); tests and the simulation only.
   * @default the cluster settings
   */
  rangeThresholds?: Partial<SplitSettings>;
  /**
   * Called once when a turn fails (the store then serves nothing more): returns the error every
   * waiting and later caller gets, e.g. one naming a full disk. `inWrite` tells a failed batch
   * write (the disk) from a turn that failed before its write (a bug). @default UNAVAILABLE
   */
  onWriteFailure?: (cause: unknown, inWrite: boolean) => RangeDbError;
  /** Longest one batch write may take before the disk counts as stalled; 0 waits forever. */
  maxSyncMs?: number;
  /**
   * How the store reaches ranges on other nodes (split and merge coordinators, meta sync); the
   * server passes the gRPC one, tests an in-process one.
   */
  router?: ClusterRouter;
  /**
   * Whether the background range duties run: the split and merge queues (the bootstrap split at
   * `_/` included) and the meta sync. Tests that lay out ranges by hand turn them off.
   * @default true
   */
  rangeQueues?: boolean;
}

/** The default deadline of a call. */
export const DEFAULT_DEADLINE_MS = 5000;

/** A node's multi-raft store. */
export class Store implements KvStore, TransportHandler {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly options: StoreOptions;
  readonly engine: Engine;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly replicas = new ReplicaMap();
  readonly tso: TimestampOracle;
  readonly scheduler: RaftScheduler;
  readonly membership: StoreMembership;
  readonly rangeSet: StoreRanges;
  readonly reads: StoreReads;
  readonly writes: StoreWrites;
  readonly meta: StoreMeta;
  readonly coordination: StoreCoordination;
  /** Timestamps of writes: the local oracle, or blocks from range 1's leader. */
  readonly timestamps: TimestampSource;
  readonly tickIntervalMs: number;
  readonly electionTick: number;
  readonly #replicaDeps: ReplicaDeps;
  #stopped = false;
  /** Why the store stopped serving, once a batch could not be written. */
  #failure: RangeDbError | undefined;

  private constructor(options: StoreOptions) {
    this.options = options;
    this.nodeId = options.identity.nodeId;
    this.clusterId = options.identity.clusterId;
    this.engine = options.engine;
    this.clock = options.clock;
    this.logger = options.logger.with({ node_id: this.nodeId });
    const metrics = options.metrics ?? NO_METRICS;
    this.tickIntervalMs = options.raft?.tickIntervalMs ?? 100;
    this.electionTick = options.raft?.electionTick ?? 10;
    this.rangeSet = new StoreRanges({
      nodeId: this.nodeId,
      engine: this.engine,
      logger: this.logger,
      replicas: this.replicas,
      newReplica: (rangeId, applied) => new Replica(this.#replicaDeps, rangeId, applied),
      now: () => this.clock.now(),
      wake: () => this.scheduler.wake(),
    });
    this.scheduler = new RaftScheduler({
      engine: this.engine,
      transport: options.transport,
      clock: this.clock,
      logger: this.logger,
      metrics,
      nodeId: this.nodeId,
      tickIntervalMs: this.tickIntervalMs,
      electionTick: this.electionTick,
      maxSyncMs: options.maxSyncMs,
      replicas: this.replicas,
      onTick: () => {
        // The oracle renews its reservation on ticks too: an idle single-node cluster has no
        // turns (no heartbeats), and its reservation would otherwise lapse for good.
        this.#updateTso();
        // Writes wait for the oracle before they have a proposal to expire with their replica.
        this.tso.expire(this.clock.now());
        this.membership.onTick();
        this.coordination.onTick();
      },
      afterTurn: (turned) => this.#afterTurn(turned),
      lifecycle: this.rangeSet,
      onFatal: (err, inWrite) => this.#fatal(err, inWrite),
    });
    this.#replicaDeps = {
      engine: this.engine,
      nodeId: this.nodeId,
      clock: this.clock,
      logger: this.logger,
      metrics,
      electionTick: this.electionTick,
      heartbeatTick: options.raft?.heartbeatTick ?? 1,
      random: options.random ?? Math.random,
      randomBytes: options.randomBytes,
      markDirty: (replica) => this.scheduler.markDirty(replica),
      isLive: (nodeId) => this.scheduler.liveness.isLive(nodeId),
      spanChanged: () => this.rangeSet.spanChanged(),
      logTruncation: options.logTruncation,
    };
    this.tso = new TimestampOracle(this.clock, (upTo) => this.#reserveTimestamps(upTo));
    this.membership = new StoreMembership(this);
    this.reads = new StoreReads(this);
    this.writes = new StoreWrites(this);
    this.meta = new StoreMeta(this);
    this.coordination = new StoreCoordination(this, {
      router: options.router,
      queues: options.rangeQueues,
      thresholds: options.rangeThresholds,
    });
    this.timestamps = new TimestampSource(
      this.tso,
      () => this.coordination.router,
      () => this.firstRange()?.isLeader ?? false,
    );
  }

  /**
   * Opens the store: loads the replica of every range found in `raft_state` (ranges merged away
   * leave only their tombstone) and starts the scheduler.
   *
   * @param options engine, identity, transport, clock …
   * @returns the running store
   */
  static open(options: StoreOptions): Promise<Store> {
    const store = new Store(options);
    let rangeId = 0;
    for (;;) {
      let found: number | undefined;
      const start = encodeUintTuple([rangeId + 1]);
      options.engine.visitViews("raft_state", { start, limit: 1 }, (key) => {
        found = rangeIdOfKey(key);
      });
      if (found === undefined) break;
      rangeId = found;
      if (store.rangeSet.loadTombstone(rangeId)) continue;
      const bytes = options.engine.get(
        "raft_state",
        raftStateKey(rangeId, RaftStateKind.AppliedState),
      );
      store.#addReplica(rangeId, bytes === undefined ? undefined : decodeAppliedState(bytes));
    }
    store.scheduler.start();
    store.logger.info("store opened", { ranges: store.replicas.size });
    return Promise.resolve(store);
  }

  #addReplica(
    rangeId: number,
    applied: ReturnType<typeof decodeAppliedState> | undefined,
  ): Replica {
    const replica = new Replica(this.#replicaDeps, rangeId, applied);
    this.replicas.set(rangeId, replica);
    return replica;
  }

  /** Range 1's replica, when this node has one. */
  firstRange(): Replica | undefined {
    return this.replicas.get(FIRST_RANGE_ID);
  }

  #updateTso(): void {
    const r1 = this.firstRange();
    if (r1 === undefined || r1.applied === undefined) return;
    this.tso.update({
      isLeader: r1.isLeader,
      term: r1.term,
      appliedTerm: Number(r1.applied.appliedTerm),
      highWaterMs: Number(r1.applied.tsoHighWaterMs),
      lastVersion: r1.applied.lastVersion,
    });
  }

  #afterTurn(turned: readonly Replica[]): void {
    this.#updateTso();
    for (const r of turned) {
      if (!r.systemChanged) continue;
      r.systemChanged = false;
      this.membership.invalidate();
    }
  }

  #reserveTimestamps(upToMs: number): Promise<void> {
    const r1 = this.firstRange();
    if (r1 === undefined) return Promise.reject(storeStoppedError());
    const cmd = newCommand({ body: { case: "tsoReserve", value: { upToWallMs: BigInt(upToMs) } } });
    return r1.propose(cmd, this.clock.now() + DEFAULT_DEADLINE_MS, true).then(() => {});
  }

  /**
   * Stops serving after a batch could not be written (the scheduler has stopped): the store
   * reports not ready, drops what peers send, and fails every waiting and later caller. It never
   * writes again: what the failed batch left in memory and in the page cache is unknown.
   */
  #fatal(cause: unknown, inWrite: boolean): void {
    // Ambiguous: a leader sends its appends before its own write, so the entry may commit.
    const failure = this.#failure = this.options.onWriteFailure?.(cause, inWrite) ??
      new RangeDbError(ErrorCode.UNAVAILABLE, `Cannot continue as a raft batch failed: ${cause}`, {
        cause,
        details: { ambiguous: true },
      });
    const { message: error, code } = failure;
    this.logger.error("store failed: a batch could not be written", {
      error,
      code,
      cause: `${cause}`,
    });
    this.#failAll(failure);
  }

  /** Whether the store was stopped, or failed (its scheduler stopped on a failed batch). */
  #down(): boolean {
    return this.#stopped || this.scheduler.stopped;
  }

  #failAll(err: Error): void {
    for (const r of this.replicas.values()) r.close(err);
    this.tso.close(err);
  }

  /** The absolute deadline of a call. */
  deadlineOf(options?: CallOptions): number {
    return options?.deadline ?? this.clock.now() + DEFAULT_DEADLINE_MS;
  }

  /** Throws the store's failure (or UNAVAILABLE) once it stopped or failed. */
  checkRunning(): void {
    if (this.#down()) throw this.#failure ?? storeStoppedError();
  }

  /**
   * The replica whose range holds `key` (the routing index: initialized replicas by start key).
   *
   * @throws {RangeDbError} RANGE_NOT_FOUND when no initialized replica here holds it
   */
  replicaFor(key: Uint8Array): Replica {
    const r = this.rangeSet.replicaHolding(key);
    if (r !== undefined) return r;
    throw new RangeDbError(
      ErrorCode.RANGE_NOT_FOUND,
      `Cannot route the request as no range on this node holds the key: node is ${this.nodeId}`,
      { details: { leaderNodeId: this.leaderNodeId(), key } },
    );
  }

  // ---- Writes (store_writes.ts) ----

  put(key: Uint8Array, value: Uint8Array, options?: WriteOptions): Promise<WriteResult> {
    return this.writes.put(key, value, options);
  }

  delete(key: Uint8Array, options?: WriteOptions): Promise<DeleteResult> {
    return this.writes.delete(key, options);
  }

  batch(ops: WriteOp[], options?: WriteOptions): Promise<WriteResult> {
    return this.writes.batch(ops, options);
  }

  compareAndSwap(cas: CompareAndSwap, options?: WriteOptions): Promise<CompareAndSwapResult> {
    return this.writes.compareAndSwap(cas, options);
  }

  // ---- Reads (store_reads.ts) ----

  get(key: Uint8Array, options?: ReadOptions): Promise<VersionedValue | undefined> {
    return this.reads.get(key, options);
  }

  scan(
    start: Uint8Array,
    end: Uint8Array,
    options?: ScanOptions & { chunkSize?: number },
  ): AsyncIterable<VersionedValue[]> {
    return this.reads.scan(start, end, options);
  }

  // ---- Membership and status ----

  join(record: JoinRecord, options?: CallOptions): Promise<JoinResult> {
    this.checkRunning();
    return this.membership.join(record, this.deadlineOf(options));
  }

  checkMember(name: string, incarnation: string, clusterId: string): void {
    this.checkRunning();
    this.membership.checkMember(name, incarnation, clusterId);
  }

  incarnationMatches(nodeId: number, incarnation: string): boolean {
    return this.membership.incarnationMatches(nodeId, incarnation);
  }

  leaderNodeId(): number {
    return this.firstRange()?.lead ?? 0;
  }

  isReady(): boolean {
    const r1 = this.firstRange();
    if (r1 === undefined || r1.applied === undefined || r1.lead === 0 || this.#down()) {
      return false;
    }
    return r1.appliedIndex >= r1.storage.hardState().commit;
  }

  nodes(): NodeInfo[] {
    return this.membership.nodes();
  }

  ranges(): RangeInfo[] {
    return this.rangeSet.ranges();
  }

  replicationFactor(): number {
    return this.membership.replicationFactor();
  }

  peerAddressOf(nodeId: number): string | undefined {
    return this.membership.peerAddressOf(nodeId);
  }

  clientAddressOf(nodeId: number): string | undefined {
    return this.membership.clientAddressOf(nodeId);
  }

  // ---- Ranges (store_meta.ts) ----

  lookupRange(key: Uint8Array): RangeInfo {
    return this.meta.lookupRange(key);
  }

  listRanges(options?: ReadOptions): Promise<RangeInfo[]> {
    return this.meta.listRanges(options);
  }

  metaScan(
    prefix: Uint8Array,
    limit: number,
    options?: ReadOptions,
  ): Promise<{ entries: MetaEntry[]; more: boolean }> {
    return this.meta.metaScan(prefix, limit, options);
  }

  metaGet(key: Uint8Array, options?: ReadOptions): Promise<MetaEntry | undefined> {
    return this.meta.metaGet(key, options);
  }

  proposeCommand(
    key: Uint8Array,
    command: Uint8Array,
    options?: CallOptions,
  ): Promise<Uint8Array> {
    return this.meta.proposeCommand(key, command, options);
  }

  clusterSettings(options?: ReadOptions): Promise<Map<string, string>> {
    return this.meta.clusterSettings(options);
  }

  setClusterSetting(
    name: string,
    value: string,
    options?: CallOptions & { dryRun?: boolean },
  ): Promise<void> {
    return this.meta.setClusterSetting(name, value, options);
  }

  waitApplied(rangeId: number, index: number, options?: CallOptions): Promise<number> {
    return this.meta.waitApplied(rangeId, index, options);
  }

  // ---- Splits and merges (store_coordination.ts) ----

  splitRange(
    key: Uint8Array,
    options?: CallOptions & { dryRun?: boolean },
  ): Promise<SplitOutcome> {
    this.checkRunning();
    return this.coordination.splitRange(key, options);
  }

  mergeRange(
    rangeId: number,
    options?: CallOptions & { dryRun?: boolean },
  ): Promise<MergeOutcome> {
    this.checkRunning();
    return this.coordination.mergeRange(rangeId, options);
  }

  migrations(): MigrationInfo[] {
    return this.coordination.migrationList();
  }

  allocateTimestamps(count: number, options?: CallOptions): Promise<bigint> {
    this.checkRunning();
    if (!Number.isInteger(count) || count < 1 || count > 100_000) {
      return Promise.reject(
        new RangeDbError(
          ErrorCode.INVALID_ARGUMENT,
          `Cannot hand out timestamps as the count is not between 1 and 100000: count is ${count}`,
        ),
      );
    }
    const r1 = this.firstRange();
    if (r1 === undefined || !r1.isLeader) {
      return Promise.reject(
        new RangeDbError(
          ErrorCode.NOT_LEADER,
          `Cannot hand out timestamps as this node does not lead range 1: leader is ${
            r1?.lead ?? 0
          }`,
          { details: { leaderNodeId: r1?.lead ?? 0, rangeId: 1 } },
        ),
      );
    }
    return this.tso.block(count, this.deadlineOf(options));
  }

  transferLeadershipAway(timeoutMs: number): Promise<void> {
    return this.membership.transferLeadershipAway(timeoutMs);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.scheduler.stop();
    this.#failAll(storeStoppedError());
    this.logger.info("store stopped");
  }

  // ---- TransportHandler ----

  #replicaForMessage(rangeId: number): Replica | undefined {
    if (this.#down()) return undefined;
    const r = this.replicas.get(rangeId);
    if (r !== undefined) return r;
    // A range merged away here: late messages must not recreate it.
    if (this.rangeSet.tombstones.has(rangeId) && !isPlanted("tombstone-ignored")) return undefined;
    this.logger.info("creating uninitialized replica", { range_id: rangeId });
    return this.#addReplica(rangeId, undefined);
  }

  receive(fromNodeId: number, messages: RangeMessage[]): void {
    if (this.#down()) return;
    this.scheduler.liveness.heard(fromNodeId);
    for (const { rangeId, message, quiesce } of messages) {
      if (message.to !== this.nodeId) {
        this.logger.debug("dropped raft message for another node", {
          from: fromNodeId,
          to: message.to,
        });
        continue;
      }
      this.#replicaForMessage(rangeId)?.enqueueMessage(message, quiesce === true);
    }
  }

  receiveSnapshot(snapshot: IncomingSnapshot): Promise<boolean> {
    const meta = snapshot.message.snapshot?.metadata;
    const replica = this.#replicaForMessage(snapshot.rangeId);
    if (meta === undefined || replica === undefined) return Promise.resolve(false);
    let applied;
    try {
      applied = decodeAppliedState(snapshot.appliedState);
    } catch {
      return Promise.resolve(false);
    }
    if (
      applied.descriptor === undefined || Number(applied.appliedIndex) !== meta.index ||
      !snapshotPairsInRange(snapshot, applied.descriptor)
    ) {
      this.logger.warn("refused snapshot", {
        range_id: snapshot.rangeId,
        from: snapshot.fromNodeId,
      });
      return Promise.resolve(false);
    }
    const overlap = this.rangeSet.snapshotRefusal(snapshot.rangeId, applied.descriptor);
    if (overlap !== undefined) {
      this.logger.info("refused snapshot", {
        range_id: snapshot.rangeId,
        from: snapshot.fromNodeId,
        reason: overlap,
      });
      return Promise.resolve(false);
    }
    replica.stagedSnapshots.set(snapshotKey(meta.index, meta.term), {
      applied,
      pairs: snapshot.pairs,
    });
    return new Promise((resolve) => {
      replica.enqueueMessage(snapshot.message);
      replica.enqueueEvent(() => resolve(true));
      this.scheduler.wake();
    });
  }

  reportUnreachable(nodeId: number): void {
    if (this.#down()) return;
    this.scheduler.reportUnreachable(nodeId);
  }
}
