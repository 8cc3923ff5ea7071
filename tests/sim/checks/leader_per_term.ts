/**
 * Election safety: at most one leader per term, over the whole run (crashes included).
 *
 * @module
 */

import { type NodeId, type SoftState, StateType } from "../../../src/raft/mod.ts";
import { violation } from "../failure.ts";

/** Remembers the leader of every term and fails on a second one. */
export class LeaderPerTermCheck {
  static readonly NAME = "leader_per_term";
  private readonly leaders = new Map<number, NodeId>();

  /** Leaders seen so far, by term. */
  get terms(): number {
    return this.leaders.size;
  }

  /** A node reported its role at `term`. */
  onSoftState(node: NodeId, ss: SoftState, term: number): void {
    if (ss.raftState !== StateType.Leader) return;
    const prev = this.leaders.get(term);
    if (prev === undefined) this.leaders.set(term, node);
    else if (prev !== node) {
      violation(
        LeaderPerTermCheck.NAME,
        `Cannot have two leaders in one term as elections must be safe: term is ${term}, leaders are ${prev} and ${node}`,
      );
    }
  }
}
