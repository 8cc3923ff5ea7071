/**
 * Applying committed entries of a replica into the scheduler turn's batch, deterministically:
 * every replica that applies the same log reaches the same state and the same results.
 *
 * - The commit version of a command is `max(command timestamp, last version + 1)`, so versions
 *   strictly increase in log order.
 * - Compare-and-swap and delete results are evaluated against the newest value as of the entry,
 *   including earlier writes of the same batch ({@linkcode MvccBatch.newest}).
 * - A command whose request id has a dedupe record is not applied again: its stored result is
 *   returned. Records are dropped when the commit version passes a minute boundary, once they
 *   are ten minutes older than that version (a function of the log alone).
 * - Keys outside the range's descriptor are refused with a deterministic error result.
 * - Entries at or below the applied state's index (already in an installed snapshot) have no
 *   state-machine effect; their conf changes still reach Raft.
 *
 * @module
 */

import { ErrorCode, isRangeDbError } from "../base/errors.ts";
import { compareBytes } from "../base/key_encoding.ts";
import type { Logger } from "../base/logger.ts";
import type { MvccBatch, MvccWrite } from "../mvcc/mod.ts";
import { decodeConfChange, type Entry, EntryType, type RawNode } from "../raft/mod.ts";
import type { Reader, WriteBatch } from "../storage/mod.ts";
import {
  type CommandResult,
  copyAppliedState,
  decodeCommand,
  decodeDedupe,
  decodeNodeRecord,
  decodeProposalId,
  encodeDedupe,
  encodeDescriptor,
  encodeNodeRecord,
  newResult,
  type NodeRecord,
  type RaftCommand,
  type RangeAppliedState,
  type RangeDescriptor,
  setReplicas,
} from "./command.ts";
import {
  dedupeIndexBound,
  dedupeIndexKey,
  dedupeKey,
  requestIdOfIndexKey,
  systemKeys,
} from "./keys.ts";
import { timestampOf, wallMsOf } from "./version.ts";

/** How long a request id is remembered, in version wall ms. */
export const DEDUPE_RETENTION_MS = 10 * 60 * 1000;
const GC_PERIOD_MS = 60 * 1000;

/** What applying needs besides the replica: the turn's batch and what it already holds. */
export interface ApplyContext {
  /** The engine's state before this batch. */
  readonly engine: Reader;
  readonly batch: WriteBatch;
  /** MVCC writes into `batch`, seeing each other. */
  readonly mvcc: MvccBatch;
  /** This node's id (to match applied commands with waiting proposers). */
  readonly nodeId: number;
  /**
   * Dedupe records written (or, as undefined, deleted) by this batch, by `<range id>/<request
   * id>`: the engine does not show them until the batch is written.
   */
  readonly dedupe: Map<string, DedupeEntry | undefined>;
  readonly logger: Logger;
}

/** A dedupe record written by the current batch. */
export interface DedupeEntry {
  result: CommandResult;
  version: bigint;
}

/** The outcome of applying entries. */
export interface ApplyOutcome {
  applied: RangeAppliedState;
  /**
   * Results of this node's proposals, by proposal sequence. `beforeWrite` marks the results of
   * key-value writes, which may be answered before the turn's batch is durable (see
   * `Replica.answerBeforeWrite`); the others (membership, TSO, bootstrap) are answered after it,
   * once the applied state they change is visible.
   */
  results: { seq: number; result: CommandResult; beforeWrite: boolean }[];
  /** Whether system keys (descriptor, node records) changed. */
  systemChanged: boolean;
}

/**
 * Applies `entries` on top of `base` into the context's batch.
 *
 * @param replica the range and its RawNode (conf changes are applied to it)
 * @param base the applied state before `entries`
 * @param entries committed entries, in order
 * @param ctx the turn's batch
 * @returns the new applied state and the results of this node's proposals
 */
export function applyEntries(
  replica: { rangeId: number; raw: RawNode },
  base: RangeAppliedState,
  entries: readonly Entry[],
  ctx: ApplyContext,
): ApplyOutcome {
  const st = copyAppliedState(base);
  const out: ApplyOutcome = { applied: st, results: [], systemChanged: false };
  const me = BigInt(ctx.nodeId);
  for (const e of entries) {
    const skip = e.index <= Number(st.appliedIndex);
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      let refused: CommandResult | undefined;
      try {
        const cs = replica.raw.applyConfChange(cc);
        if (!skip) {
          setReplicas(st.descriptor!, cs);
          st.descriptor!.generation++;
          writeDescriptor(replica.rangeId, st, ctx);
          out.systemChanged = true;
        }
      } catch (err) {
        // Every replica refuses the same change at the same index: the refusal is the result.
        ctx.logger.warn("refused conf change", { range_id: replica.rangeId, error: String(err) });
        refused = errorResult(
          ErrorCode.FAILED_PRECONDITION,
          `Cannot change the members of the range as Raft refused the change: range is ${replica.rangeId}, reason is ${
            err instanceof Error ? err.message : String(err)
          }`,
        );
      }
      const id = decodeProposalId(cc.context);
      if (!skip && id !== undefined && id.proposer === ctx.nodeId) {
        out.results.push({
          seq: id.seq,
          result: refused ?? newResult({ version: st.lastVersion }),
          beforeWrite: false,
        });
      }
    } else if (!skip && e.data.length > 0) {
      const cmd = decodeCommand(e.data);
      const result = applyCommand(replica.rangeId, st, cmd, ctx, out);
      if (cmd.proposerNodeId === me) {
        const kv = cmd.body.case === "write" || cmd.body.case === "compareAndSwap";
        out.results.push({ seq: Number(cmd.proposalSeq), result, beforeWrite: kv });
      }
    }
    if (!skip) {
      st.appliedIndex = BigInt(e.index);
      st.appliedTerm = BigInt(e.term);
    }
  }
  return out;
}

