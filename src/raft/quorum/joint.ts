/**
 * {@linkcode JointConfig}: two majority configs that must both agree, used while membership
 * moves from the outgoing to the incoming voter set.
 *
 * @module
 */

import type { NodeId } from "../types.ts";
import { type AckedIndexer, MajorityConfig, VoteResult } from "./majority.ts";

/** The incoming and the outgoing voter sets; outgoing is empty unless joint. */
export class JointConfig {
  /**
   * @param incoming the voters of the new (or only) configuration
   * @param outgoing the voters of the old configuration while joint
   */
  constructor(
    readonly incoming: MajorityConfig = new MajorityConfig(),
    readonly outgoing: MajorityConfig = new MajorityConfig(),
  ) {}

  /** True while in a joint configuration. */
  isJoint(): boolean {
    return this.outgoing.size > 0;
  }

  /** Every voter of either half. */
  ids(): Set<NodeId> {
    const s = new Set(this.incoming.ids);
    for (const id of this.outgoing.ids) s.add(id);
    return s;
  }

  /** e.g. `(1 2 3)&&(1 2)`, or `(1 2 3)` when not joint. */
  toString(): string {
    return this.isJoint() ? `${this.incoming}&&${this.outgoing}` : `${this.incoming}`;
  }

  /** The largest index acknowledged by a quorum of both halves. */
  committedIndex(acked: AckedIndexer): number {
    return Math.min(this.incoming.committedIndex(acked), this.outgoing.committedIndex(acked));
  }

  /** Won when both halves won, lost when either lost, pending otherwise. */
  voteResult(votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    const r1 = this.incoming.voteResult(votes);
    const r2 = this.outgoing.voteResult(votes);
    if (r1 === r2) return r1;
    if (r1 === VoteResult.Lost || r2 === VoteResult.Lost) return VoteResult.Lost;
    return VoteResult.Pending;
  }
}
