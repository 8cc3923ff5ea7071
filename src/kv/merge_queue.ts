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

/** The merge duty of one store. */
export class MergeQueue {
  readonly #deps: RangeQueueDeps;
  readonly #firstSeen = new Map<number, number>();
  readonly #coldSince = new Map<number, number>();
  readonly #frozenSince = new Map<number, number>();
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
    const seen = new Set<number>();
    const candidates: RangeInfo[] = [];
    for (const n of deps.leaders()) {
      seen.add(n.rangeId);
      if (!this.#firstSeen.has(n.rangeId)) this.#firstSeen.set(n.rangeId, now);
      if (isCold(n, s)) {
        if (!this.#coldSince.has(n.rangeId)) this.#coldSince.set(n.rangeId, now);
      } else this.#coldSince.delete(n.rangeId);
      if (n.frozenIntoRangeId !== 0) {
        this.#checkFrozen(n, now);
        continue;
      }
      this.#frozenSince.delete(n.rangeId);
      if (this.#eligible(n, now, s.mergeDelayMs)) candidates.push(n);
    }
    for (const map of [this.#firstSeen, this.#coldSince, this.#frozenSince]) {
      for (const id of map.keys()) if (!seen.has(id)) map.delete(id);
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

  #eligible(n: RangeInfo, now: number, delayMs: number): boolean {
    // Range 1 is never absorbed, and nothing merges across the start of the system keyspace.
    if (n.rangeId === 1 || n.end.length === 0 || inSystemKeyspace(n.end)) return false;
    if (this.#deps.migrations.involves(n.rangeId)) return false;
    const first = this.#firstSeen.get(n.rangeId) ?? now;
    const cold = this.#coldSince.get(n.rangeId);
    return now - first >= delayMs && cold !== undefined && now - cold >= delayMs / 5;
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

  #checkFrozen(n: RangeInfo, now: number): void {
    const deps = this.#deps;
    if (deps.migrations.involves(n.rangeId) || this.#aborting.has(n.rangeId)) {
      this.#frozenSince.delete(n.rangeId);
      return;
    }
    const since = this.#frozenSince.get(n.rangeId);
    if (since === undefined) {
      this.#frozenSince.set(n.rangeId, now);
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
        this.#frozenSince.delete(n.rangeId);
      });
  }
}