function applyCommand(
  rangeId: number,
  st: RangeAppliedState,
  cmd: RaftCommand,
  ctx: ApplyContext,
  out: ApplyOutcome,
): CommandResult {
  const requestId = cmd.requestId;
  const dedupeId = `${rangeId}/${requestId}`;
  if (requestId !== "") {
    const seen = ctx.dedupe.has(dedupeId)
      ? ctx.dedupe.get(dedupeId)?.result
      : storedResult(ctx.engine, rangeId, requestId);
    if (seen !== undefined) return seen;
  }
  const prev = st.lastVersion;
  const version = cmd.timestamp > prev ? cmd.timestamp : prev + 1n;
  const result = evaluate(st, cmd, version, ctx, out);
  if (result.errorCode === "") {
    st.lastVersion = version;
    result.version = version;
  }
  if (requestId !== "") {
    ctx.batch.put("raft_state", dedupeKey(rangeId, requestId), encodeDedupe(result, version));
    ctx.batch.put("raft_state", dedupeIndexKey(rangeId, version, requestId), new Uint8Array(0));
    ctx.dedupe.set(dedupeId, { result, version });
  }
  if (Math.floor(wallMsOf(prev) / GC_PERIOD_MS) !== Math.floor(wallMsOf(version) / GC_PERIOD_MS)) {
    dropExpiredDedupe(rangeId, version, ctx);
  }
  return result;
}

function storedResult(
  engine: Reader,
  rangeId: number,
  requestId: string,
): CommandResult | undefined {
  const v = engine.get("raft_state", dedupeKey(rangeId, requestId));
  return v === undefined ? undefined : decodeDedupe(v).result;
}

/** Deletes the dedupe records older than the retention before `version`. */
function dropExpiredDedupe(rangeId: number, version: bigint, ctx: ApplyContext): void {
  const cutoff = version - (BigInt(DEDUPE_RETENTION_MS) << 16n);
  if (cutoff <= 0n) return;
  const start = dedupeIndexBound(rangeId, 0n);
  const end = dedupeIndexBound(rangeId, cutoff);
  for (const { key } of ctx.engine.scan("raft_state", { start, end })) {
    const requestId = requestIdOfIndexKey(key);
    const id = `${rangeId}/${requestId}`;
    // Rewritten by this batch: its new index key is the one that counts.
    if (ctx.dedupe.has(id)) continue;
    ctx.batch.delete("raft_state", key);
    ctx.batch.delete("raft_state", dedupeKey(rangeId, requestId));
    ctx.dedupe.set(id, undefined);
  }
  const prefix = `${rangeId}/`;
  for (const [id, entry] of ctx.dedupe) {
    if (entry === undefined || entry.version >= cutoff || !id.startsWith(prefix)) continue;
    const requestId = id.slice(prefix.length);
    ctx.batch.delete("raft_state", dedupeIndexKey(rangeId, entry.version, requestId));
    ctx.batch.delete("raft_state", dedupeKey(rangeId, requestId));
    ctx.dedupe.set(id, undefined);
  }
}

function errorResult(code: ErrorCode, message: string): CommandResult {
  return newResult({ errorCode: code, errorMessage: message });
}

function inSpan(d: RangeDescriptor | undefined, key: Uint8Array): boolean {
  if (d === undefined) return false;
  return compareBytes(key, d.start) >= 0 && (d.end.length === 0 || compareBytes(key, d.end) < 0);
}

function outsideError(rangeId: number, key: Uint8Array): CommandResult {
  return errorResult(
    ErrorCode.RANGE_NOT_FOUND,
    `Cannot write key as it is outside the range: range is ${rangeId}, key is ${
      JSON.stringify(new TextDecoder().decode(key.subarray(0, 64)))
    }`,
  );
}

