/**
 * {@linkcode MergeQueue}: merges small, cold ranges this node leads into their right-hand
 * neighbours, with hysteresis so that split and merge never flap (docs/design/0009): both ranges
 * under `range_min_bytes`, together under half of `range_max_bytes`, the range known here for
 * `range_merge_delay` (default 5 minutes, so not fresh from a split) and both under a tenth of the
 * load-split rate for a fifth of that. It also ends freezes whose coordinator vanished: a range this node leads that stayed
 * frozen for 10 s without a local coordinator gets its merge aborted.
 *
 * @module
 */

import type { RangeInfo } from "./kv_store.ts";
import { abortMerge, mergeRange } from "./range_merge.ts";
import { inSystemKeyspace } from "./range_split.ts";
import type { RangeQueueDeps, SplitSettings } from "./range_queue_deps.ts";

/** How long a freeze may last before the frozen range's leader aborts it. */
export const FROZEN_ABORT_MS = 10_000;
const MERGE_TIMEOUT_MS = 30_000;

/** Whether the pair (n, r) qualifies for a merge by size and load. */
export function mergeWanted(n: RangeInfo, r: RangeInfo, s: SplitSettings): boolean {
  if (n.liveBytes >= s.minBytes || r.liveBytes >= s.minBytes) return false;
  if (n.liveBytes + r.liveBytes >= s.maxBytes / 2) return false;
  if (n.liveKeys + r.liveKeys >= s.maxKeys / 2) return false;
  return true;
}

/** Whether a range is cold: under a tenth of the load-split rate (any rate when disabled: 0). */
export function isCold(r: RangeInfo, s: SplitSettings): boolean {
  return s.splitQps === 0 ? r.writesPerSecond < 1 : r.writesPerSecond < s.splitQps / 10;
}

/** What the merge queue's checks saw of one range. */
interface Seen {
  /** The number of the last check that saw the range led here. */
  check: number;
  /** When a check first saw it (the merge delay counts from here). */
  firstSeen: number;
  /** Since when it has been cold, if it is. */
  coldSince: number | undefined;
  /** Since when it has been frozen without a local coordinator, if it is. */
  frozenSince: number | undefined;
}

/** The merge duty of one store. */
export class MergeQueue {
  readonly #deps: RangeQueueDeps;
  /**
   * What the checks saw of each range this node leads. One record per range and a check number
   * to forget the others: a check costs one map lookup per range, which counts with thousands.
   */
  readonly #seen = new Map<number, Seen>();
  #checks = 0;
  #running = false;
  #aborting = new Set<number>();

  /** @param deps the store's view */
  constructor(deps: RangeQueueDeps) {
    this.#deps = deps;
  }

  /** Looks for one pair to merge and for stale freezes; call about once a second. */
  check(): void {
    const deps = this.#deps;
    const now = deps.clock.now();
    const s = deps.settings();
    const check = ++this.#checks;
    let led = 0;
    const candidates: RangeInfo[] = [];
    for (const n of deps.leaders()) {
      led++;
      let seen = this.#seen.get(n.rangeId);
      if (seen === undefined) {
        seen = { check, firstSeen: now, coldSince: undefined, frozenSince: undefined };
        this.#seen.set(n.rangeId, seen);
      }
      seen.check = check;
      if (!isCold(n, s)) seen.coldSince = undefined;
      else seen.coldSince ??= now;
      if (n.frozenIntoRangeId !== 0) {
        this.#checkFrozen(n, seen, now);
        continue;
      }
      seen.frozenSince = undefined;
      if (this.#eligible(n, seen, now, s.mergeDelayMs)) candidates.push(n);
    }
    // Forget the ranges no longer led here.
    if (this.#seen.size > led) {
      for (const [id, seen] of this.#seen) if (seen.check !== check) this.#seen.delete(id);
    }
    if (this.#running || deps.migrations.busy("merge")) return;
    for (const n of candidates) {
      const r = this.#neighbour(n);
      if (r === undefined || r.frozenIntoRangeId !== 0 || deps.migrations.involves(r.rangeId)) {
        continue;
      }
      if (!mergeWanted(n, r, s) || !isCold(r, s)) continue;
      this.#run(n);
      return;
    }
  }

  #eligible(n: RangeInfo, seen: Seen, now: number, delayMs: number): boolean {
    // Range 1 is never absorbed, and nothing merges across the start of the system keyspace.
    if (n.rangeId === 1 || n.end.length === 0 || inSystemKeyspace(n.end)) return false;
    if (this.#deps.migrations.involves(n.rangeId)) return false;
    const cold = seen.coldSince;
    return now - seen.firstSeen >= delayMs && cold !== undefined && now - cold >= delayMs / 5;
  }

  #neighbour(n: RangeInfo): RangeInfo | undefined {
    try {
      const r = this.#deps.lookup(n.end);
      return r.local ? r : undefined;
    } catch {
      return undefined;
    }
  }

  #run(n: RangeInfo): void {
    this.#running = true;
    const deps = this.#deps;
    mergeRange(deps, n.rangeId, { deadline: deps.clock.now() + MERGE_TIMEOUT_MS, reason: "small" })
      .catch((err) =>
        deps.logger.info("automatic merge failed", { range_id: n.rangeId, error: String(err) })
      ).finally(() => this.#running = false);
  }

  #checkFrozen(n: RangeInfo, seen: Seen, now: number): void {
    const deps = this.#deps;
    if (deps.migrations.involves(n.rangeId) || this.#aborting.has(n.rangeId)) {
      seen.frozenSince = undefined;
      return;
    }
    const since = seen.frozenSince;
    if (since === undefined) {
      seen.frozenSince = now;
      return;
    }
    if (now - since < FROZEN_ABORT_MS) return;
    this.#aborting.add(n.rangeId);
    deps.logger.warn("aborting a stale merge freeze", {
      range_id: n.rangeId,
      into_range_id: n.frozenIntoRangeId,
    });
    abortMerge(deps, n.start, n.end, n.rangeId, n.frozenIntoRangeId, now + MERGE_TIMEOUT_MS)
      .catch((err) =>
        deps.logger.warn("stale freeze abort failed", { range_id: n.rangeId, error: String(err) })
      ).finally(() => {
        this.#aborting.delete(n.rangeId);
        const after = this.#seen.get(n.rangeId);
        if (after !== undefined) after.frozenSince = undefined;
      });
  }
}
