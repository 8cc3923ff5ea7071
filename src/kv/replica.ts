/**
 * {@linkcode Replica}: this node's member of one range's Raft group. It owns the
 * {@linkcode RawNode} and its {@linkcode ReplicaRaftStorage}, queues what arrives between
 * scheduler turns (messages, proposals, reads, ticks), and keeps the callers waiting for their
 * proposals and reads. The scheduler (`raft_scheduler.ts`) drives it: `drainInbox()`, then
 * `stageReady()` into the turn's batch, then after the write `commitReady()`, then `advance()`.
 *
 * Family: `replica_apply.ts` (applying committed entries), `replica_snapshot.ts` (snapshots
 * sent and installed), `replica_reads.ts` (batched ReadIndex).
 *
 * @module
 */

import type { Clock } from "../base/clock.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { cryptoRandomBytes, type RandomBytes } from "../base/ids.ts";
import { compareBytes } from "../base/key_encoding.ts";
import type { Logger } from "../base/logger.ts";
import {
  type ConfChange,
  isRaftError,
  type Message,
  MessageType,
  RawNode,
  ReadOnlyOption,
  type Ready,
  type Snapshot,
  StateType,
} from "../raft/mod.ts";
import type { Engine, WriteBatch } from "../storage/mod.ts";
import {
  type CommandResult,
  confStateOf,
  encodeAppliedState,
  encodeCommand,
  encodeProposalId,
  type RaftCommand,
  type RangeAppliedState,
  type RangeDescriptor,
} from "./command.ts";
import { raftStateKey, RaftStateKind } from "./keys.ts";
import type { StoreMetrics } from "./metrics.ts";
import { ReplicaRaftStorage } from "./raft_storage.ts";
import { type ApplyContext, applyEntries } from "./replica_apply.ts";
import { AppliedWaiters } from "./applied_waiters.ts";
import { RateCounter } from "./rate_counter.ts";
import { ReplicaReads } from "./replica_reads.ts";
import { followerMayQuiesce, isStaleAck } from "./replica_quiesce.ts";
import { installSnapshot, type StagedSnapshot } from "./replica_snapshot.ts";

/** What a replica needs from its store. */
export interface ReplicaDeps {
  engine: Engine;
  nodeId: number;
  clock: Clock;
  logger: Logger;
  metrics: StoreMetrics;
  electionTick: number;
  heartbeatTick: number;
  random: () => number;
  /**
   * Random bytes for the first proposal sequence and the ReadIndex nonce (the simulation seeds
   * them). @default cryptoRandomBytes
   */
  randomBytes?: RandomBytes;
  /** Puts the replica in the scheduler's work set (all a turn looks at) and asks for a turn. */
  markDirty(replica: Replica): void;
  /** Whether a node was heard from within an election timeout. @default always */
  isLive?(nodeId: number): boolean;
  /** Called after a turn changed the replica's span (initialized, split, merged, snapshot). */
  spanChanged?(replica: Replica): void;
  /** Log truncation (tests use small logs). @default DEFAULT_LOG_TRUNCATION */
  logTruncation?: { threshold: number; keep: number };
}

/** A caller waiting for its proposal to apply. */
interface ProposalWaiter {
  resolve(result: CommandResult): void;
  reject(err: Error): void;
  deadline: number;
  /** Resolve with error results too (internal commands), instead of rejecting. */
  raw?: boolean;
}

interface QueuedProposal {
  seq: number;
  data?: Uint8Array;
  confChange?: ConfChange;
  requireLeader: boolean;
  waiter: ProposalWaiter;
}

/**
 * A random first proposal sequence in [0, 2^52): a restarted node must not reuse a sequence its
 * previous run proposed (an entry of that run applying late would answer a new caller), whatever
 * its clock does. 2^52 leaves room to count up within safe integers.
 */
