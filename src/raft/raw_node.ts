/**
 * {@linkcode RawNode}: the caller-facing Raft node. The caller feeds it ticks, messages and
 * proposals and collects a {@linkcode Ready} of work to do; nothing happens behind its back (no
 * timers, no I/O, no threads).
 *
 * Bootstrapping a new cluster: every founding member's storage is
 * `MemoryStorage.fromConfState({ voters: [1, 2, 3], ... })`, an empty log behind an initial
 * snapshot at index 1, term 1 that carries the membership (hard state term 1, commit 1). Nodes
 * start as followers in term 1; the first election yields term 2 and the leader's empty entry
 * lands at index 2. A node added later starts with `new MemoryStorage()` (no membership, index
 * 0); it cannot campaign, and the leader sends it a snapshot (the entries before index 2 do not
 * exist anywhere), from which it learns the membership, then the log from there on.
 *
 * @module
 */

import type { Config } from "./config.ts";
import { entriesSize } from "./entries.ts";
import { isRaftError, RaftError } from "./errors.ts";
import { isLocalMsg, isResponseMsg, newMessage } from "./messages.ts";
import { Raft } from "./raft.ts";
import { confChangeEntry } from "./raft_conf_change.ts";
import { bcastCommit } from "./raft_replication.ts";
import { selfAck } from "./raft_step_leader.ts";
import type { BasicStatus, ProgressStatus, Status } from "./status.ts";
import { progressStateName } from "./tracker/progress.ts";
import {
  type ConfChange,
  type ConfState,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  type NodeId,
  type Ready,
  type SoftState,
  StateType,
} from "./types.ts";

/**
 * A Raft node driven by the caller.
 *
 * @example
 * ```ts
 * import { MemoryStorage, RawNode } from "./mod.ts";
 * const storage = MemoryStorage.fromConfState({ voters: [1], learners: [], votersOutgoing: [],
 *   learnersNext: [], autoLeave: false });
 * const node = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage,
 *   maxInflightMsgs: 256, random: () => 0.5 });
 * node.campaign(); // a single voter elects itself at once
 * const rd = node.ready();
 * storage.append(rd.entries);
 * if (rd.hardState) storage.setHardState(rd.hardState);
 * node.advance();
 * ```
 */
export class RawNode {
  private readonly r: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** What handed-out Readies asked to persist and apply, settled by advance(). */
  private acceptedEntry: { index: number; term: number } | undefined = undefined;
  private acceptedSnapIndex = 0;
  private acceptedApplied = -1;
  private acceptedAppliedSize = 0;

  /**
   * Creates a node whose state is restored from `config.storage`.
   * @param config the node's configuration
   * @throws {RaftError} ErrInvalidConfig for an invalid config or persisted state
   */
  constructor(config: Config) {
    this.r = new Raft(config);
    this.prevSoftState = this.r.softState();
    this.prevHardState = this.r.hardState();
  }

  /** Advances the logical clock by one tick (elections, heartbeats, CheckQuorum). */
  tick(): void {
    this.r.tick();
  }

  /** Starts an election now (a pre-election first when PreVote is on). */
  campaign(): void {
    this.r.step(this.r.localMessage(MessageType.Hup));
  }

  /**
   * Proposes `data` to be appended to the log (forwarded to the leader by followers).
   * @throws {RaftError} ErrProposalDropped when no leader is known, forwarding is disabled, a
   * leader transfer is in progress or the uncommitted size limit is reached
   */
  propose(data: Uint8Array): void {
    const m = this.r.localMessage(MessageType.Prop);
    m.entries = [{ term: 0, index: 0, type: EntryType.Normal, data }];
    this.r.step(m);
  }

  /**
   * Proposes a membership change. The leader replaces it by an empty entry when a previous
   * change is not yet applied, when it has not committed an entry of its term yet, or when the
   * change does not fit the current (joint or not) configuration.
   * @throws {RaftError} ErrProposalDropped as {@linkcode RawNode.propose}
   */
  proposeConfChange(cc: ConfChange): void {
    const m = this.r.localMessage(MessageType.Prop);
    m.entries = [confChangeEntry(cc)];
    this.r.step(m);
  }

