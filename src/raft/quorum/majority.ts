/**
 * {@linkcode MajorityConfig}: a set of voters decided by simple majority, and the vote result
 * type shared with joint configurations.
 *
 * @module
 */

import type { NodeId } from "../types.ts";

/** Outcome of an election as far as the votes received tell. */
export const VoteResult = {
  /** Neither won nor lost yet: missing votes can still decide it. */
  Pending: 0,
  /** The quorum rejected. */
  Lost: 1,
  /** The quorum granted. */
  Won: 2,
} as const;
/** One of the values of {@linkcode VoteResult}. */
export type VoteResult = typeof VoteResult[keyof typeof VoteResult];

/** `ids` in ascending order, as a new array (the deterministic order of iteration and output). */
export function sortedIds(ids: Iterable<NodeId>): NodeId[] {
  return [...ids].sort((a, b) => a - b);
}

/** The acknowledged (durably replicated) index of a node, undefined when unknown. */
export type AckedIndexer = (id: NodeId) => number | undefined;

/**
 * A set of voters; a quorum is any majority of them. The empty set is a degenerate config that
 * agrees to everything (so that a joint config with an empty outgoing half behaves like its
 * incoming half).
 */
export class MajorityConfig {
  readonly ids: Set<NodeId>;
  private scratch: number[] = [];

  /** @param ids the voters */
  constructor(ids: Iterable<NodeId> = []) {
    this.ids = new Set(ids);
  }

  /** Number of voters. */
  get size(): number {
    return this.ids.size;
  }

  /** The voters in ascending order. */
  slice(): NodeId[] {
    return sortedIds(this.ids);
  }

  /** e.g. `(1 2 3)`. */
  toString(): string {
    return `(${this.slice().join(" ")})`;
  }

  /**
   * The largest index acknowledged by a majority (unknown nodes count as 0); Infinity for the
   * empty config.
   */
  committedIndex(acked: AckedIndexer): number {
    const n = this.ids.size;
    if (n === 0) return Infinity;
    // Insertion sort into a reused scratch array: n is tiny and this runs on every ack.
    const srt = this.scratch;
    srt.length = n;
    let i = 0;
    for (const id of this.ids) {
      const v = acked(id) ?? 0;
      let j = i;
      while (j > 0 && srt[j - 1] > v) {
        srt[j] = srt[j - 1];
        j--;
      }
      srt[j] = v;
      i++;
    }
    return srt[n - (Math.floor(n / 2) + 1)];
  }

  /** The election outcome given the votes so far (true = granted). */
  voteResult(votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    const n = this.ids.size;
    if (n === 0) return VoteResult.Won;
    let granted = 0;
    let missing = 0;
    for (const id of this.ids) {
      const v = votes.get(id);
      if (v === undefined) missing++;
      else if (v) granted++;
    }
    const q = Math.floor(n / 2) + 1;
    if (granted >= q) return VoteResult.Won;
    if (granted + missing >= q) return VoteResult.Pending;
    return VoteResult.Lost;
  }
}
