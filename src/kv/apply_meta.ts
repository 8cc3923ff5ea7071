/**
 * Range 1's meta commands: `AllocateRangeId` (range ids from a counter in range 1's applied
 * state) and `UpdateMeta` (the meta copy of descriptors: `_/partitions/<id>`,
 * `_/raft/groups/<id>` and the addressing index `_/partitions/by-end/<end>`). A record is only
 * replaced by a higher generation, so late and repeated updates are harmless
 * (docs/design/0009). Elsewhere both are refused with a deterministic FAILED_PRECONDITION.
 *
 * @module
 */

import { ErrorCode } from "../base/errors.ts";
import { compareBytes } from "../base/key_encoding.ts";
import { DEFAULT_MAX_VALUE_BYTES, type KeyLimits } from "../base/key_limits.ts";
import type { MvccWrite } from "../mvcc/mod.ts";
import type { Timestamp } from "../base/key_encoding.ts";
import {
  type CommandResult,
  decodeDescriptor,
  encodeDescriptor,
  newResult,
  type RaftCommand,
  type RangeDescriptor,
} from "./command.ts";
import { addWrites, type ApplyContext, type CommandApply, errorResult } from "./apply_context.ts";
import { systemKeys } from "./keys.ts";
import { timestampOf } from "./version.ts";
import { FIRST_RANGE_ID } from "./bootstrap.ts";

type Body<C extends string> = Extract<RaftCommand["body"], { case: C }>["value"];

/** The first id `AllocateRangeId` hands out (the bootstrap split's new range). */
export const FIRST_ALLOCATED_RANGE_ID = 2n;

/**
 * Key limits of meta records: a by-end key is a range's end (up to a user key's limit) behind a
 * 20-byte prefix.
 */
export const META_LIMITS: Readonly<KeyLimits> = Object.freeze({
  maxKeyBytes: 16 * 1024,
  maxValueBytes: DEFAULT_MAX_VALUE_BYTES,
});

function notRangeOne(a: CommandApply, what: string): CommandResult | undefined {
  if (a.rangeId === FIRST_RANGE_ID) return undefined;
  return errorResult(
    ErrorCode.FAILED_PRECONDITION,
    `Cannot ${what} as this is not range 1: range is ${a.rangeId}`,
  );
}

/** Applies AllocateRangeId: hands out `next_range_id` (0 is read as 2) in `range_id`. */
export function applyAllocateRangeId(a: CommandApply): CommandResult {
  const refused = notRangeOne(a, "allocate a range id");
  if (refused !== undefined) return refused;
  const id = a.st.nextRangeId === 0n ? FIRST_ALLOCATED_RANGE_ID : a.st.nextRangeId;
  a.st.nextRangeId = id + 1n;
  return newResult({ succeeded: true, rangeId: id });
}

/** The stored descriptor under `key` as of this entry; undefined when absent. */
function storedDescriptor(ctx: ApplyContext, key: Uint8Array): RangeDescriptor | undefined {
  const value = ctx.mvcc.newest(key)?.value;
  return value === undefined ? undefined : decodeDescriptor(value);
}

/**
 * The writes that bring the meta copy of `d` up to date: none when the stored record's
 * generation is not lower; else its id, raft group and by-end records, and the deletion of its
 * old by-end record when its end changed and that record still names it.
 *
 * @param ctx the turn's context (reads the newest records as of this entry)
 * @param d the descriptor
 * @param timestamp the version to write at
 */
export function metaWrites(
  ctx: ApplyContext,
  d: RangeDescriptor,
  timestamp: Timestamp,
): MvccWrite[] {
  const id = Number(d.rangeId);
  const newest = ctx.mvcc.newest(systemKeys.partition(id));
  // A tombstone: the range was merged away (ids are never reused); a late update of it must not
  // bring it back.
  if (newest !== undefined && newest.value === undefined) return [];
  const stored = newest === undefined ? undefined : decodeDescriptor(newest.value!);
  if (stored !== undefined && stored.generation >= d.generation) return [];
  const value = encodeDescriptor(d);
  const writes: MvccWrite[] = [
    { type: "put", key: systemKeys.partition(id), value, timestamp },
    { type: "put", key: systemKeys.raftGroup(id), value, timestamp },
    { type: "put", key: systemKeys.partitionByEnd(d.end), value, timestamp },
  ];
  if (stored !== undefined && compareBytes(stored.end, d.end) !== 0) {
    const old = systemKeys.partitionByEnd(stored.end);
    if (storedDescriptor(ctx, old)?.rangeId === d.rangeId) {
      writes.push({ type: "delete", key: old, timestamp });
    }
  }
  return writes;
}

/** The writes that remove the meta copy of `r`, when the stored generation is not higher. */
function removalWrites(
  ctx: ApplyContext,
  r: RangeDescriptor,
  timestamp: Timestamp,
): MvccWrite[] {
  const id = Number(r.rangeId);
  const stored = storedDescriptor(ctx, systemKeys.partition(id));
  if (stored !== undefined && stored.generation > r.generation) return [];
  // Always a tombstone, even for a record never written: it keeps a late update out.
  const writes: MvccWrite[] = [
    { type: "delete", key: systemKeys.partition(id), timestamp },
    { type: "delete", key: systemKeys.raftGroup(id), timestamp },
  ];
  const ends = stored === undefined || compareBytes(stored.end, r.end) === 0
    ? [r.end]
    : [stored.end, r.end];
  for (const end of ends) {
    const key = systemKeys.partitionByEnd(end);
    if (storedDescriptor(ctx, key)?.rangeId === r.rangeId) {
      writes.push({ type: "delete", key, timestamp });
    }
  }
  return writes;
}

/** Applies UpdateMeta (range 1 only): descriptors first, then removals, each in order. */
export function applyUpdateMeta(a: CommandApply, body: Body<"updateMeta">): CommandResult {
  const refused = notRangeOne(a, "update the meta copy");
  if (refused !== undefined) return refused;
  const timestamp = timestampOf(a.version);
  const d = a.st.descriptor!;
  // Each record is added before the next is computed: they read each other's writes.
  for (const desc of body.descriptors) {
    const failed = addWrites(a.ctx, d, metaWrites(a.ctx, desc, timestamp), META_LIMITS);
    if (failed !== undefined) return failed;
  }
  for (const r of body.removed) {
    const failed = addWrites(a.ctx, d, removalWrites(a.ctx, r, timestamp), META_LIMITS);
    if (failed !== undefined) return failed;
  }
  a.out.systemChanged = true;
  return newResult({ succeeded: true });
}
