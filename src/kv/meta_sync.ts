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
  /** Merged ranges whose meta record is known to be gone. */
  readonly #gone = new Set<number>();

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
    // Led ranges with an entry in #synced: when fewer than its size, it holds others.
    let known = 0;
    for (const r of deps.leaders()) {
      const synced = this.#synced.get(r.rangeId);
      if (synced !== undefined) known++;
      if (synced === r.generation) continue;
      if (deps.metaGeneration(r.rangeId) === r.generation) {
        if (synced === undefined) known++;
        this.#synced.set(r.rangeId, r.generation);
        continue;
      }
      if (stale.length < BATCH) stale.push(descriptorOfInfo(r));
    }
    // A range led elsewhere now is synced by its new leader; forget it here.
    if (this.#synced.size > known) {
      const led = new Set<number>();
      for (const r of deps.leaders()) led.add(r.rangeId);
      for (const id of this.#synced.keys()) if (!led.has(id)) this.#synced.delete(id);
    }
    const removed: RangeDescriptor[] = [];
    for (const id of deps.mergedAway?.() ?? []) {
      if (removed.length >= BATCH) break;
      // Each merged range is looked up in the meta copy until its record is gone, then never
      // again: a node keeps every tombstone.
      if (this.#gone.has(id)) continue;
      if (deps.metaGeneration(id) === undefined) {
        this.#gone.add(id);
        continue;
      }
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
