/**
 * {@linkcode Store}: a node's replicas, driven by one {@linkcode RaftScheduler}, behind the
 * {@linkcode KvStore} API (client reads and writes, membership, status) and the
 * {@linkcode TransportHandler} the peer transport calls.
 *
 * Writes are proposed on the leader of the key's range only (NOT_LEADER elsewhere; the rpc layer
 * forwards) with a timestamp from the {@linkcode TimestampOracle}. Reads are linearizable through
 * a batched ReadIndex on any replica, or serializable from the local applied state. Membership
 * and background duties live in `store_membership.ts`.
 *
 * @module
 */

import type { Clock } from "../base/clock.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { compareBytes, encodeUintTuple, MAX_TIMESTAMP } from "../base/key_encoding.ts";
import type { Logger } from "../base/logger.ts";
import { mvccGet } from "../mvcc/mod.ts";
import type { Engine } from "../storage/mod.ts";
import { type CommandResult, decodeAppliedState, newCommand } from "./command.ts";
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
import { isPlanted } from "./planted_bugs.ts";
import { RaftScheduler, storeStoppedError } from "./raft_scheduler.ts";
import { ReplicaMap } from "./raft_work_set.ts";
import { Replica, type ReplicaDeps, snapshotKey } from "./replica.ts";
import { snapshotPairsInRange } from "./replica_snapshot.ts";
import { StoreMembership } from "./store_membership.ts";
import { scanChunks } from "./store_scan.ts";
import type {
  IncomingSnapshot,
  RaftTransport,
  RangeMessage,
  TransportHandler,
} from "./transport.ts";
import { TimestampOracle } from "./tso.ts";
import { versionOf } from "./version.ts";
import { FIRST_RANGE_ID } from "./bootstrap.ts";

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
  /** Election jitter. @default Math.random */
  random?: () => number;
  /**
   * Called once when a turn fails (the store then serves nothing more): returns the error every
   * waiting and later caller gets, e.g. one naming a full disk. `inWrite` tells a failed batch
   * write (the disk) from a turn that failed before its write (a bug). @default UNAVAILABLE
   */
  onWriteFailure?: (cause: unknown, inWrite: boolean) => RangeDbError;
  /** Longest one batch write may take before the disk counts as stalled; 0 waits forever. */
  maxSyncMs?: number;
}

type CommandBody = NonNullable<Parameters<typeof newCommand>[0]>["body"];