  /**
   * Feeds a message received from a peer.
   * @throws {RaftError} ErrStepLocalMsg for local-only types, ErrStepPeerNotFound for a response
   * from an unknown node. A forwarded proposal that cannot be accepted is dropped silently.
   */
  step(m: Message): void {
    if (isLocalMsg(m.type)) {
      throw new RaftError(
        "ErrStepLocalMsg",
        `Cannot step message as its type is local: type is ${m.type}`,
      );
    }
    if (isResponseMsg(m.type) && !this.r.trk.progress.has(m.from)) {
      throw new RaftError(
        "ErrStepPeerNotFound",
        `Cannot step response as its sender is not a member: from ${m.from}, type ${m.type}`,
      );
    }
    if (m.type !== MessageType.Prop) {
      this.r.step(m);
      return;
    }
    try {
      this.r.step(m);
    } catch (err) {
      // The proposer of a forwarded proposal cannot be told; it times out and retries.
      if (!isRaftError(err, "ErrProposalDropped")) throw err;
      this.r.cfg.logger.debug("dropped forwarded proposal", { node_id: this.r.id, from: m.from });
    }
  }

  /**
   * Asks for a linearizable read point; the answer arrives as a {@linkcode ReadState} with the
   * same context in a later Ready (none when there is no leader: retry after a timeout).
   * @param ctx a unique request id
   */
  readIndex(ctx: Uint8Array): void {
    const m = newMessage(MessageType.ReadIndex, 0);
    m.context = ctx;
    this.r.step(m);
  }

  /**
   * On a leader, tells every follower the commit index now (in the next Ready) rather than with
   * the next append or heartbeat; nothing elsewhere. For commands whose followers should apply
   * them at once under `lazyCommitBroadcast` (a split, whose new range's leader campaigns at once).
   */
  broadcastCommit(): void {
    if (this.r.state === StateType.Leader) bcastCommit(this.r);
  }

  /** Asks the leader to hand leadership to `transferee` (forwarded by followers). */
  transferLeader(transferee: NodeId): void {
    const m = newMessage(MessageType.TransferLeader, 0);
    m.from = transferee;
    this.r.step(m);
  }

  /**
   * Applies a committed membership change; call it when applying a ConfChange entry.
   * @returns the new membership (store it with the next snapshot)
   * @throws {RaftError} ErrInvalidConfChange when the change does not fit the configuration
   */
  applyConfChange(cc: ConfChange): ConfState {
    return this.r.applyConfChange(cc);
  }

  /** Reports that the last messages to `id` were probably lost (the leader probes again). */
  reportUnreachable(id: NodeId): void {
    const m = newMessage(MessageType.Unreachable, 0);
    m.from = id;
    this.r.step(m);
  }

  /** Reports the outcome of sending a snapshot to `id`. */
  reportSnapshot(id: NodeId, status: "finish" | "failure"): void {
    const m = newMessage(MessageType.SnapStatus, 0);
    m.from = id;
    m.reject = status === "failure";
    this.r.step(m);
  }

  /** True when {@linkcode RawNode.ready} has something for the caller. */
  hasReady(): boolean {
    const r = this.r;
    r.flushAppends();
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    if (this.softStateChanged() || this.hardStateChanged()) return true;
    const log = r.raftLog;
    return log.nextUnstableSnapshot() !== undefined || log.hasNextUnstableEnts() ||
      log.hasNextCommittedEnts(true);
  }

  /** True when lead or role differ from the last Ready's; compares without allocating. */
  private softStateChanged(): boolean {
    const r = this.r;
    return r.lead !== this.prevSoftState.lead || r.state !== this.prevSoftState.raftState;
  }

  /** True when the hard state to persist differs from the last Ready's; allocates nothing. */
  private hardStateChanged(): boolean {
    const r = this.r;
    const prev = this.prevHardState;
    return r.term !== prev.term || r.persistedVote() !== prev.vote ||
      r.raftLog.committed !== prev.commit;
  }

