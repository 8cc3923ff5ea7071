/**
 * {@linkcode ProgressTracker}: the active membership ({@linkcode TrackerConfig}), the leader's
 * {@linkcode Progress} for every member, and the votes of the current election.
 *
 * @module
 */

import { JointConfig } from "../quorum/joint.ts";
import { type AckedIndexer, MajorityConfig, sortedIds, VoteResult } from "../quorum/majority.ts";
import type { ConfState, NodeId } from "../types.ts";
import type { Progress } from "./progress.ts";

/** Progress of every member (voters of both halves, learners, learners-next). */
export type ProgressMap = Map<NodeId, Progress>;

/**
 * A membership configuration. Invariants (checked by the changer): a learner is never a voter;
 * `learnersNext` holds outgoing voters that become learners when the joint config is left, and
 * is empty (like `autoLeave` false) unless joint.
 */
export class TrackerConfig {
  /**
   * @param voters incoming and outgoing voters
   * @param learners non-voting members
   * @param learnersNext outgoing voters to demote to learners on leaving the joint config
   * @param autoLeave leave the joint config automatically once it is applied
   */
  constructor(
    readonly voters: JointConfig = new JointConfig(),
    readonly learners: Set<NodeId> = new Set(),
    readonly learnersNext: Set<NodeId> = new Set(),
    public autoLeave = false,
  ) {}

  /** A deep copy. */
  clone(): TrackerConfig {
    return new TrackerConfig(
      new JointConfig(
        new MajorityConfig(this.voters.incoming.ids),
        new MajorityConfig(this.voters.outgoing.ids),
      ),
      new Set(this.learners),
      new Set(this.learnersNext),
      this.autoLeave,
    );
  }

  /** e.g. `voters=(1 2 3)&&(1 2) learners=(4) learners_next=(3) autoleave`. */
  toString(): string {
    let s = `voters=${this.voters}`;
    if (this.learners.size > 0) s += ` learners=(${sortedIds(this.learners).join(" ")})`;
    if (this.learnersNext.size > 0) {
      s += ` learners_next=(${sortedIds(this.learnersNext).join(" ")})`;
    }
    if (this.autoLeave) s += " autoleave";
    return s;
  }
}

/** Membership, progress and votes of one node. */
export class ProgressTracker {
  config: TrackerConfig = new TrackerConfig();
  progress: ProgressMap = new Map();
  /** Votes of the current election, true = granted. */
  readonly votes: Map<NodeId, boolean> = new Map();
  /** Reads `match` of a member; created once so quorum computations allocate no closure. */
  private readonly matchIndexer: AckedIndexer = (id) => this.progress.get(id)?.match;

  /**
   * @param maxInflight append window size of each follower
   * @param maxInflightBytes append window bytes of each follower, 0 for unlimited
   */
  constructor(readonly maxInflight: number, readonly maxInflightBytes: number) {}

  /** The membership as a {@linkcode ConfState} (ids sorted). */
  confState(): ConfState {
    return {
      voters: this.config.voters.incoming.slice(),
      learners: sortedIds(this.config.learners),
      votersOutgoing: this.config.voters.outgoing.slice(),
      learnersNext: sortedIds(this.config.learnersNext),
      autoLeave: this.config.autoLeave,
    };
  }

  /** True when the only voter is a single node and the config is not joint. */
  isSingleton(): boolean {
    return this.config.voters.incoming.size === 1 && !this.config.voters.isJoint();
  }

  /** The largest index replicated on a quorum of voters. */
  committed(): number {
    return this.config.voters.committedIndex(this.matchIndexer);
  }

  /** The largest index any single voter has (a planted bug's notion of "committed"). */
  maxVoterMatch(): number {
    let max = 0;
    for (const id of this.config.voters.ids()) {
      const m = this.progress.get(id)?.match ?? 0;
      if (m > max) max = m;
    }
    return max;
  }

  /** Member ids in ascending order (deterministic iteration for sending). */
  sortedIds(): NodeId[] {
    return sortedIds(this.progress.keys());
  }

  /** True when a quorum of voters was recently active. */
  quorumActive(): boolean {
    const active = new Map<NodeId, boolean>();
    for (const [id, pr] of this.progress) {
      if (!pr.isLearner) active.set(id, pr.recentActive);
    }
    return this.config.voters.voteResult(active) === VoteResult.Won;
  }

  /** Forgets the votes of the previous election. */
  resetVotes(): void {
    this.votes.clear();
  }

  /** Records a vote of `id`; the first vote of a node in an election counts. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  /** Counts the votes of voters and tells the election's outcome so far. */
  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: this.config.voters.voteResult(this.votes) };
  }
}