/** The default deadline of a call. */
export const DEFAULT_DEADLINE_MS = 5000;
const USER_START = new Uint8Array([0x2f]); // "/"
const USER_END = new Uint8Array([0x30]); // the byte after "/"

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
      },
      afterTurn: (turned) => this.#afterTurn(turned),
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
      markDirty: (replica) => this.scheduler.markDirty(replica),
    };
    this.tso = new TimestampOracle(this.clock, (upTo) => this.#reserveTimestamps(upTo));
    this.membership = new StoreMembership(this);
  }

  /**
   * Opens the store: loads the replica of every range found in `raft_state` and starts the
   * scheduler.
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

  #deadline(options?: CallOptions): number {
    return options?.deadline ?? this.clock.now() + DEFAULT_DEADLINE_MS;
  }

  #checkRunning(): void {
    if (this.#down()) throw this.#failure ?? storeStoppedError();
  }

  /**
   * The replica whose range holds `key`.
   *
   * @throws {RangeDbError} RANGE_NOT_FOUND when no initialized replica here holds it
   */
  replicaFor(key: Uint8Array): Replica {
    for (const r of this.replicas.values()) {
      const d = r.descriptor;
      if (d === undefined) continue;
      if (compareBytes(key, d.start) < 0) continue;
      if (d.end.length > 0 && compareBytes(key, d.end) >= 0) continue;
      return r;
    }
    throw new RangeDbError(
      ErrorCode.RANGE_NOT_FOUND,
      `Cannot route the request as no range on this node holds the key: node is ${this.nodeId}`,
      { details: { leaderNodeId: this.leaderNodeId() } },
    );
  }

  // ---- Writes ----

  async #write(
    key: Uint8Array,
    body: CommandBody,
    options: WriteOptions | undefined,
  ): Promise<CommandResult> {
    this.#checkRunning();
    const replica = this.replicaFor(key);
    if (!replica.isLeader) throw replica.notLeaderError();
    const deadline = this.#deadline(options);
    const timestamp = this.tso.next() ?? await this.tso.timestamp(deadline);
    const cmd = newCommand({ requestId: options?.requestId ?? "", timestamp, body });
    return replica.propose(cmd, deadline, true);
  }

  async put(key: Uint8Array, value: Uint8Array, options?: WriteOptions): Promise<WriteResult> {
    const r = await this.#write(key, {
      case: "write",
      value: { ops: [{ key, value, delete: false }] },
    }, options);
    return { version: r.version };
  }

  async delete(key: Uint8Array, options?: WriteOptions): Promise<DeleteResult> {
    const r = await this.#write(key, {
      case: "write",
      value: { ops: [{ key, delete: true }] },
    }, options);
    return { version: r.version, deleted: r.succeeded };
  }

  async batch(ops: WriteOp[], options?: WriteOptions): Promise<WriteResult> {
    if (ops.length === 0) {
      throw new RangeDbError(
        ErrorCode.INVALID_ARGUMENT,
        "Cannot write batch as it has no operations",
      );
    }
    const body = {
      ops: ops.map((op) =>
        op.type === "put"
          ? { key: op.key, value: op.value, delete: false }
          : { key: op.key, delete: true }
      ),
    };
    const r = await this.#write(ops[0].key, { case: "write", value: body }, options);
    return { version: r.version };
  }

  async compareAndSwap(cas: CompareAndSwap, options?: WriteOptions): Promise<CompareAndSwapResult> {
    const r = await this.#write(cas.key, {
      case: "compareAndSwap",
      value: {
        key: cas.key,
        expected: cas.expected ?? new Uint8Array(0),
        expectAbsent: cas.expected === undefined,
        value: cas.value ?? new Uint8Array(0),
        delete: cas.value === undefined,
      },
    }, options);
    return {
      succeeded: r.succeeded,
      found: r.found,
      actual: r.succeeded || !r.found ? undefined : r.actual,
      version: r.succeeded ? r.version : 0n,
    };
  }

  // ---- Reads ----

  async #readPoint(replica: Replica, options: ReadOptions | undefined): Promise<void> {
    if (replica.applied === undefined) {
      throw new RangeDbError(
        ErrorCode.UNAVAILABLE,
        `Cannot read as this node's replica has no data yet: range is ${replica.rangeId}`,
      );
    }
    if (options?.serializable || isPlanted("stale-reads")) return;
    await replica.reads.wait(this.#deadline(options));
  }

  async get(key: Uint8Array, options?: ReadOptions): Promise<VersionedValue | undefined> {
    this.#checkRunning();
    const replica = this.replicaFor(key);
    await this.#readPoint(replica, options);
    const r = mvccGet(this.engine, key, MAX_TIMESTAMP);
    if (r.status === "absent") return undefined;
    if (r.status === "locked") {
      throw new RangeDbError(
        ErrorCode.UNAVAILABLE,
        "Cannot read key as it is locked by a transaction",
      );
    }
    return { key, value: r.value, version: versionOf(r.timestamp) };
  }

  async *scan(
    start: Uint8Array,
    end: Uint8Array,
    options?: ScanOptions & { chunkSize?: number },
  ): AsyncIterable<VersionedValue[]> {
    this.#checkRunning();
    const lo = start.length === 0 ? USER_START : start;
    const hi = end.length === 0 ? USER_END : end;
    if (compareBytes(lo, hi) >= 0) return;
    const replica = this.replicaFor(lo);
    await this.#readPoint(replica, options);
    yield* scanChunks(this.engine, lo, hi, options);
  }

  // ---- Membership and status ----

  join(record: JoinRecord, options?: CallOptions): Promise<JoinResult> {
    this.#checkRunning();
    return this.membership.join(record, this.#deadline(options));
  }

  checkMember(name: string, incarnation: string, clusterId: string): void {
    this.#checkRunning();
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
    return this.membership.ranges();
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

  // ---- Ranges: TEMPORARY placeholders of the issue-7 contract (docs/design/0009), replaced by
  // the implementation before this branch merges. ----

  lookupRange(_key: Uint8Array): RangeInfo {
    throw notYet();
  }

  listRanges(_options?: ReadOptions): Promise<RangeInfo[]> {
    return Promise.reject(notYet());
  }

  metaScan(
    _prefix: Uint8Array,
    _limit: number,
    _options?: ReadOptions,
  ): Promise<{ entries: MetaEntry[]; more: boolean }> {
    return Promise.reject(notYet());
  }

  metaGet(_key: Uint8Array, _options?: ReadOptions): Promise<MetaEntry | undefined> {
    return Promise.reject(notYet());
  }

  proposeCommand(
    _key: Uint8Array,
    _command: Uint8Array,
    _options?: CallOptions,
  ): Promise<Uint8Array> {
    return Promise.reject(notYet());
  }

  waitApplied(_rangeId: number, _index: number, _options?: CallOptions): Promise<number> {
    return Promise.reject(notYet());
  }

  splitRange(
    _key: Uint8Array,
    _options?: CallOptions & { dryRun?: boolean },
  ): Promise<SplitOutcome> {
    return Promise.reject(notYet());
  }

  mergeRange(
    _rangeId: number,
    _options?: CallOptions & { dryRun?: boolean },
  ): Promise<MergeOutcome> {
    return Promise.reject(notYet());
  }

  migrations(): MigrationInfo[] {
    return [];
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

function notYet(): RangeDbError {
  return new RangeDbError(
    ErrorCode.UNAVAILABLE,
    "Cannot serve the request as ranges are not built yet",
  );
}
