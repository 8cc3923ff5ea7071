/**
 * {@linkcode Progress}: the leader's view of one follower's log, and the replication state
 * machine (probe, replicate, snapshot) that decides what the leader may send to it.
 *
 * @module
 */

import type { ProgressStateName } from "../status.ts";
import { Inflights } from "./inflights.ts";

/** Replication states of a follower. */
export const ProgressState = {
  /** One append at a time until the follower's log position is found. */
  Probe: 0,
  /** Optimistic pipelining of appends, bounded by {@linkcode Inflights}. */
  Replicate: 1,
  /** A snapshot is on its way; nothing else is sent. */
  Snapshot: 2,
} as const;
/** One of the values of {@linkcode ProgressState}. */
export type ProgressState = typeof ProgressState[keyof typeof ProgressState];

const STATE_NAMES: readonly ProgressStateName[] = ["probe", "replicate", "snapshot"];

/** The name of a progress state, as shown by `Status` and `describe`. */
export function progressStateName(s: ProgressState): ProgressStateName {
  return STATE_NAMES[s];
}

/**
 * Replication progress of one node, kept by the leader.
 *
 * Invariants: `match < next`; `sentCommit` is the highest commit index sent to the follower and
 * never exceeds `next - 1` after a back-off.
 */
export class Progress {
  /** Highest index known to be in the follower's log. */
  match = 0;
  /** Index of the next entry to send. */
  next: number;
  /** Highest commit index sent to the follower. */
  sentCommit = 0;
  state: ProgressState = ProgressState.Probe;
  /** Index of the snapshot being sent in snapshot state, 0 otherwise. */
  pendingSnapshot = 0;
  /** Heard from since the last CheckQuorum round (or newly added). */
  recentActive: boolean;
  /**
   * In probe state: an append was sent and its answer (or a heartbeat response) is awaited.
   * Replicate state is paused by a full inflight window instead.
   */
  msgAppProbesPaused = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  /**
   * @param next index of the next entry to send
   * @param inflights the append window
   * @param isLearner whether the node is a learner
   * @param recentActive whether to count it as active for CheckQuorum
   */
  constructor(next: number, inflights: Inflights, isLearner: boolean, recentActive: boolean) {
    this.next = next;
    this.inflights = inflights;
    this.isLearner = isLearner;
    this.recentActive = recentActive;
  }

  /** A copy sharing nothing mutable with this one. */
  clone(): Progress {
    const p = new Progress(this.next, this.inflights.clone(), this.isLearner, this.recentActive);
    p.match = this.match;
    p.sentCommit = this.sentCommit;
    p.state = this.state;
    p.pendingSnapshot = this.pendingSnapshot;
    p.msgAppProbesPaused = this.msgAppProbesPaused;
    return p;
  }

  private resetState(state: ProgressState): void {
    this.msgAppProbesPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /**
   * Starts over in probe state at `match`/`next`, as after a term change: nothing sent, nothing
   * heard from since.
   */
  reset(match: number, next: number): void {
    this.resetState(ProgressState.Probe);
    this.match = match;
    this.next = next;
    this.sentCommit = 0;
    this.recentActive = false;
  }

  /**
   * Moves to probe state. After a snapshot, probing resumes after the snapshot's index (the
   * follower most likely installed it).
   */
  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
  }

  /** Moves to replicate state, sending from `match + 1`. */
  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  /** Moves to snapshot state while the snapshot at `snapshotIndex` is sent. */
  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
    this.next = snapshotIndex + 1;
    this.sentCommit = snapshotIndex;
  }

  /**
   * Records an append of `entries` entries and `bytes` bytes just sent: replicate state moves
   * `next` on optimistically and fills the window; probe state pauses until the answer.
   */
  sentEntries(entries: number, bytes: number): void {
    if (this.state === ProgressState.Replicate) {
      if (entries > 0) {
        this.next += entries;
        this.inflights.add(this.next - 1, bytes);
      }
    } else if (entries > 0) {
      this.msgAppProbesPaused = true;
    }
  }

  /** True when `commit` is news to the follower and it has entries to apply it to. */
  canBumpCommit(commit: number): boolean {
    return commit > this.sentCommit && this.sentCommit < this.next - 1;
  }

  /** Records that `commit` was sent to the follower. */
  setSentCommit(commit: number): void {
    this.sentCommit = commit;
  }

  /**
   * Records an acknowledgement up to `n`.
   * @returns true when `n` is news (match moved)
   */
  maybeUpdate(n: number): boolean {
    if (n <= this.match) return false;
    this.match = n;
    this.next = Math.max(this.next, n + 1);
    this.msgAppProbesPaused = false;
    return true;
  }

  /**
   * Handles a rejected append at index `rejected`, with the follower's hint that its log may
   * match up to `matchHint`.
   * @returns false when the rejection is stale (out of order) and was ignored
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      this.sentCommit = Math.min(this.sentCommit, this.next - 1);
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
    this.msgAppProbesPaused = false;
    return true;
  }

  /** True when no append with entries may be sent now. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.msgAppProbesPaused;
      case ProgressState.Replicate:
        return this.inflights.full();
      default:
        return true;
    }
  }
}