/** Adds `writes` to the batch, or returns the refusal of an invalid one. */
function addWrites(ctx: ApplyContext, writes: MvccWrite[]): CommandResult | undefined {
  try {
    ctx.mvcc.addAll(writes);
    return undefined;
  } catch (err) {
    if (isRangeDbError(err, ErrorCode.INVALID_ARGUMENT)) {
      return errorResult(ErrorCode.INVALID_ARGUMENT, err.message);
    }
    throw err;
  }
}

function evaluate(
  st: RangeAppliedState,
  cmd: RaftCommand,
  version: bigint,
  ctx: ApplyContext,
  out: ApplyOutcome,
): CommandResult {
  const rangeId = Number(st.descriptor?.rangeId ?? 0n);
  const timestamp = timestampOf(version);
  const body = cmd.body;
  switch (body.case) {
    case "write": {
      let deleted: boolean | undefined;
      const writes: MvccWrite[] = [];
      for (const op of body.value.ops) {
        if (!inSpan(st.descriptor, op.key)) return outsideError(rangeId, op.key);
        if (op.delete) {
          deleted ??= ctx.mvcc.newest(op.key)?.value !== undefined;
          writes.push({ type: "delete", key: op.key, timestamp });
        } else {
          writes.push({ type: "put", key: op.key, value: op.value, timestamp });
        }
      }
      return addWrites(ctx, writes) ?? newResult({ succeeded: deleted ?? false });
    }
    case "compareAndSwap": {
      const cas = body.value;
      if (!inSpan(st.descriptor, cas.key)) return outsideError(rangeId, cas.key);
      const current = ctx.mvcc.newest(cas.key)?.value;
      const found = current !== undefined;
      const holds = cas.expectAbsent ? !found : found && compareBytes(current, cas.expected) === 0;
      if (!holds) {
        return newResult({ succeeded: false, found, actual: found ? current.slice() : undefined });
      }
      const write: MvccWrite = cas.delete
        ? { type: "delete", key: cas.key, timestamp }
        : { type: "put", key: cas.key, value: cas.value, timestamp };
      return addWrites(ctx, [write]) ?? newResult({ succeeded: true, found });
    }
    case "bootstrap": {
      const partition = systemKeys.partition(rangeId);
      if (ctx.mvcc.newest(partition) !== undefined) return newResult({ succeeded: false });
      const descriptor = encodeDescriptor(st.descriptor!);
      const writes: MvccWrite[] = [
        { type: "put", key: partition, value: descriptor, timestamp },
        { type: "put", key: systemKeys.raftGroup(rangeId), value: descriptor, timestamp },
      ];
      for (const w of body.value.systemWrites) {
        writes.push({ type: "put", key: w.key, value: w.value, timestamp });
      }
      out.systemChanged = true;
      return addWrites(ctx, writes) ?? newResult({ succeeded: true });
    }
    case "tsoReserve": {
      const upTo = body.value.upToWallMs;
      if (upTo > st.tsoHighWaterMs) st.tsoHighWaterMs = upTo;
      return newResult({ succeeded: true });
    }
    case "addNode": {
      const record = body.value.record!;
      const key = systemKeys.node(record.name);
      const existing = recordOf(ctx, key);
      if (existing !== undefined && !sameIncarnation(existing, record)) {
        return lostDataError(record.name);
      }
      let nodeId: bigint;
      if (existing !== undefined) {
        nodeId = existing.nodeId;
      } else {
        nodeId = st.nextNodeId;
        st.nextNodeId++;
      }
      record.nodeId = nodeId;
      out.systemChanged = true;
      return addWrites(ctx, [{ type: "put", key, value: encodeNodeRecord(record), timestamp }]) ??
        newResult({ succeeded: true, nodeId });
    }
    case "upsertNode": {
      const record = body.value.record!;
      const key = systemKeys.node(record.name);
      const existing = recordOf(ctx, key);
      if (existing !== undefined && !sameIncarnation(existing, record)) {
        // A node that lost its data must not overwrite the record of the live member.
        ctx.logger.warn("refused node record update", {
          range_id: rangeId,
          name: record.name,
          node_id: Number(record.nodeId),
          incarnation: record.incarnation,
          recorded_incarnation: existing.incarnation,
        });
        return lostDataError(record.name);
      }
      out.systemChanged = true;
      return addWrites(ctx, [{
        type: "put",
        key,
        value: encodeNodeRecord(record),
        timestamp,
      }]) ?? newResult({ succeeded: true });
    }
    default:
      return newResult({ succeeded: true });
  }
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

/** Writes a changed descriptor under `_/partitions/<id>` and `_/raft/groups/<id>`. */
function writeDescriptor(rangeId: number, st: RangeAppliedState, ctx: ApplyContext): void {
  st.lastVersion = st.lastVersion + 1n;
  const timestamp = timestampOf(st.lastVersion);
  const value = encodeDescriptor(st.descriptor!);
  ctx.mvcc.put(systemKeys.partition(rangeId), value, timestamp);
  ctx.mvcc.put(systemKeys.raftGroup(rangeId), value, timestamp);
}
