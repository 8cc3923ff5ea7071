/**
 * {@linkcode Status}: a snapshot of a node's state for the caller (metrics, admin pages, tests).
 *
 * @module
 */

import type { ConfState, HardState, NodeId, SoftState, StateType } from "./types.ts";

/** Replication states of a follower as seen by the leader. */
export type ProgressStateName = "probe" | "replicate" | "snapshot";

/** The leader's view of one follower. */
export interface ProgressStatus {
  /** Highest index known to be replicated on the follower. */
  match: number;
  /** Index of the next entry to send. */
  next: number;
  state: ProgressStateName;
  /** The follower was heard from since the last CheckQuorum round. */
  recentActive: boolean;
  isLearner: boolean;
  /** The snapshot index being sent, in snapshot state; 0 otherwise. */
  pendingSnapshot: number;
  /** Append messages in flight. */
  inflight: number;
}

/**
 * The cheap part of a node's state, for checks made often (a store deciding whether a range may
 * stop ticking): plain numbers, no progress map and no configuration copied.
 */
export interface BasicStatus {
  term: number;
  /** The leader as this node knows it, 0 when unknown. */
  lead: NodeId;
  raftState: StateType;
  commit: number;
  /** The last index of the log, unstable entries included. */
  lastIndex: number;
  /** Highest index handed out for applying (acknowledged with `advance()`). */
  applied: number;
  /** The node a leader transfer goes to, 0 when none is in progress. */
  leadTransferee: NodeId;
  /** ReadIndex requests a leader has not answered yet (waiting for acks or for its first commit). */
  pendingReadIndex: number;
}

/** The state of one node. */
export interface Status {
  id: NodeId;
  hardState: HardState;
  softState: SoftState;
  /** Highest index handed out for applying (acknowledged with `advance()`). */
  applied: number;
  /** The node a leader transfer goes to, 0 when none is in progress. */
  leadTransferee: NodeId;
  /** Per-node replication progress; set on the leader only. */
  progress?: Map<NodeId, ProgressStatus>;
  /** The active membership. */
  config: ConfState;
}
