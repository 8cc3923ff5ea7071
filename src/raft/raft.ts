/**
 * {@linkcode Raft}: the protocol state machine of one node. This file holds the state, role
 * transitions, ticks, the term checks common to every message and membership switching; the
 * per-role message handling lives in `raft_step_*.ts`, elections in `raft_election.ts` and
 * sending in `raft_replication.ts`.
 *
 * @module
 */

import { type Config, resolveConfig, type ResolvedConfig } from "./config.ts";
import { Changer } from "./confchange/changer.ts";
import { restoreConfState } from "./confchange/restore.ts";
import { entriesSize } from "./entries.ts";
import { RaftError } from "./errors.ts";
import { isCampaignTransfer, newMessage } from "./messages.ts";
import { campaign, handleVoteRequest, stepCandidate } from "./raft_election.ts";
import { bcastAppend } from "./raft_replication.ts";
import {
  computeConfChange,
  handOverLeadership,
  maybeAutoLeave,
  switchToConfig,
} from "./raft_conf_change.ts";
import { stepFollower } from "./raft_step_follower.ts";
import { stepLeader } from "./raft_step_leader.ts";
import { RaftLog } from "./raft_log.ts";
import { ReadOnly } from "./read_only.ts";
import { ProgressTracker } from "./tracker/progress_tracker.ts";
import {
  type ConfChange,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  type NodeId,
  NONE,
  type PlantedBug,
  type ReadState,
  type SoftState,
  StateType,
} from "./types.ts";

/** How an election is run. */
export const CampaignType = {
  PreElection: 0,
  Election: 1,
  /** An election triggered by a leader transfer; bypasses the leader lease. */
  Transfer: 2,
} as const;
/** One of the values of {@linkcode CampaignType}. */
export type CampaignType = typeof CampaignType[keyof typeof CampaignType];

