/**
 * Applying the merge commands (docs/design/0009, "Merge (freeze, wait, absorb)"):
 *
 * - `Subsume` on the left range N freezes it for a merge into its right neighbour R: from then on
 *   N refuses every command but `Unfreeze` with RANGE_MOVED (see `replica_apply.ts`).
 * - `Merge` on R absorbs the frozen N: R extends to N's start and the store destroys its replica
 *   of N in the same batch. Every replica of N must have applied the freeze index first (the
 *   coordinator waits for it); a node where that does not hold cannot apply the merge
 *   deterministically and fails loudly.
 * - `AbortMerge` on R bumps R's generation so that a Merge still in the log can no longer apply,
 *   and tells whether one applied first.
 * - `Unfreeze` on N ends the freeze of an aborted merge.
 *
 * @module
 */

import { countIntents } from "./apply_txn.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { compareBytes } from "../base/key_encoding.ts";
import {
  type CommandResult,
  copyDescriptor,
  newResult,
  newStats,
  type RaftCommand,
  type RangeDescriptor,
} from "./command.ts";
import { type CommandApply, errorResult } from "./apply_context.ts";
import { FIRST_RANGE_ID } from "./bootstrap.ts";
import { SYSTEM_START } from "./keys.ts";

type Body<C extends string> = Extract<RaftCommand["body"], { case: C }>["value"];

function generationChanged(a: CommandApply, what: string, expected: bigint): CommandResult {
  return errorResult(
    ErrorCode.FAILED_PRECONDITION,
    `Cannot ${what} as the range's generation changed: range is ${a.rangeId}, generation is ${
      a.st.descriptor!.generation
    }, expected ${expected}`,
  );
}

/**
 * Applies Subsume: freezes the range for a merge into `into_range_id`. The result carries the
 * freeze index, the last version, the stats and the descriptor.
 */
export function applySubsume(a: CommandApply, body: Body<"subsume">): CommandResult {
  const d = a.st.descriptor!;
  if (d.generation !== body.expectedGeneration) {
    return generationChanged(a, "freeze the range for a merge", body.expectedGeneration);
  }
  if (a.rangeId === FIRST_RANGE_ID || body.intoRangeId === 0n || body.intoRangeId === d.rangeId) {
    return errorResult(
      ErrorCode.FAILED_PRECONDITION,
      `Cannot freeze the range for a merge as it cannot merge into that range: range is ${a.rangeId}, into ${body.intoRangeId}`,
    );
  }
  a.st.frozenIntoRangeId = body.intoRangeId;
  return newResult({
    succeeded: true,
    appliedIndex: BigInt(a.index),
    lastVersion: a.version > a.st.lastVersion ? a.version : a.st.lastVersion,
    stats: a.st.stats ?? newStats(0n, 0n),
    descriptors: [copyDescriptor(d)],
  });
}

function sameReplicas(x: RangeDescriptor, y: RangeDescriptor): boolean {
  const list = (d: RangeDescriptor) =>
    d.replicas.map((r) => `${r.nodeId}/${r.learner}`).sort().join(",");
  return list(x) === list(y);
}

/**
 * Applies Merge on the right neighbour R of the frozen `subsumed` range N: refused unless R's
 * generation is the expected one, N ends where R starts and both have the same replicas. Then
 * R extends to N's start (generation + 1, last version the larger, stats added) and this node's
 * replica of N is destroyed.
 *
 * @throws {RangeDbError} INTERNAL when this node's replica of N is missing, not frozen into R or
 *   has not applied the freeze index (the coordinator's wait makes that impossible)
 */