  /**
   * The work to do now: persist `hardState`, `entries` and `snapshot`, then send `messages`, then
   * apply `snapshot` and `committedEntries`, then call {@linkcode RawNode.advance}. Committed
   * entries may include entries of this same Ready: persist before applying.
   */
  ready(): Ready {
    const r = this.r;
    r.flushAppends();
    const log = r.raftLog;
    const entries = log.nextUnstableEnts();
    const committedEntries = log.nextCommittedEnts(true);
    const snapshot = log.nextUnstableSnapshot();
    const rd: Ready = {
      softState: undefined,
      hardState: undefined,
      readStates: r.readStates,
      entries,
      snapshot,
      committedEntries,
      messages: r.msgs,
      mustSync: false,
    };
    if (this.softStateChanged()) {
      const ss = r.softState();
      rd.softState = ss;
      this.prevSoftState = ss;
    }
    if (this.hardStateChanged()) {
      const hs = r.hardState();
      rd.hardState = hs;
      rd.mustSync = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
      this.prevHardState = hs;
    }
    if (entries.length > 0 || snapshot !== undefined) rd.mustSync = true;
    r.msgs = [];
    r.readStates = [];
    if (entries.length > 0) {
      const last = entries[entries.length - 1];
      this.acceptedEntry = { index: last.index, term: last.term };
    }
    if (snapshot !== undefined) this.acceptedSnapIndex = snapshot.metadata.index;
    log.acceptUnstable();
    if (committedEntries.length > 0) {
      const size = entriesSize(committedEntries);
      this.acceptedApplied = committedEntries[committedEntries.length - 1].index;
      this.acceptedAppliedSize += size;
      log.acceptApplying(this.acceptedApplied, size, true);
    }
    return rd;
  }

  /**
   * Tells the node that the last Ready was handled: its entries, hard state and snapshot are
   * persisted and its committed entries applied. The leader then counts its own entries as
   * replicated, and more committed entries become available.
   */
  advance(): void {
    const r = this.r;
    const log = r.raftLog;
    const snapIndex = this.acceptedSnapIndex;
    if (snapIndex !== 0) {
      log.stableSnapTo(snapIndex);
      this.acceptedSnapIndex = 0;
    }
    if (this.acceptedEntry !== undefined) {
      log.stableTo(this.acceptedEntry.index, this.acceptedEntry.term);
      this.acceptedEntry = undefined;
    }
    if (this.acceptedApplied >= 0) {
      const size = this.acceptedAppliedSize;
      const applied = this.acceptedApplied;
      this.acceptedApplied = -1;
      this.acceptedAppliedSize = 0;
      r.reduceUncommittedSize(size);
      r.appliedTo(applied, size);
    }
    // An installed snapshot is applied state: committed entries continue after it.
    if (snapIndex !== 0) r.appliedTo(snapIndex, 0);
    if (r.state === StateType.Leader) selfAck(r, log.lastPersistedIndex());
  }

  /** The node's state without progress or configuration; allocates one small object. */
  basicStatus(): BasicStatus {
    const r = this.r;
    return {
      term: r.term,
      lead: r.lead,
      raftState: r.state,
      commit: r.raftLog.committed,
      lastIndex: r.raftLog.lastIndex(),
      applied: r.raftLog.applied,
      leadTransferee: r.leadTransferee,
      pendingReadIndex: r.readOnly.size + r.pendingReadIndexMessages.length,
    };
  }

  /**
   * Calls `visit` with the leader's view of every member, itself included, in id order; does
   * nothing on a follower. Unlike {@linkcode RawNode.status} it builds no map.
   */
  withProgress(visit: (id: NodeId, pr: ProgressStatus) => void): void {
    const r = this.r;
    if (r.state !== StateType.Leader) return;
    for (const id of r.trk.sortedIds()) {
      const pr = r.trk.progress.get(id)!;
      visit(id, {
        match: pr.match,
        next: pr.next,
        state: progressStateName(pr.state),
        recentActive: pr.recentActive,
        isLearner: pr.isLearner,
        pendingSnapshot: pr.pendingSnapshot,
        inflight: pr.inflights.count,
      });
    }
  }

  /** The node's current state; `progress` is set on the leader only. */
  status(): Status {
    const r = this.r;
    let progress: Map<NodeId, ProgressStatus> | undefined;
    if (r.state === StateType.Leader) {
      progress = new Map();
      for (const id of r.trk.sortedIds()) {
        const pr = r.trk.progress.get(id)!;
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: progressStateName(pr.state),
          recentActive: pr.recentActive,
          isLearner: pr.isLearner,
          pendingSnapshot: pr.pendingSnapshot,
          inflight: pr.inflights.count,
        });
      }
    }
    return {
      id: r.id,
      hardState: r.hardState(),
      softState: r.softState(),
      applied: r.raftLog.applied,
      leadTransferee: r.leadTransferee,
      progress,
      config: r.trk.confState(),
    };
  }
}
