/**
 * {@linkcode NodeLiveness}: which other nodes this node has heard from lately, kept per node
 * rather than per range (docs/design/0009, "Node liveness instead of per-range heartbeats").
 *
 * Every tick the scheduler sends each peer (a node that holds a replica of some range this node
 * holds) one batch, an empty one when it has nothing else for it, and every batch received counts
 * as hearing from its sender. A node is live when it was heard from within one election timeout.
 * Quiesced ranges rely on this instead of their own heartbeats: a quiesced follower wakes when
 * its leader's node stops being live, and a leader quiesces only while every follower's node is.
 *
 * The peers are counted per range membership ({@linkcode NodeLiveness.addMembers} /
 * {@linkcode NodeLiveness.removeMembers}), so the set stays exact as ranges come, change their
 * replicas and go, without a scan over every replica.
 *
 * @module
 */

import type { Clock } from "../base/clock.ts";

/** Options of {@linkcode NodeLiveness}. */
export interface NodeLivenessOptions {
  /** This node's id (never a peer of itself, always live). */
  nodeId: number;
  /** How long a node counts as live after it was last heard from: one election timeout. */
  timeoutMs: number;
  clock: Clock;
}

/**
 * The liveness of the other nodes, as seen from this one.
 *
 * @example
 * ```ts ignore
 * const liveness = new NodeLiveness({ nodeId: 1, timeoutMs: 1000, clock });
 * liveness.addMembers([1, 2, 3]);
 * liveness.heard(2);
 * liveness.isLive(2); // true for the next second
 * [...liveness.peers()]; // [2, 3]
 * ```
 */
export class NodeLiveness {
  readonly nodeId: number;
  readonly timeoutMs: number;
  readonly #clock: Clock;
  /** Monotonic ms of the last batch received from each node. */
  readonly #heardAt = new Map<number, number>();
  /** How many local ranges each other node is a member of. */
  readonly #ranges = new Map<number, number>();

  /** @param options this node's id, the timeout, the clock */
  constructor(options: NodeLivenessOptions) {
    this.nodeId = options.nodeId;
    this.timeoutMs = options.timeoutMs;
    this.#clock = options.clock;
  }

  /** Records that a batch (possibly empty) arrived from `nodeId`. */
  heard(nodeId: number): void {
    this.#heardAt.set(nodeId, this.#clock.monotonic());
  }

  /** Whether `nodeId` was heard from within the timeout; this node always is. */
  isLive(nodeId: number): boolean {
    if (nodeId === this.nodeId) return true;
    const at = this.#heardAt.get(nodeId);
    return at !== undefined && this.#clock.monotonic() - at < this.timeoutMs;
  }

  /** Counts one range whose members are `ids` (this node among them or not). */
  addMembers(ids: readonly number[]): void {
    for (const id of ids) {
      if (id !== this.nodeId) this.#ranges.set(id, (this.#ranges.get(id) ?? 0) + 1);
    }
  }

  /** Uncounts one range counted with {@linkcode NodeLiveness.addMembers} and the same `ids`. */
  removeMembers(ids: readonly number[]): void {
    for (const id of ids) {
      if (id === this.nodeId) continue;
      const n = (this.#ranges.get(id) ?? 0) - 1;
      if (n > 0) this.#ranges.set(id, n);
      else this.#ranges.delete(id);
    }
  }

  /** The nodes sharing at least one range with this node. */
  peers(): Iterable<number> {
    return this.#ranges.keys();
  }
}