export function applyMerge(a: CommandApply, body: Body<"merge">): CommandResult {
  const d = a.st.descriptor!;
  const sub = body.subsumed;
  if (d.generation !== body.expectedGeneration) {
    return generationChanged(a, "merge", body.expectedGeneration);
  }
  if (sub === undefined || compareBytes(sub.end, d.start) !== 0 || sub.end.length === 0) {
    return errorResult(
      ErrorCode.FAILED_PRECONDITION,
      `Cannot merge as the subsumed range is not the left neighbour: range is ${a.rangeId}, subsumed is ${sub?.rangeId}`,
    );
  }
  const crossesSystem = compareBytes(sub.start, SYSTEM_START) < 0 &&
    (d.end.length === 0 || compareBytes(d.end, SYSTEM_START) > 0);
  if (crossesSystem) {
    return errorResult(
      ErrorCode.FAILED_PRECONDITION,
      `Cannot merge as the merged range would hold user and system keys: range is ${a.rangeId}, subsumed is ${sub.rangeId}`,
    );
  }
  if (!sameReplicas(sub, d)) {
    return errorResult(
      ErrorCode.FAILED_PRECONDITION,
      `Cannot merge as the neighbours' replicas differ: range is ${a.rangeId}, subsumed is ${sub.rangeId}`,
    );
  }
  const subId = Number(sub.rangeId);
  const local = a.ctx.ranges.appliedStateOf(subId);
  // Destroyed here already, by the collector of replicas merged away elsewhere (it learnt from
  // another member that this very merge is committed: merged_replica_gc.ts). The merge's effect
  // on this range does not depend on the local replica of N.
  const collected = local === undefined && a.ctx.ranges.mergedInto(subId) === a.rangeId;
  if (
    !collected && (local === undefined || local.frozenIntoRangeId !== d.rangeId ||
      Number(local.appliedIndex) < Number(body.subsumedAppliedIndex) ||
      local.descriptor === undefined || compareBytes(local.descriptor.start, sub.start) !== 0)
  ) {
    throw new RangeDbError(
      ErrorCode.INTERNAL,
      `Cannot apply merge as this node's replica of the subsumed range has not applied its freeze: range is ${a.rangeId}, subsumed is ${subId}, freeze index is ${body.subsumedAppliedIndex}, local applied index is ${
        local?.appliedIndex ?? "none"
      }, local frozen into ${local?.frozenIntoRangeId ?? "none"}`,
    );
  }
  d.start = sub.start.slice();
  // Above every generation either side had: the meta copy tells a stale record of the subsumed
  // range from the range that now covers its span by generation alone.
  d.generation = (sub.generation > d.generation ? sub.generation : d.generation) + 1n;
  a.st.intentCount = BigInt(countIntents(a.ctx, d.start, d.end));
  if (body.subsumedLastVersion > a.st.lastVersion) a.st.lastVersion = body.subsumedLastVersion;
  const mine = a.st.stats ?? newStats(0n, 0n);
  const theirs = body.subsumedStats ?? newStats(0n, 0n);
  a.st.stats = newStats(mine.liveKeys + theirs.liveKeys, mine.liveBytes + theirs.liveBytes);
  a.st.lastSubsumedRangeId = sub.rangeId;
  if (!collected) a.ctx.ranges.destroyed(subId, a.rangeId);
  a.out.systemChanged = true;
  return newResult({ succeeded: true, descriptors: [copyDescriptor(d)] });
}

/**
 * Applies AbortMerge: bumps the generation (a Merge still in the log can no longer apply).
 * `succeeded` is true when the merge of `subsumed_range_id` had not applied, false when it had.
 */
export function applyAbortMerge(a: CommandApply, body: Body<"abortMerge">): CommandResult {
  const d = a.st.descriptor!;
  d.generation++;
  const merged = body.subsumedRangeId !== 0n && a.st.lastSubsumedRangeId === body.subsumedRangeId;
  return newResult({ succeeded: !merged, descriptors: [copyDescriptor(d)] });
}

/** Applies Unfreeze: clears a freeze into `into_range_id` (`succeeded` false when none). */
export function applyUnfreeze(a: CommandApply, body: Body<"unfreeze">): CommandResult {
  if (a.st.frozenIntoRangeId === 0n || a.st.frozenIntoRangeId !== body.intoRangeId) {
    return newResult({ succeeded: false });
  }
  a.st.frozenIntoRangeId = 0n;
  return newResult({ succeeded: true });
}
