/**
 * {@linkcode SplitQueue}: splits the ranges this node leads when they grow past the cluster's
 * thresholds (live bytes `range_max_bytes`, live keys `range_max_keys`, or a write rate above
 * `range_split_qps` for 10 s), one split at a time per node; and performs the bootstrap split that
 * leaves range 1 with the system keyspace alone (docs/design/0009).
 *
 * @module
 */

import { compareBytes } from "../base/key_encoding.ts";
import type { RangeInfo } from "./kv_store.ts";
import { SYSTEM_KEY } from "./range_commands.ts";
import type { RangeQueueDeps, SplitSettings } from "./range_queue_deps.ts";
import { splitRange } from "./range_split.ts";

/** How long a range must stay above the load threshold before a load split. */
export const LOAD_SPLIT_SUSTAIN_MS = 10_000;
/** How long one split may take. */
const SPLIT_TIMEOUT_MS = 30_000;

/** Why a range should split, or undefined. */
export function splitReason(
  r: RangeInfo,
  s: SplitSettings,
  hotSinceMs: number | undefined,
  now: number,
): "size" | "keys" | "load" | undefined {
  if (r.liveBytes > s.maxBytes) return "size";
  if (r.liveKeys > s.maxKeys) return "keys";
  if (
    s.splitQps > 0 && hotSinceMs !== undefined && now - hotSinceMs >= LOAD_SPLIT_SUSTAIN_MS &&
    r.liveKeys >= 2
  ) return "load";
  return undefined;
}

/** The split duty of one store. */
export class SplitQueue {
  readonly #deps: RangeQueueDeps;
  readonly #hotSince = new Map<number, number>();
  #running = false;

  /** @param deps the store's view */
  constructor(deps: RangeQueueDeps) {
    this.#deps = deps;
  }

  /** Looks for one range to split; call about once a second. */
  check(): void {
    if (this.#running || this.#deps.migrations.busy("split")) return;
    const deps = this.#deps;
    const now = deps.clock.now();
    const settings = deps.settings();
    // The ranges whose hot streak goes on: hot in this check, or skipped by it. Any other is
    // forgotten (cooled down, or no longer led here).
    const hot = new Set<number>();
    let chosen: { range: RangeInfo; reason: "size" | "keys" | "load" | "bootstrap" } | undefined;
    for (const r of deps.leaders()) {
      if (r.frozenIntoRangeId !== 0 || deps.migrations.involves(r.rangeId)) {
        if (this.#hotSince.has(r.rangeId)) hot.add(r.rangeId);
        continue;
      }
      // Range 1 (the last range) holds user keys until its bootstrap split at `_/`, also when
      // an operator split off user keys before it (range 1 then starts past "").
      if (r.end.length === 0 && compareBytes(r.start, SYSTEM_KEY) < 0) {
        if (this.#hotSince.has(r.rangeId)) hot.add(r.rangeId);
        chosen ??= { range: r, reason: "bootstrap" };
        continue;
      }
      if (settings.splitQps > 0 && r.writesPerSecond > settings.splitQps) {
        hot.add(r.rangeId);
        if (!this.#hotSince.has(r.rangeId)) this.#hotSince.set(r.rangeId, now);
      }
      if (chosen !== undefined) continue;
      const reason = splitReason(
        r,
        settings,
        hot.has(r.rangeId) ? this.#hotSince.get(r.rangeId) : undefined,
        now,
      );
      if (reason !== undefined) chosen = { range: r, reason };
    }
    for (const id of this.#hotSince.keys()) if (!hot.has(id)) this.#hotSince.delete(id);
    if (chosen !== undefined) this.#run(chosen.range, chosen.reason);
  }

  #run(r: RangeInfo, reason: "size" | "keys" | "load" | "bootstrap"): void {
    this.#running = true;
    const deps = this.#deps;
    (async () => {
      let key: Uint8Array | undefined;
      if (reason === "bootstrap") key = SYSTEM_KEY;
      else key = await deps.middleKey(r.rangeId, reason === "size" ? "bytes" : "keys");
      if (key === undefined || compareBytes(key, r.start) <= 0) return;
      await splitRange(deps, key, {
        deadline: deps.clock.now() + SPLIT_TIMEOUT_MS,
        reason: reason === "bootstrap" ? "manual" : reason,
        allowSystemBoundary: reason === "bootstrap",
      });
      this.#hotSince.delete(r.rangeId);
    })().catch((err) =>
      deps.logger.info("automatic split failed", {
        range_id: r.rangeId,
        reason,
        error: String(err),
      })
    ).finally(() => this.#running = false);
  }
}
