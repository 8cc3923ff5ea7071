/**
 * {@linkcode MergedReplicaGc}: removes a replica left frozen on this node after its merge applied
 * everywhere else (docs/design/0009, "Merge").
 *
 * A replica N frozen into R is normally destroyed when this node applies R's `Merge`, or when it
 * installs a snapshot of R that covers N. But a node cut off while R absorbed N may catch R up
 * with a snapshot taken after R also split N's keys off again: that snapshot does not cover N, the
 * `Merge` entry is never applied here, and N stays frozen for good. It never gets a leader (its
 * other replicas are gone), and its span blocks the snapshots of the ranges now holding its keys,
 * so this node can never host them and merges waiting for their replicas never finish.
 *
 * So a replica that stayed frozen for {@linkcode ORPHAN_CHECK_MS} asks the other members of its
 * range whether they still hold it. A member whose replica was merged away answers with its
 * tombstone, which proves that the `Merge` is committed in R's log; the replica is then destroyed
 * here with a tombstone of its own (its data stays: those keys belong to R's successors, whose
 * replicas here take them over by their own log or snapshot). Should this node's R still apply
 * that `Merge` from its log afterwards, it finds the tombstone and applies the merge without the
 * replica (`apply_merge.ts`).
 *
 * @module
 */

import type { Clock } from "../base/clock.ts";
import { ErrorCode, isRangeDbError } from "../base/errors.ts";
import type { Logger } from "../base/logger.ts";
import type { ClusterRouter } from "./cluster_router.ts";
import type { Replica } from "./replica.ts";

/** How long a replica stays frozen before its peers are asked whether its merge applied. */
export const ORPHAN_CHECK_MS = 10_000;
/** Deadline of one question to a peer. */
const ASK_TIMEOUT_MS = 2_000;

/** What the collector needs from its store. */
export interface MergedReplicaGcDeps {
  nodeId: number;
  clock: Clock;
  logger: Logger;
  router: ClusterRouter;
  /** The store's replicas. */
  replicas(): Iterable<Replica>;
  /** Destroys `replica` (merged into `into`) in the next scheduler turn, with a tombstone. */
  destroy(replica: Replica, into: number): void;
}

/** The merged-replica collector of one store. */
export class MergedReplicaGc {
  readonly #deps: MergedReplicaGcDeps;
  /** Frozen replicas → when they were first seen frozen (or last asked about). */
  readonly #frozenSince = new Map<Replica, number>();
  #asking = false;

  /** @param deps the store's view */
  constructor(deps: MergedReplicaGcDeps) {
    this.#deps = deps;
  }

  /** Looks at the frozen replicas; asks about one that stayed frozen too long. Call about once a second. */
  check(): void {
    const now = this.#deps.clock.now();
    const frozen = new Set<Replica>();
    let due: Replica | undefined;
    for (const r of this.#deps.replicas()) {
      if (!r.frozen || r.destroyed || r.descriptor === undefined) continue;
      frozen.add(r);
      const since = this.#frozenSince.get(r);
      if (since === undefined) this.#frozenSince.set(r, now);
      else if (now - since >= ORPHAN_CHECK_MS) due ??= r;
    }
    for (const r of this.#frozenSince.keys()) if (!frozen.has(r)) this.#frozenSince.delete(r);
    if (due === undefined || this.#asking) return;
    this.#asking = true;
    this.#frozenSince.set(due, now);
    this.#ask(due).catch((err) =>
      this.#deps.logger.debug("merged replica check failed", {
        range_id: due!.rangeId,
        error: String(err),
      })
    ).finally(() => this.#asking = false);
  }

  async #ask(r: Replica): Promise<void> {
    const deps = this.#deps;
    const members = r.descriptor!.replicas.map((x) => Number(x.nodeId))
      .filter((id) => id !== deps.nodeId);
    for (const node of members) {
      try {
        await deps.router.waitApplied(node, r.rangeId, 0, deps.clock.now() + ASK_TIMEOUT_MS);
      } catch (err) {
        const into = isRangeDbError(err, ErrorCode.RANGE_NOT_FOUND)
          ? Number(err.details.mergedIntoRangeId ?? 0)
          : 0;
        if (into === 0) continue;
        const frozenInto = Number(r.applied?.frozenIntoRangeId ?? 0n);
        // Still frozen into the range that absorbed it elsewhere (no Unfreeze or merge applied
        // here meanwhile).
        if (r.destroyed || frozenInto !== into) return;
        deps.logger.warn("destroying a replica merged away elsewhere", {
          range_id: r.rangeId,
          merged_into: frozenInto,
          told_by: node,
        });
        deps.destroy(r, frozenInto);
        return;
      }
    }
  }
}