/** The Raft state machine of one node; driven through {@linkcode RawNode}. */
export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedConfig;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  state: StateType = StateType.Follower;
  readonly raftLog: RaftLog;
  trk: ProgressTracker;
  readOnly: ReadOnly;
  /** Messages to send, handed out by the next Ready. */
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId = NONE;
  /**
   * Index of the latest conf change the leader appended (or the last index at election): a new
   * conf change may only be proposed once it is applied.
   */
  pendingConfIndex = 0;
  /** Bytes of entry data appended by this leader and not yet committed and applied. */
  uncommittedSize = 0;
  /** ReadIndex requests waiting for this leader to commit an entry of its term. */
  pendingReadIndexMessages: Message[] = [];
  /**
   * The leader appended entries or advanced its commit index and has not yet broadcast them;
   * {@linkcode Raft.flushAppends} sends once per Ready so proposals batch into few messages.
   */
  appendsPending = false;
  /**
   * This leader sent TimeoutNow in its term: the transferee's election bypasses the followers'
   * lease, so LeaseBased reads must confirm leadership with a heartbeat round (as Safe reads do)
   * until the term ends, even if the transfer is abandoned.
   */
  leaseRevoked = false;
  /** Term in which a granted vote is hidden from the hard state (planted bug), -1 when none. */
  hiddenVoteTerm = -1;
  private readonly maxUncommittedSize: number;

  /**
   * Restores a node from `config.storage`.
   * @param config the node's configuration
   * @throws {RaftError} ErrInvalidConfig for a bad config or persisted state
   */
  constructor(config: Config) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    this.maxUncommittedSize = this.cfg.maxUncommittedEntriesSize === 0
      ? Infinity
      : this.cfg.maxUncommittedEntriesSize;
    this.raftLog = new RaftLog(this.cfg.storage, this.cfg.maxCommittedSizePerReady);
    this.trk = new ProgressTracker(this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes);
    this.readOnly = new ReadOnly(this.cfg.readOnlyOption);
    const { hardState, confState } = this.cfg.storage.initialState();
    switchToConfig(this, restoreConfState(this.trk, this.raftLog.lastIndex(), confState));
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) {
      this.loadState(hardState);
    }
    if (this.cfg.applied > this.raftLog.applied) this.raftLog.appliedTo(this.cfg.applied, 0);
    this.becomeFollower(this.term, NONE);
    this.cfg.logger.info("raft node started", {
      node_id: this.id,
      term: this.term,
      commit: this.raftLog.committed,
      applied: this.raftLog.applied,
      last_index: this.raftLog.lastIndex(),
      config: this.trk.config.toString(),
    });
  }

  private loadState(hs: HardState): void {
    if (hs.commit < this.raftLog.committed || hs.commit > this.raftLog.lastIndex()) {
      throw new RaftError(
        "ErrInvalidConfig",
        `Cannot restore hard state as its commit is out of range: commit is ${hs.commit}, range is [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
      );
    }
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  /** True when the planted bug `b` is switched on (tests only). */
  bug(b: PlantedBug): boolean {
    return this.cfg.plantedBugs.size > 0 && this.cfg.plantedBugs.has(b);
  }

  /** The volatile state reported to the caller. */
  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  /** The state the caller must persist. */
  hardState(): HardState {
    return { term: this.term, vote: this.persistedVote(), commit: this.raftLog.committed };
  }

  /** The vote as handed out for persisting (`NONE` while a planted bug hides it). */
  persistedVote(): NodeId {
    return this.hiddenVoteTerm === this.term ? NONE : this.vote;
  }

  /** Queues `m` for sending, stamping `from` and (except for votes and forwards) the term. */
  send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    const t = m.type;
    if (
      t === MessageType.Vote || t === MessageType.VoteResp || t === MessageType.PreVote ||
      t === MessageType.PreVoteResp
    ) {
      if (m.term === 0) {
        throw new RaftError(
          "ErrInvariant",
          `Cannot send vote message as its term is unset: type is ${t}`,
        );
      }
    } else if (t !== MessageType.Prop && t !== MessageType.ReadIndex) {
      // Proposals and read requests forwarded to the leader carry no term: the leader treats them
      // as local messages.
      m.term = this.term;
    }
    this.msgs.push(m);
  }

  /** True when this node may campaign: a voter without a pending snapshot. */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasNextOrInProgressSnapshot();
  }

  private resetRandomizedElectionTimeout(): void {
    const e = this.cfg.electionTick;
    this.randomizedElectionTimeout = e + Math.floor(this.cfg.random() * e);
  }

  /** True when the (randomised) election timeout elapsed without hearing from a leader. */
  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NONE;
    this.leaseRevoked = false;
    this.trk.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      pr.reset(id === this.id ? this.raftLog.lastPersistedIndex() : 0, last + 1);
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(this.cfg.readOnlyOption);
    this.pendingReadIndexMessages = [];
    this.appendsPending = false;
  }

  /** Becomes a follower of `lead` (or of nobody yet) in `term`. */
  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateType.Follower;
    this.cfg.logger.debug("became follower", { node_id: this.id, term, lead });
  }

  /** Starts a real election in the next term, voting for itself. */
  becomeCandidate(): void {
    if (this.state === StateType.Leader) {
      throw new RaftError("ErrInvariant", "Cannot become candidate as the node is leader");
    }
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.Candidate;
    this.cfg.logger.debug("became candidate", { node_id: this.id, term: this.term });
  }

  /** Starts a pre-election: no term change, no vote, but no leader either. */
  becomePreCandidate(): void {
    if (this.state === StateType.Leader) {
      throw new RaftError("ErrInvariant", "Cannot become pre-candidate as the node is leader");
    }
    this.trk.resetVotes();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
    this.cfg.logger.debug("became pre-candidate", { node_id: this.id, term: this.term });
  }

  /** Becomes leader and appends the empty entry that commits the previous terms' entries. */
  becomeLeader(): void {
    if (this.state === StateType.Follower) {
      throw new RaftError("ErrInvariant", "Cannot become leader as the node is follower");
    }
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    const self = this.trk.progress.get(this.id)!;
    self.becomeReplicate();
    self.recentActive = true;
    // Conf changes of earlier terms must be applied before this leader proposes one.
    this.pendingConfIndex = this.raftLog.lastIndex();
    this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }]);
    this.cfg.logger.info("became leader", { node_id: this.id, term: this.term });
  }

  /**
   * Appends entries as leader (assigning term and index), unless the uncommitted size limit
   * refuses them. Entries are mutated in place: callers pass entries they own.
   * @returns false when refused
   */
  appendEntries(es: Entry[]): boolean {
    const li = this.raftLog.lastIndex();
    for (let i = 0; i < es.length; i++) {
      es[i].term = this.term;
      es[i].index = li + 1 + i;
    }
    const s = entriesSize(es);
    if (this.uncommittedSize > 0 && s > 0 && this.uncommittedSize + s > this.maxUncommittedSize) {
      return false;
    }
    this.uncommittedSize += s;
    this.raftLog.append(es);
    // The leader acknowledges its own entries once they are persisted (RawNode.advance()).
    this.appendsPending = true;
    return true;
  }

  /** Releases `s` bytes from the uncommitted budget (entries committed and handed out). */
  reduceUncommittedSize(s: number): void {
    this.uncommittedSize = s > this.uncommittedSize ? 0 : this.uncommittedSize - s;
  }

  /** Advances time by one tick. */
  tick(): void {
    if (this.state === StateType.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(this.localMessage(MessageType.Hup));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.step(this.localMessage(MessageType.CheckQuorum));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) {
        this.leadTransferee = NONE;
        handOverLeadership(this);
      }
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.step(this.localMessage(MessageType.Beat));
    }
  }

  /** A local message from this node. */
  localMessage(type: MessageType): Message {
    const m = newMessage(type, NONE);
    m.from = this.id;
    return m;
  }

  /**
   * Handles one message: the term checks shared by every role, vote requests, then the role's
   * step function.
   * @throws {RaftError} ErrProposalDropped when a proposal cannot be accepted
   */
  step(m: Message): void {
    if (m.term === 0) {
      // Local message (or a forwarded proposal/read request).
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = isCampaignTransfer(m.context);
        const inLease = this.cfg.checkQuorum && this.lead !== NONE &&
          this.electionElapsed < this.cfg.electionTick;
        // A node that recently heard from a live leader ignores elections (leader lease), unless
        // the leader itself asked for this election by a transfer.
        if (!force && inLease) {
          this.cfg.logger.debug("ignored vote request within lease", {
            node_id: this.id,
            term: this.term,
            from: m.from,
            msg_term: m.term,
          });
          return;
        }
      }
      if (m.type === MessageType.PreVote) {
        // Never change term in response to a pre-vote.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // Pre-vote grants carry the future term the pre-candidate asked for; the term moves only
        // when the real election starts.
      } else if (
        m.type === MessageType.App || m.type === MessageType.Heartbeat ||
        m.type === MessageType.Snap
      ) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (
        (this.cfg.checkQuorum || this.cfg.preVote) &&
        (m.type === MessageType.Heartbeat || m.type === MessageType.App)
      ) {
        // A stale leader (e.g. partitioned, not stepping down because of CheckQuorum or PreVote)
        // learns the new term from this answer.
        this.send(newMessage(MessageType.AppResp, m.from));
      } else if (m.type === MessageType.PreVote) {
        const r = newMessage(MessageType.PreVoteResp, m.from);
        r.term = this.term;
        r.reject = true;
        this.send(r);
      }
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.cfg.preVote ? CampaignType.PreElection : CampaignType.Election);
        return;
      case MessageType.Vote:
      case MessageType.PreVote:
        handleVoteRequest(this, m);
        return;
    }
    switch (this.state) {
      case StateType.Leader:
        stepLeader(this, m);
        return;
      case StateType.Follower:
        stepFollower(this, m);
        return;
      default:
        stepCandidate(this, m);
    }
  }

  /** Starts an election of kind `t` when this node may. */
  hup(t: CampaignType): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) {
      this.cfg.logger.warn("cannot campaign as the node is not promotable", { node_id: this.id });
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      this.cfg.logger.warn("cannot campaign as conf changes are committed but unapplied", {
        node_id: this.id,
        term: this.term,
      });
      return;
    }
    campaign(this, t);
  }

  private hasUnappliedConfChanges(): boolean {
    const log = this.raftLog;
    if (log.applied >= log.committed) return false;
    const ents = log.slice(log.applied + 1, log.committed + 1, Infinity);
    for (const e of ents) if (e.type === EntryType.ConfChange) return true;
    return false;
  }

  /** True when this leader's log has a committed entry of its own term. */
  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.termOrUndefined(this.raftLog.committed) === this.term;
  }

  /** Sends appends to every follower whose window allows, if anything is pending. */
  flushAppends(): void {
    if (!this.appendsPending) return;
    this.appendsPending = false;
    if (this.state === StateType.Leader) bcastAppend(this);
  }

  /**
   * Advances the commit index to what a quorum of voters acknowledged (only entries of this
   * term commit by counting).
   * @returns true when the commit index moved
   */
  maybeCommit(): boolean {
    const index = this.bug("commit-on-minority") ? this.trk.maxVoterMatch() : this.trk.committed();
    return this.raftLog.maybeCommit(index, this.term);
  }

  /**
   * Records that entries up to `index` were applied; a leader in an auto-leave joint config
   * then proposes leaving it.
   */
  appliedTo(index: number, size: number): void {
    this.raftLog.appliedTo(Math.max(index, this.raftLog.applied), size);
    maybeAutoLeave(this);
  }

  /**
   * Applies a committed membership change.
   * @returns the new membership
   * @throws {RaftError} ErrInvalidConfChange when it cannot be applied to the current config
   */
  applyConfChange(cc: ConfChange): ConfState {
    return switchToConfig(
      this,
      computeConfChange(new Changer(this.trk, this.raftLog.lastIndex()), cc),
    );
  }

  /** Records a vote of `id` and tallies the election. */
  poll(id: NodeId, granted: boolean) {
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes();
  }
}
