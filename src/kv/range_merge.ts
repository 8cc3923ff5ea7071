/**
 * {@linkcode mergeRange}: the coordinator of one merge (docs/design/0009). Range N is absorbed by
 * its right-hand neighbour R:
 *
 * 1. check from the descriptors: adjacent, same replicas, N not range 1, not across `_/`;
 * 2. `Subsume` on N freezes it (it refuses every read and write from then on) at index S;
 * 3. wait until every replica of N has applied S;
 * 4. `Merge` on R: every node extends R and destroys its replica of N in the same batch;
 * 5. write the meta copy.
 *
 * When step 3 or 4 fails, {@linkcode abortMerge} proposes `AbortMerge` on R, which makes a `Merge`
 * still in R's log unable to apply, and learns from its result whether the merge applied first;
 * only if it did not is N unfrozen. The same abort ends a freeze whose coordinator vanished.
 *
 * @module
 */

import { ErrorCode, isRangeDbError, RangeDbError } from "../base/errors.ts";
import { compareBytes } from "../base/key_encoding.ts";
import type { ClusterRouter } from "./cluster_router.ts";
import type { RangeDescriptor } from "./command.ts";
import type { MergeOutcome, RangeInfo } from "./kv_store.ts";
import type { FreezePoint } from "./range_commands.ts";
import {
  type CoordinatorDeps,
  descriptorOfInfo,
  infoOfDescriptor,
  inSystemKeyspace,
  pause,
} from "./range_split.ts";

/** What the merge coordinator needs besides a split's. */
export interface MergeDeps extends CoordinatorDeps {
  router: ClusterRouter;
}

const RETRY_PAUSE_MS = 50;

/** The range 1 id: never absorbed. */
const FIRST_RANGE_ID = 1;

/**
 * Checks that range `n` may be absorbed by `r` (its right-hand neighbour, as this node knows it).
 *
 * @throws {RangeDbError} FAILED_PRECONDITION naming the rule that does not hold
 */
export function checkMergeable(n: RangeInfo, r: RangeInfo | undefined): asserts r is RangeInfo {
  const fail = (why: string) =>
    new RangeDbError(
      ErrorCode.FAILED_PRECONDITION,
      `Cannot merge range ${n.rangeId} into its right-hand neighbour as ${why}`,
    );
  if (n.rangeId === FIRST_RANGE_ID || n.end.length === 0) {
    throw fail("it is the last range (range 1 holds the system keyspace and is never absorbed)");
  }
  if (inSystemKeyspace(n.end)) {
    throw fail("the system keyspace starts at its end and stays in range 1 alone");
  }
  if (r === undefined || compareBytes(r.start, n.end) !== 0) {
    throw fail("its right-hand neighbour is not known here yet; retry shortly");
  }
  if (n.frozenIntoRangeId !== 0 || r.frozenIntoRangeId !== 0) {
    throw fail(
      `a merge is already in progress: range ${
        n.frozenIntoRangeId !== 0 ? n.rangeId : r.rangeId
      } is frozen`,
    );
  }
  if (!sameReplicas(n, r)) {
    throw fail(
      `the replicas differ: range ${n.rangeId} is on nodes ${
        replicaList(n)
      }, range ${r.rangeId} is on nodes ${replicaList(r)}`,
    );
  }
}

function replicaList(r: RangeInfo): string {
  const voters = [...r.voters].sort((a, b) => a - b).join(",");
  return r.learners.length === 0
    ? voters
    : `${voters} (learners ${[...r.learners].sort((a, b) => a - b).join(",")})`;
}

function sameReplicas(a: RangeInfo, b: RangeInfo): boolean {
  return replicaList(a) === replicaList(b);
}

/**
 * Merges range `rangeId` into its right-hand neighbour.
 *
 * @param deps the store's services
 * @param rangeId the range to absorb
 * @param options deadline, dry run and why (for the migrations list)
 * @returns the neighbour after the merge (or as it would be)
 * @throws {RangeDbError} NOT_FOUND for an unknown range; FAILED_PRECONDITION when the rules do not
 *   hold; UNAVAILABLE/TIMEOUT when a step failed (the merge was then aborted, or is aborted later
 *   by the frozen range's leader)
 */