function randomSeqStart(random: RandomBytes): number {
  const b = random(new Uint8Array(8));
  const view = new DataView(b.buffer, b.byteOffset, 8);
  return (view.getUint32(0) & 0xfffff) * 0x1_0000_0000 + view.getUint32(4);
}

/** One range's replica on this node. */
export class Replica {
  readonly rangeId: number;
  readonly storage: ReplicaRaftStorage;
  readonly raw: RawNode;
  readonly reads: ReplicaReads;
  readonly #deps: ReplicaDeps;
  readonly #log: Logger;
  /** The durable applied state; undefined while uninitialized (waiting for a snapshot). */
  applied: RangeAppliedState | undefined;
  /** Applied state staged in the current turn's batch. */
  #stagedApplied: RangeAppliedState | undefined;
  #stagedResults: { seq: number; result: CommandResult; beforeWrite: boolean }[] = [];
  /** Leader as last seen; 0 when unknown. */
  lead = 0;
  role: StateType = StateType.Follower;
  term = 0;
  /** Snapshots received and waiting for Raft to hand them back in a Ready. */
  readonly stagedSnapshots = new Map<string, StagedSnapshot>();
  /** Set by a turn that applied node records or a snapshot (the store refreshes its caches). */
  systemChanged = false;
  /**
   * Set when the applied descriptor's generation changed (split, merge, membership, snapshot):
   * the meta sync duty proposes the new descriptor to range 1's meta copy and clears it.
   */
  descriptorChanged = false;
  /** Set when a merge destroyed this replica in the current turn (it sends and answers nothing). */
  destroyed = false;
  /** Callers of `KvStore.waitApplied`. */
  readonly appliedWaiters = new AppliedWaiters();
  /** Key-value commands applied, per second over the last 10 s. */
  readonly writes = new RateCounter();
  #stagedCommands = 0;
  /** Idle: no ticks (`replica_quiesce.ts`). Cleared by anything but a heartbeat (response). */
  quiesced = false;
  /** The commit index of the last tick at which this leader could have quiesced (replica_quiesce.ts). */
  quiesceCommit = -1;
  /** Why the replica was closed (merged away, store stopped): later callers fail with it. */
  #closed: Error | undefined;

  #seq: number;
  #inMessages: Message[] = [];
  /** Parallel to `#inMessages`: whether each message is marked quiesce. */
  #inQuiesce: boolean[] = [];
  #inProposals: QueuedProposal[] = [];
  #inTicks = 0;
  #inEvents: (() => void)[] = [];
  readonly #waiters = new Map<number, ProposalWaiter>();

  /**
   * Loads (or creates, uninitialized) the replica of `rangeId` from the engine.
   *
   * @param deps the store's services
   * @param rangeId the range
   * @param applied the persisted applied state; undefined for a replica waiting for a snapshot
   */
  constructor(deps: ReplicaDeps, rangeId: number, applied: RangeAppliedState | undefined) {
    this.#deps = deps;
    this.rangeId = rangeId;
    this.applied = applied;
    this.#log = deps.logger.with({ range_id: rangeId });
    const randomBytes = deps.randomBytes ?? cryptoRandomBytes;
    this.#seq = randomSeqStart(randomBytes);
    this.storage = ReplicaRaftStorage.load(deps.engine, rangeId, {
      confState: confStateOf(applied?.descriptor),
      snapshot: () => this.#snapshotMetadata(),
    });
    this.raw = new RawNode({
      id: deps.nodeId,
      electionTick: deps.electionTick,
      heartbeatTick: deps.heartbeatTick,
      storage: this.storage,
      applied: applied === undefined ? 0 : Number(applied.appliedIndex),
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      checkQuorum: true,
      preVote: true,
      readOnlyOption: ReadOnlyOption.Safe,
      // Many ranges per node: a commit rides on the next append or heartbeat (0009).
      lazyCommitBroadcast: true,
      random: deps.random,
      logger: this.#log,
    });
    this.term = this.storage.hardState().term;
    this.reads = new ReplicaReads(this, deps.nodeId, () => deps.markDirty(this), randomBytes);
  }

