/**
 * {@linkcode LeaderInfos}: the {@linkcode RangeInfo} of every range a store leads, as its
 * background duties (split queue, merge queue, meta sync) read them about twice a second.
 *
 * With thousands of ranges that read is the main cost of an idle node (docs/design/0009, "Thousands
 * of ranges per node"): building every range's info anew took about 3 µs a range, several times a
 * second. So the duties of one tick share one list, and a range whose replica changed nothing
 * since the last read (same applied state, hard state, leader and term: a quiesced range) keeps
 * its info object; only its write rate is looked at again. Applied and hard states are replaced,
 * never mutated, when they change, so comparing them by identity is exact.
 *
 * @module
 */

import type { HardState } from "../raft/mod.ts";
import type { RangeAppliedState } from "./command.ts";
import type { RangeInfo } from "./kv_store.ts";
import type { Replica } from "./replica.ts";

/** A range's info and what it was built from. */
interface Cached {
  applied: RangeAppliedState | undefined;
  hard: HardState;
  lead: number;
  term: number;
  info: Readonly<RangeInfo>;
}

/** What {@linkcode LeaderInfos} reads from its store. */
export interface LeaderInfosDeps {
  /** The store's replicas. */
  replicas(): Iterable<Replica>;
  /** A fresh info of a replica (`StoreRanges.rangeInfo`). */
  rangeInfo(r: Replica): RangeInfo;
  /** The clock's now, for write rates. */
  now(): number;
}

/** The infos of the ranges a store leads; see the module doc. */
export class LeaderInfos {
  readonly #deps: LeaderInfosDeps;
  readonly #cache = new WeakMap<Replica, Cached>();
  /** The list of the tick in progress, shared by its duties. */
  #tick: readonly Readonly<RangeInfo>[] | undefined;
  #inTick = false;

  /** @param deps the store's replicas and how to describe one */
  constructor(deps: LeaderInfosDeps) {
    this.#deps = deps;
  }

  /**
   * Runs `fn` (the duties of one tick) with one list: every {@linkcode list} call inside it
   * returns the same list, read on the first call.
   */
  duringTick(fn: () => void): void {
    this.#inTick = true;
    try {
      fn();
    } finally {
      this.#inTick = false;
      this.#tick = undefined;
    }
  }

  /**
   * The ranges whose local replica leads (initialized, not destroyed). The infos are frozen:
   * they may be the ones returned before.
   */
  list(): readonly Readonly<RangeInfo>[] {
    if (this.#tick !== undefined) return this.#tick;
    const out: Readonly<RangeInfo>[] = [];
    const now = this.#deps.now();
    for (const r of this.#deps.replicas()) {
      if (!r.isLeader || r.descriptor === undefined || r.destroyed) continue;
      out.push(this.#info(r, now));
    }
    if (this.#inTick) this.#tick = out;
    return out;
  }

  #info(r: Replica, now: number): Readonly<RangeInfo> {
    const hard = r.storage.hardState();
    const cached = this.#cache.get(r);
    if (
      cached !== undefined && cached.applied === r.applied && cached.hard === hard &&
      cached.lead === r.lead && cached.term === r.term
    ) {
      const rate = r.writes.perSecond(now);
      if (rate === cached.info.writesPerSecond) return cached.info;
      cached.info = Object.freeze({ ...cached.info, writesPerSecond: rate });
      return cached.info;
    }
    const info = Object.freeze(this.#deps.rangeInfo(r));
    this.#cache.set(r, { applied: r.applied, hard, lead: r.lead, term: r.term, info });
    return info;
  }
}
