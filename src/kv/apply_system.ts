/**
 * Applying range 1's cluster commands: `Bootstrap` (the first descriptor records and cluster
 * defaults), `TsoReserve` (the timestamp oracle's high-water mark), `AddNode` (a joining node's
 * id and record) and `UpsertNode` (a node's addresses). A name recorded with another data
 * directory (incarnation) is refused: the node lost its data (docs/design/0007).
 *
 * @module
 */

import { ErrorCode } from "../base/errors.ts";
import type { MvccWrite } from "../mvcc/mod.ts";
import {
  type CommandResult,
  decodeNodeRecord,
  encodeNodeRecord,
  newResult,
  type NodeRecord,
  type RaftCommand,
} from "./command.ts";
import { addWrites, type ApplyContext, type CommandApply, errorResult } from "./apply_context.ts";
import { META_LIMITS, metaWrites } from "./apply_meta.ts";
import { systemKeys } from "./keys.ts";
import { timestampOf } from "./version.ts";

type Body<C extends string> = Extract<RaftCommand["body"], { case: C }>["value"];

/**
 * Applies Bootstrap once: the range's descriptor records (`_/partitions/<id>`, its raft group
 * and by-end records) and the system writes. `succeeded` false when the records exist already.
 */
export function applyBootstrap(a: CommandApply, body: Body<"bootstrap">): CommandResult {
  const timestamp = timestampOf(a.version);
  if (a.ctx.mvcc.newest(systemKeys.partition(a.rangeId)) !== undefined) {
    return newResult({ succeeded: false });
  }
  const writes: MvccWrite[] = metaWrites(a.ctx, a.st.descriptor!, timestamp);
  for (const w of body.systemWrites) {
    writes.push({ type: "put", key: w.key, value: w.value, timestamp });
  }
  a.out.systemChanged = true;
  return addWrites(a.ctx, a.st.descriptor!, writes, META_LIMITS) ?? newResult({ succeeded: true });
}

/** Applies TsoReserve: raises the persisted high-water mark. */
export function applyTsoReserve(a: CommandApply, body: Body<"tsoReserve">): CommandResult {
  if (body.upToWallMs > a.st.tsoHighWaterMs) a.st.tsoHighWaterMs = body.upToWallMs;
  return newResult({ succeeded: true });
}

/** Applies AddNode: the node's id (the one its name has, else the next) and its record. */
export function applyAddNode(a: CommandApply, body: Body<"addNode">): CommandResult {
  const record = body.record!;
  const key = systemKeys.node(record.name);
  const existing = recordOf(a.ctx, key);
  if (existing !== undefined && !sameIncarnation(existing, record)) {
    return lostDataError(record.name);
  }
  const nodeId = existing !== undefined ? existing.nodeId : a.st.nextNodeId;
  record.nodeId = nodeId;
  const failed = addWrites(a.ctx, a.st.descriptor!, [{
    type: "put",
    key,
    value: encodeNodeRecord(record),
    timestamp: timestampOf(a.version),
  }]);
  if (failed !== undefined) return failed;
  if (existing === undefined) a.st.nextNodeId++;
  a.out.systemChanged = true;
  return newResult({ succeeded: true, nodeId });
}

/** Applies UpsertNode: replaces the node's record (same incarnation only). */
export function applyUpsertNode(a: CommandApply, body: Body<"upsertNode">): CommandResult {
  const record = body.record!;
  const key = systemKeys.node(record.name);
  const existing = recordOf(a.ctx, key);
  if (existing !== undefined && !sameIncarnation(existing, record)) {
    // A node that lost its data must not overwrite the record of the live member.
    a.ctx.logger.warn("refused node record update", {
      range_id: a.rangeId,
      name: record.name,
      node_id: Number(record.nodeId),
      incarnation: record.incarnation,
      recorded_incarnation: existing.incarnation,
    });
    return lostDataError(record.name);
  }
  const failed = addWrites(a.ctx, a.st.descriptor!, [{
    type: "put",
    key,
    value: encodeNodeRecord(record),
    timestamp: timestampOf(a.version),
  }]);
  if (failed !== undefined) return failed;
  a.out.systemChanged = true;
  return newResult({ succeeded: true });
}

/** The node record under `key` as of this entry (earlier writes of the batch included). */
function recordOf(ctx: ApplyContext, key: Uint8Array): NodeRecord | undefined {
  const value = ctx.mvcc.newest(key)?.value;
  return value === undefined ? undefined : decodeNodeRecord(value);
}

/**
 * Whether `record` comes from the data directory `existing` was written by. A record without an
 * incarnation (written before incarnations existed) matches any.
 */
export function sameIncarnation(existing: NodeRecord, record: { incarnation: string }): boolean {
  return existing.incarnation === "" || existing.incarnation === record.incarnation;
}

/** The refusal of a node whose name is recorded with another data directory. */
export function lostDataMessage(name: string): string {
  return `Cannot admit node ${name} as a member of that name exists with another data directory: the node lost its data; remove the old member first (planned) or join under a new --node-id`;
}

function lostDataError(name: string): CommandResult {
  return errorResult(ErrorCode.FAILED_PRECONDITION, lostDataMessage(name));
}
