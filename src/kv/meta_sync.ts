/**
 * {@linkcode MetaSync}: keeps range 1's meta copy (`_/partitions/…`) in step with the descriptors
 * of the ranges this node leads. A range's leader proposes `UpdateMeta` whenever its descriptor's
 * generation is not the one it last synced or finds in the local meta copy: after a split, a
 * merge, a membership change, and once after winning leadership. `UpdateMeta` only replaces older
 * generations, so repeats and races are harmless (docs/design/0009).
 *
 * It also removes the record of a range merged away on this node that the local meta copy still
 * names: the merge's coordinator removes it after the merge, but may die before (its removal is
 * then never sent, and routing would keep finding the dead range).
 *
 * @module
 */

import { newDescriptor, type RangeDescriptor } from "./command.ts";
import type { RangeQueueDeps } from "./range_queue_deps.ts";
import { descriptorOfInfo } from "./range_split.ts";

/** Descriptors per UpdateMeta command. */
const BATCH = 100;
const SYNC_TIMEOUT_MS = 10_000;
/**
 * The generation of a removal of a range merged away: above any it ever had, so the removal
 * replaces its record whatever that was (ids are never reused, so nothing newer can exist).
 */
const REMOVAL_GENERATION = Number.MAX_SAFE_INTEGER;

/** The meta-sync duty of one store. */
export class MetaSync {
  readonly #deps: RangeQueueDeps;
  /** Range id → generation last written (or found) in the meta copy. */
  readonly #synced = new Map<number, number>();
  #running = false;

  /** @param deps the store's view */
  constructor(deps: RangeQueueDeps) {
    this.#deps = deps;
  }

  /** Forgets what was synced (e.g. after a restart of range 1's data); for tests. */
  reset(): void {
    this.#synced.clear();
  }

  /** Proposes one UpdateMeta for stale descriptors, if any; call about twice a second. */
  check(): void {
    if (this.#running) return;
    const deps = this.#deps;
    const stale: RangeDescriptor[] = [];
    const seen = new Set<number>();
    for (const r of deps.leaders()) {
      seen.add(r.rangeId);
      if (this.#synced.get(r.rangeId) === r.generation) continue;
      if (deps.metaGeneration(r.rangeId) === r.generation) {
        this.#synced.set(r.rangeId, r.generation);
        continue;
      }
      if (stale.length < BATCH) stale.push(descriptorOfInfo(r));
    }
    // A range led elsewhere now is synced by its new leader; forget it here.
    for (const id of this.#synced.keys()) if (!seen.has(id)) this.#synced.delete(id);
    const removed: RangeDescriptor[] = [];
    for (const id of deps.mergedAway?.() ?? []) {
      if (removed.length >= BATCH) break;
      if (deps.metaGeneration(id) === undefined) continue;
      const empty = new Uint8Array(0);
      removed.push(newDescriptor({
        rangeId: id,
        start: empty,
        end: empty,
        generation: REMOVAL_GENERATION,
        voters: [],
      }));
    }
    if (stale.length === 0 && removed.length === 0) return;
    this.#running = true;
    deps.commands.updateMeta(stale, removed, deps.clock.now() + SYNC_TIMEOUT_MS).then(
      () => {
        for (const d of stale) this.#synced.set(Number(d.rangeId), Number(d.generation));
      },
      (err) => deps.logger.debug("meta sync failed", { ranges: stale.length, error: String(err) }),
    ).finally(() => this.#running = false);
  }
}