  /** The range descriptor as of the applied index; undefined while uninitialized. */
  get descriptor(): RangeDescriptor | undefined {
    return this.applied?.descriptor;
  }

  /** Whether this replica leads its range. */
  get isLeader(): boolean {
    return this.role === StateType.Leader;
  }

  /** The durable applied index. */
  get appliedIndex(): number {
    return this.applied === undefined ? 0 : Number(this.applied.appliedIndex);
  }

  /** The applied state as the current turn leaves it (staged, else durable). */
  get latestApplied(): RangeAppliedState | undefined {
    return this.#stagedApplied ?? this.applied;
  }

  /** Whether the range is frozen for a merge (it serves nothing but Unfreeze). */
  get frozen(): boolean {
    return (this.applied?.frozenIntoRangeId ?? 0n) !== 0n;
  }

  #snapshotMetadata(): Snapshot {
    const a = this.applied;
    return {
      metadata: {
        index: a === undefined ? 0 : Number(a.appliedIndex),
        term: a === undefined ? 0 : Number(a.appliedTerm),
        confState: confStateOf(a?.descriptor),
      },
      data: new Uint8Array(0),
    };
  }

  // ---- Inbox: filled between turns, drained at the start of one. ----

  /** Queues a message from a peer; `quiesce` when it is a leader's quiesce heartbeat. */
  enqueueMessage(m: Message, quiesce = false): void {
    this.#inMessages.push(m);
    this.#inQuiesce.push(quiesce);
    this.#deps.markDirty(this);
  }

  /** Takes the queued messages (the replica object is being replaced by a new one). */
  takeMessages(): Message[] {
    const msgs = this.#inMessages;
    this.#inMessages = [];
    return msgs;
  }

  /** Queues one tick. */
  enqueueTick(): void {
    this.#inTicks++;
    this.#deps.markDirty(this);
  }

  /** Queues an action on the RawNode (transfer, snapshot report, unreachable). */
  enqueueEvent(fn: () => void): void {
    this.#inEvents.push(fn);
    this.#deps.markDirty(this);
  }

  /**
   * Proposes a command; resolves with its result once it applied here.
   *
   * @param cmd the command (its proposer and sequence are filled in)
   * @param deadline absolute ms
   * @param requireLeader refuse with NOT_LEADER unless this replica leads when it is proposed
   * @param raw resolve with error results (deterministic refusals) instead of rejecting
   * @throws {RangeDbError} NOT_LEADER, UNAVAILABLE (ambiguous when leadership was lost), TIMEOUT
   */
  propose(
    cmd: RaftCommand,
    deadline: number,
    requireLeader: boolean,
    raw = false,
  ): Promise<CommandResult> {
    // A caller that found this replica before it was merged away (or its store stopped) and
    // proposes after: nothing would ever look at its proposal again.
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    const seq = ++this.#seq;
    cmd.proposerNodeId = BigInt(this.#deps.nodeId);
    cmd.proposalSeq = BigInt(seq);
    const data = encodeCommand(cmd);
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject, deadline, raw };
      this.#inProposals.push({ seq, data, requireLeader, waiter });
      this.#deps.markDirty(this);
    });
  }

  /** Proposes a membership change; resolves once it applied here. */
  proposeConfChange(cc: Omit<ConfChange, "context">, deadline: number): Promise<CommandResult> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    const seq = ++this.#seq;
    const confChange = { ...cc, context: encodeProposalId(this.#deps.nodeId, seq) };
    return new Promise((resolve, reject) => {
      this.#inProposals.push({
        seq,
        confChange,
        requireLeader: true,
        waiter: { resolve, reject, deadline },
      });
      this.#deps.markDirty(this);
    });
  }

  /** Whether anything waits in the inbox. */
  hasInbox(): boolean {
    return this.#inMessages.length > 0 || this.#inProposals.length > 0 || this.#inTicks > 0 ||
      this.#inEvents.length > 0 || this.reads.hasQueued();
  }

  /** Whether proposals or reads wait here, queued or for their entry or index to apply. */
  hasPendingWork(): boolean {
    return this.#waiters.size > 0 || this.#inProposals.length > 0 || !this.reads.isIdle();
  }

  /**
   * Feeds everything queued to Raft (start of a turn), and settles `quiesced`: a quiesce
   * heartbeat that finds this replica caught up quiesces it; anything else but a heartbeat
   * response wakes it.
   */
  drainInbox(): void {
    const raw = this.raw;
    let quiesced = this.quiesced;
    if (this.#inTicks > 0) quiesced = false;
    for (; this.#inTicks > 0; this.#inTicks--) raw.tick();
    const msgs = this.#inMessages;
    if (msgs.length > 0) {
      const marks = this.#inQuiesce;
      this.#inMessages = [];
      this.#inQuiesce = [];
      for (let i = 0; i < msgs.length; i++) {
        const m = msgs[i];
        // A quiesced leader stays so for heartbeat responses and stale acks (replica_quiesce.ts).
        const keeps = m.type === MessageType.HeartbeatResp || (quiesced && isStaleAck(raw, m));
        this.#step(m);
        if (keeps) continue;
        quiesced = marks[i] && m.type === MessageType.Heartbeat && followerMayQuiesce(this, m);
      }
    }
    const events = this.#inEvents;
    if (events.length > 0) {
      quiesced = false;
      this.#inEvents = [];
      for (const fn of events) fn();
    }
    const props = this.#inProposals;
    if (props.length > 0) {
      quiesced = false;
      this.#inProposals = [];
      const leading = raw.basicStatus().raftState === StateType.Leader;
      let proposed = 0;
      for (const p of props) if (this.#proposeNow(p, leading)) proposed++;
      if (proposed > 0) this.#deps.metrics.proposed(proposed);
    }
    if (this.reads.hasQueued()) quiesced = false;
    this.reads.issue();
    this.quiesced = quiesced;
  }

  #step(m: Message): void {
    try {
      this.raw.step(m);
    } catch (err) {
      if (isRaftError(err, "ErrInvariant")) throw err;
      this.#log.debug("dropped raft message", { from: m.from, type: m.type, error: String(err) });
    }
  }

  #proposeNow(p: QueuedProposal, leading: boolean): boolean {
    if (p.requireLeader && !leading) {
      p.waiter.reject(this.notLeaderError());
      return false;
    }
    try {
      if (p.confChange !== undefined) this.raw.proposeConfChange(p.confChange);
      else this.raw.propose(p.data!);
    } catch (err) {
      if (!isRaftError(err, "ErrProposalDropped")) throw err;
      p.waiter.reject(
        new RangeDbError(
          ErrorCode.UNAVAILABLE,
          `Cannot propose as Raft dropped the proposal: range is ${this.rangeId}, reason is ${err.message}`,
          { details: { ambiguous: false } },
        ),
      );
      return false;
    }
    this.#waiters.set(p.seq, p.waiter);
    return true;
  }

  /**
   * The NOT_LEADER error of this range, naming the leader known here, unless this node has not
   * heard from the leader's node for an election timeout (then 0: "unknown"), so that nobody is
   * sent to a leader that is probably cut off while the range elects another.
   */
  notLeaderError(): RangeDbError {
    const lead = this.lead !== 0 && (this.#deps.isLive?.(this.lead) ?? true) ? this.lead : 0;
    return new RangeDbError(
      ErrorCode.NOT_LEADER,
      `Cannot serve the request as this node does not lead the range: range is ${this.rangeId}, leader is ${lead}`,
      { details: { leaderNodeId: lead, rangeId: this.rangeId } },
    );
  }

  // ---- One turn. ----

  /**
   * Adds what `rd` asks to persist and apply to the turn's batch.
   *
   * @returns whether the batch must be fsynced for this replica
   */
  stageReady(rd: Ready, batch: WriteBatch, ctx: ApplyContext): boolean {
    if (rd.snapshot !== undefined) this.#stageSnapshot(rd.snapshot, batch, ctx);
    this.storage.appendTo(batch, rd.entries);
    if (rd.hardState !== undefined) this.storage.setHardState(batch, rd.hardState);
    let sync = rd.mustSync;
    if (rd.committedEntries.length > 0) {
      const base = this.#stagedApplied ?? this.applied;
      if (base === undefined) {
        throw new RangeDbError(
          ErrorCode.INTERNAL,
          `Cannot apply entries as the replica has no applied state: range is ${this.rangeId}`,
        );
      }
      const out = applyEntries(this, base, rd.committedEntries, ctx);
      this.#stagedApplied = out.applied;
      this.#stagedCommands += out.appliedCommands;
      for (const r of out.results) this.#stagedResults.push(r);
      if (out.systemChanged) this.systemChanged = true;
      batch.put(
        "raft_state",
        raftStateKey(this.rangeId, RaftStateKind.AppliedState),
        encodeAppliedState(out.applied),
      );
      this.#deps.metrics.applied(this.rangeId, rd.committedEntries.length);
      // Not in a turn installing a snapshot: that replaces the log and its truncated state.
      if (rd.snapshot === undefined) {
        this.storage.truncateIfLong(
          batch,
          Number(out.applied.appliedIndex),
          this.#deps.logTruncation,
        );
      }
      sync = true;
    }
    return sync;
  }

  #stageSnapshot(snap: Snapshot, batch: WriteBatch, ctx: ApplyContext): void {
    const key = snapshotKey(snap.metadata.index, snap.metadata.term);
    const staged = this.stagedSnapshots.get(key);
    if (staged === undefined) {
      throw new RangeDbError(
        ErrorCode.INTERNAL,
        `Cannot install snapshot as its data was not received: range is ${this.rangeId}, index is ${snap.metadata.index}, term is ${snap.metadata.term}`,
      );
    }
    ctx.ranges.snapshotInstalled(this.rangeId, staged.applied.descriptor!);
    installSnapshot(this.rangeId, staged, batch);
    this.storage.applySnapshotTo(batch, snap);
    this.#stagedApplied = staged.applied;
    this.systemChanged = true;
    this.#log.info("installing snapshot", {
      index: snap.metadata.index,
      term: snap.metadata.term,
      pairs: staged.pairs.length,
    });
  }

  /**
   * Makes the turn's durable writes visible and answers callers; call after the batch is
   * durable and before `advance()`.
   */
  commitReady(rd: Ready): void {
    this.storage.commit();
    if (this.#stagedApplied !== undefined) {
      const before = this.applied?.descriptor;
      this.applied = this.#stagedApplied;
      this.#stagedApplied = undefined;
      this.writes.add(this.#deps.clock.now(), this.#stagedCommands);
      this.#stagedCommands = 0;
      this.#noteDescriptor(before);
      for (const key of this.stagedSnapshots.keys()) {
        if (Number(key.split("/")[0]) <= this.appliedIndex) this.stagedSnapshots.delete(key);
      }
    }
    if (rd.hardState !== undefined) this.term = rd.hardState.term;
    this.#answer(false);
    if (rd.softState !== undefined) {
      this.#leadershipChanged(rd.softState.lead, rd.softState.raftState);
    }
    if (rd.readStates.length > 0) this.reads.onReadStates(rd.readStates);
    this.reads.resolveApplied(this.appliedIndex);
    this.appliedWaiters.resolveApplied(this.appliedIndex);
  }

  /** Flags a changed descriptor (meta sync) and tells the store about a changed span. */
  #noteDescriptor(before: RangeDescriptor | undefined): void {
    const after = this.applied?.descriptor;
    if (after === undefined) return;
    if (before?.generation !== after.generation) this.descriptorChanged = true;
    if (
      before === undefined || compareBytes(before.start, after.start) !== 0 ||
      compareBytes(before.end, after.end) !== 0
    ) {
      this.#deps.spanChanged?.(this);
    }
  }

  /**
   * Answers the proposers of the key-value writes staged in this turn, before the batch is
   * written. Their entries are committed, that is on a quorum's disk, and their results are a
   * function of the log alone, so a crash before this batch lands cannot change them: the
   * restarted replica applies the same entries again with the same results (etcd answers from its
   * in-memory apply the same way). Linearizable reads still wait for the durable applied index,
   * so they see these writes; serializable reads of this replica see them once the batch lands.
   */
  answerBeforeWrite(): number {
    return this.#answer(true);
  }

  /** Answers the staged results (only those marked `beforeWrite` when `beforeWriteOnly`). */
  #answer(beforeWriteOnly: boolean): number {
    const results = this.#stagedResults;
    if (results.length === 0) return 0;
    const keep = [];
    let answered = 0;
    for (const staged of results) {
      if (beforeWriteOnly && !staged.beforeWrite) {
        keep.push(staged);
        continue;
      }
      const w = this.#waiters.get(staged.seq);
      if (w === undefined) continue;
      this.#waiters.delete(staged.seq);
      answered++;
      const result = staged.result;
      if (result.errorCode !== "" && !w.raw) {
        w.reject(new RangeDbError(result.errorCode as ErrorCode, result.errorMessage));
      } else {
        w.resolve(result);
      }
    }
    this.#stagedResults = keep;
    return answered;
  }

  /** Forgets a failed turn's staged state. */
  discardReady(): void {
    this.storage.discard();
    this.#stagedApplied = undefined;
    this.#stagedResults = [];
    this.#stagedCommands = 0;
  }

  #leadershipChanged(lead: number, role: StateType): void {
    const wasLeader = this.isLeader;
    const leadChanged = lead !== this.lead;
    this.lead = lead;
    this.role = role;
    if (leadChanged) {
      this.#deps.metrics.leaderChanged(this.rangeId, lead, this.term);
      this.#log.info("raft leader changed", { leader: lead, term: this.term });
    }
    if ((wasLeader && !this.isLeader) || (leadChanged && this.#waiters.size > 0)) {
      this.failWaiters(
        new RangeDbError(
          ErrorCode.UNAVAILABLE,
          `Cannot tell whether the proposal applied as the leader changed before it did: range is ${this.rangeId}, leader is ${lead}`,
          { details: { ambiguous: true, leaderNodeId: lead } },
        ),
      );
    }
  }

  /** Fails every proposal waiting to apply. */
  failWaiters(err: Error): void {
    const waiters = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const w of waiters) w.reject(err);
  }

  /**
   * Fails every queued and waiting caller (the store stops, or the replica was destroyed:
   * `appliedErr` then goes to the callers of `waitApplied`).
   */
  close(err: Error, appliedErr: Error = err): void {
    this.#closed = err;
    for (const p of this.#inProposals) p.waiter.reject(err);
    this.#inProposals = [];
    this.failWaiters(err);
    this.reads.close(err);
    this.appliedWaiters.close(appliedErr);
  }

  /** Fails callers whose deadline passed; call on every tick. */
  expire(now: number): void {
    this.reads.expire(now, this.lead);
    if (this.#waiters.size === 0) return;
    for (const [seq, w] of this.#waiters) {
      if (w.deadline > now) continue;
      this.#waiters.delete(seq);
      w.reject(
        new RangeDbError(
          this.lead === 0 ? ErrorCode.UNAVAILABLE : ErrorCode.TIMEOUT,
          `Cannot tell whether the proposal applied as the deadline passed: range is ${this.rangeId}, leader is ${this.lead}`,
          { details: { ambiguous: true, leaderNodeId: this.lead } },
        ),
      );
    }
  }
}

/** The key of a staged snapshot. */
export function snapshotKey(index: number, term: number): string {
  return `${index}/${term}`;
}
