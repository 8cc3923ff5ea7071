/**
 * The scheduler's view of a node's replicas, kept so that its work is proportional to the
 * replicas that have something to do rather than to all of them (docs/design/0009):
 *
 * - {@linkcode ReplicaMap}: the store's replicas by range id, which tells the scheduler about
 *   every replica added, replaced or removed, whoever does it (open, a message for a new range,
 *   a split, a merge, a snapshot).
 * - {@linkcode ReplicaWorkSet}: the replicas with queued work (the next turn looks only at
 *   them), the awake ones (they get ticks; the others are quiesced), and the quiesced followers
 *   by their leader's node (woken together when that node stops being live).
 *
 * @module
 */

import { StateType } from "../raft/mod.ts";
import type { Replica } from "./replica.ts";

/** Told when a replica enters or leaves a {@linkcode ReplicaMap}. */
export interface ReplicaObserver {
  added(replica: Replica): void;
  removed(replica: Replica): void;
}

/**
 * A map of replicas by range id that reports every change to its observer. Replacing a range's
 * replica with another object reports the old one removed and the new one added.
 */
export class ReplicaMap extends Map<number, Replica> {
  #observer: ReplicaObserver | undefined;

  /** Sets the observer and reports every replica already in the map to it. */
  observe(observer: ReplicaObserver): void {
    this.#observer = observer;
    for (const r of super.values()) observer.added(r);
  }

  override set(rangeId: number, replica: Replica): this {
    const old = super.get(rangeId);
    if (old === replica) return this;
    super.set(rangeId, replica);
    if (old !== undefined) this.#observer?.removed(old);
    this.#observer?.added(replica);
    return this;
  }

  override delete(rangeId: number): boolean {
    const old = super.get(rangeId);
    if (old === undefined) return false;
    super.delete(rangeId);
    this.#observer?.removed(old);
    return true;
  }

  override clear(): void {
    const old = [...super.values()];
    super.clear();
    for (const r of old) this.#observer?.removed(r);
  }
}

/** Which replicas have work, which tick, and which quiesced followers follow which node. */
export class ReplicaWorkSet {
  /** Replicas with something queued (inbox or Ready); the next turn takes them all. */
  #dirty = new Set<Replica>();
  /** Replicas that are not quiesced: they get ticks. */
  readonly awake = new Set<Replica>();
  /** Quiesced followers by the node of the leader they follow. */
  readonly #byLeader = new Map<number, Set<Replica>>();
  readonly #leaderOf = new Map<Replica, number>();

  /** A new replica: awake (a replica starts ticking), with work to look at. */
  add(r: Replica): void {
    r.quiesced = false;
    this.awake.add(r);
    this.#dirty.add(r);
  }

  /** A replica left the store: forget it everywhere. */
  remove(r: Replica): void {
    this.#dirty.delete(r);
    this.awake.delete(r);
    this.#unindex(r);
  }

  /** Marks `r` as having queued work. */
  markDirty(r: Replica): void {
    this.#dirty.add(r);
  }

  /** Whether some replica has queued work. */
  get hasDirty(): boolean {
    return this.#dirty.size > 0;
  }

  /** Takes every replica with queued work; later marks go to a fresh set. */
  takeDirty(): Set<Replica> {
    const dirty = this.#dirty;
    this.#dirty = new Set();
    return dirty;
  }

  /**
   * Brings the sets in line with `r.quiesced` (after its inbox was drained, or a leader
   * quiesced): an awake replica ticks; a quiesced follower is indexed under its leader's node.
   */
  settle(r: Replica): void {
    if (!r.quiesced) {
      this.awake.add(r);
      this.#unindex(r);
      return;
    }
    this.awake.delete(r);
    const st = r.raw.basicStatus();
    if (st.raftState === StateType.Follower && st.lead !== 0) this.#index(r, st.lead);
    else this.#unindex(r);
  }

  /**
   * Wakes every quiesced follower whose leader's node is not live.
   *
   * @returns how many woke
   */
  wakeOrphans(isLive: (nodeId: number) => boolean): number {
    let woken = 0;
    for (const [lead, followers] of this.#byLeader) {
      if (isLive(lead)) continue;
      this.#byLeader.delete(lead);
      for (const r of followers) {
        this.#leaderOf.delete(r);
        r.quiesced = false;
        this.awake.add(r);
        woken++;
      }
    }
    return woken;
  }

  #index(r: Replica, lead: number): void {
    const was = this.#leaderOf.get(r);
    if (was === lead) return;
    if (was !== undefined) this.#unindex(r);
    this.#leaderOf.set(r, lead);
    let set = this.#byLeader.get(lead);
    if (set === undefined) this.#byLeader.set(lead, set = new Set());
    set.add(r);
  }

  #unindex(r: Replica): void {
    const lead = this.#leaderOf.get(r);
    if (lead === undefined) return;
    this.#leaderOf.delete(r);
    const set = this.#byLeader.get(lead)!;
    set.delete(r);
    if (set.size === 0) this.#byLeader.delete(lead);
  }
}
