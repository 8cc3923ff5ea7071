/**
 * Applying `Split{split_key, new_range_id, expected_generation}` on the parent (docs/design/0009):
 * the new range takes the left part `[start, split_key)`, the parent keeps `[split_key, end)`.
 * No data moves: ranges are spans over one keyspace. Deterministic on every replica: the new
 * range's stats come from scanning its span as this batch leaves it, and its initial Raft state
 * (index 10, term 5, an empty log) is the same everywhere; the store writes it after every Ready
 * of the turn (`RangeLifecycle.created`).
 *
 * @module
 */

import { countIntents } from "./apply_txn.ts";
import { ErrorCode } from "../base/errors.ts";
import { compareBytes } from "../base/key_encoding.ts";
import {
  type CommandResult,
  copyDescriptor,
  newAppliedState,
  newResult,
  newStats,
  type RaftCommand,
} from "./command.ts";
import { type CommandApply, errorResult, showKey } from "./apply_context.ts";
import { SYSTEM_START } from "./keys.ts";

type Body<C extends string> = Extract<RaftCommand["body"], { case: C }>["value"];

/** The applied index and term a range created by a split starts at (its log is empty). */
export const SPLIT_INITIAL_INDEX = 10n;
/** See {@linkcode SPLIT_INITIAL_INDEX}. */
export const SPLIT_INITIAL_TERM = 5n;

/** Whether `key` lies inside the system keyspace, past its first key `_/`. */
export function insideSystemKeyspace(key: Uint8Array): boolean {
  return key.length > SYSTEM_START.length &&
    compareBytes(key.subarray(0, SYSTEM_START.length), SYSTEM_START) === 0;
}

/**
 * Applies a Split: refused (nothing written) unless the generation is the expected one and the
 * key lies strictly inside the range and not inside `_/` (a split at `_/` itself is the bootstrap
 * split). The result's descriptors are the parent's, then the new range's.
 */
export function applySplit(a: CommandApply, split: Body<"split">): CommandResult {
  const d = a.st.descriptor!;
  const key = split.splitKey;
  const newId = split.newRangeId;
  if (d.generation !== split.expectedGeneration) {
    return errorResult(
      ErrorCode.FAILED_PRECONDITION,
      `Cannot split range as its generation changed: range is ${a.rangeId}, generation is ${d.generation}, expected ${split.expectedGeneration}`,
    );
  }
  if (
    compareBytes(key, d.start) <= 0 || (d.end.length > 0 && compareBytes(key, d.end) >= 0)
  ) {
    return errorResult(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot split range as the key is not strictly inside it: range is ${a.rangeId}, key is ${
        showKey(key)
      }, range is [${showKey(d.start)}, ${d.end.length === 0 ? "end" : showKey(d.end)})`,
    );
  }
  if (insideSystemKeyspace(key)) {
    return errorResult(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot split range as the key lies inside the system keyspace: range is ${a.rangeId}, key is ${
        showKey(key)
      }`,
    );
  }
  if (newId === 0n || newId === d.rangeId) {
    return errorResult(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot split range as the new range id is invalid: range is ${a.rangeId}, new range id is ${newId}`,
    );
  }
  const left = copyDescriptor(d);
  left.rangeId = newId;
  left.end = key.slice();
  left.generation = d.generation + 1n;
  d.start = key.slice();
  d.generation++;
  const live = a.ctx.mvcc.liveStats(left.start, left.end);
  const leftStats = newStats(BigInt(live.keys), BigInt(live.bytes));
  const parentStats = a.st.stats ?? newStats(0n, 0n);
  a.st.stats = newStats(
    parentStats.liveKeys - leftStats.liveKeys,
    parentStats.liveBytes - leftStats.liveBytes,
  );
  const leftIntents = BigInt(countIntents(a.ctx, left.start, left.end));
  a.st.intentCount = BigInt(countIntents(a.ctx, d.start, d.end));
  a.ctx.ranges.created({
    parentRangeId: a.rangeId,
    applied: newAppliedState({
      appliedIndex: SPLIT_INITIAL_INDEX,
      appliedTerm: SPLIT_INITIAL_TERM,
      // The parent's, as of this command: versions of every key keep increasing.
      lastVersion: a.version > a.st.lastVersion ? a.version : a.st.lastVersion,
      descriptor: left,
      stats: leftStats,
      intentCount: leftIntents,
      dedupeSweepVersion: a.st.dedupeSweepVersion,
    }),
  });
  return newResult({ succeeded: true, descriptors: [copyDescriptor(d), copyDescriptor(left)] });
}