export async function mergeRange(
  deps: MergeDeps,
  rangeId: number,
  options: { deadline: number; dryRun?: boolean; reason?: "manual" | "small" },
): Promise<MergeOutcome> {
  const n = deps.rangeById(rangeId);
  if (n === undefined) {
    throw new RangeDbError(
      ErrorCode.NOT_FOUND,
      `Cannot merge range ${rangeId} as no such range is known`,
    );
  }
  const r = n.end.length === 0 ? undefined : lookupOrUndefined(deps, n.end);
  checkMergeable(n, r);
  if (options.dryRun) {
    return {
      merged: {
        ...r,
        start: n.start,
        liveKeys: r.liveKeys + n.liveKeys,
        liveBytes: r.liveBytes + n.liveBytes,
      },
      subsumedRangeId: rangeId,
      dryRun: true,
    };
  }
  const handle = deps.migrations.start({
    kind: "merge",
    rangeId,
    otherRangeId: r.rangeId,
    key: new Uint8Array(0),
    state: "freezing",
    startedAtMs: deps.clock.now(),
    reason: options.reason ?? "manual",
    nodeId: deps.nodeId,
  });
  const rKey = n.end; // inside R before and after the merge
  try {
    let freeze: FreezePoint;
    try {
      freeze = await deps.commands.subsume(
        n.start,
        r.rangeId,
        BigInt(n.generation),
        options.deadline,
      );
    } catch (err) {
      // A refused Subsume froze nothing; an unknown outcome may have frozen N: undo that.
      if (isRangeDbError(err) && err.details.refused === true) throw err;
      handle.set("aborting");
      await abortMerge(deps, n.start, rKey, rangeId, r.rangeId, options.deadline + 5_000);
      throw err;
    }
    handle.set("waiting");
    let merged: RangeDescriptor;
    try {
      await waitAllApplied(deps, freeze, options.deadline);
      handle.set("merging");
      merged = await deps.commands.merge(rKey, freeze, BigInt(r.generation), options.deadline);
    } catch (err) {
      handle.set("aborting");
      const applied = !await abortMerge(
        deps,
        n.start,
        rKey,
        rangeId,
        r.rangeId,
        options.deadline + 5_000,
      );
      if (!applied) throw err;
      // The merge applied before the abort: report it.
      const now = deps.lookup(rKey);
      merged = descriptorOfInfo(now);
    }
    deps.logger.info("ranges merged", {
      range_id: Number(merged.rangeId),
      subsumed_range_id: rangeId,
      reason: options.reason ?? "manual",
    });
    await deps.commands.updateMeta([merged], [freeze.descriptor], options.deadline).catch((err) =>
      deps.logger.warn("meta update after merge failed", { error: String(err) })
    );
    return { merged: infoOfDescriptor(merged), subsumedRangeId: rangeId, dryRun: false };
  } finally {
    handle.done();
  }
}

function lookupOrUndefined(deps: CoordinatorDeps, key: Uint8Array): RangeInfo | undefined {
  try {
    return deps.lookup(key);
  } catch {
    return undefined;
  }
}

/** Waits until every replica of the frozen range applied its freeze index. */
async function waitAllApplied(deps: MergeDeps, freeze: FreezePoint, deadline: number) {
  const rangeId = Number(freeze.descriptor.rangeId);
  const nodes = freeze.descriptor.replicas.map((r) => Number(r.nodeId));
  await Promise.all(
    nodes.map((node) => deps.router.waitApplied(node, rangeId, freeze.appliedIndex, deadline)),
  );
}

/**
 * Ends a merge attempt of range `subsumedId` (reached through `nKey`) into `intoId` (reached
 * through `rKey`): `AbortMerge` on the absorbing range, then, if the merge had not applied,
 * `Unfreeze` on the subsumed range. Retries until `deadline`.
 *
 * @returns true when the merge did not apply (the range is unfrozen, or will be by its leader's
 *   duty), false when it had applied
 * @throws {RangeDbError} UNAVAILABLE/TIMEOUT when the abort itself could not be done in time
 */
export async function abortMerge(
  deps: CoordinatorDeps,
  nKey: Uint8Array,
  rKey: Uint8Array,
  subsumedId: number,
  intoId: number,
  deadline: number,
): Promise<boolean> {
  let notApplied: boolean;
  for (;;) {
    try {
      notApplied = await deps.commands.abortMerge(rKey, subsumedId, deadline);
      break;
    } catch (err) {
      if (deps.clock.now() + RETRY_PAUSE_MS >= deadline) throw err;
    }
    await pause(deps.clock, RETRY_PAUSE_MS);
  }
  if (!notApplied) return false;
  for (;;) {
    try {
      await deps.commands.unfreeze(nKey, intoId, deadline);
      deps.logger.info("merge aborted", { range_id: subsumedId, into_range_id: intoId });
      return true;
    } catch (err) {
      if (deps.clock.now() + RETRY_PAUSE_MS >= deadline) {
        deps.logger.warn("unfreeze after aborted merge failed", {
          range_id: subsumedId,
          error: String(err),
        });
        return true;
      }
    }
    await pause(deps.clock, RETRY_PAUSE_MS);
  }
}
