/**
 * Applying the commands of cross-range batches (a two-phase commit, docs/design/0009), and the
 * intent check of ordinary writes. Deterministic like every apply: the results depend on the log
 * and the state it left, read through the engine and this batch's own earlier writes.
 *
 * - `PrepareBatch` writes an intent (`locks` keyspace) on each key; a key holding another batch's
 *   intent refuses the whole command with LOCKED and nothing is written.
 * - `CommitBatch` / `AbortBatch` write the decision record on the primary key's range (`txn`
 *   keyspace, key = encoded primary key + txn id): whichever is applied first wins.
 * - `ResolveIntents` turns the batch's intents into versions or removes them.
 * - `ForgetBatch` deletes the decision record once every intent is resolved.
 * - A write or compare-and-swap whose key holds an intent is refused with LOCKED (nothing
 *   written): the store resolves the intent and retries it, so a write never lands between a
 *   batch's decision and the resolution of its intents.
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ErrorCode } from "../base/errors.ts";
import { compareBytes, encodeBytes } from "../base/key_encoding.ts";
import { decodeIntent, encodeIntent, type Intent } from "../mvcc/mod.ts";
import { type TxnRecord, TxnRecordSchema } from "../../proto/gen/rangedb/v1/command_pb.ts";
import {
  type CommandResult,
  newResult,
  type RaftCommand,
  type RangeAppliedState,
} from "./command.ts";
import type { ApplyContext } from "./apply_context.ts";
import { timestampOf } from "./version.ts";

type Body<K extends string> = Extract<RaftCommand["body"], { case: K }>["value"];

const encoder = new TextEncoder();

/** The `txn` keyspace key of a batch's decision record. */
export function txnRecordKey(primaryKey: Uint8Array, txnId: string): Uint8Array {
  const head = encodeBytes(primaryKey);
  const id = encoder.encode(txnId);
  const out = new Uint8Array(head.length + id.length);
  out.set(head);
  out.set(id, head.length);
  return out;
}

/** Decodes a decision record. */
export function decodeTxnRecord(b: Uint8Array): TxnRecord {
  return fromBinary(TxnRecordSchema, b);
}

/** What one batch (apply context) wrote to `locks` and `txn` so far: later entries must see it. */
interface Overlay {
  locks: Map<string, Intent | undefined>;
  records: Map<string, TxnRecord | undefined>;
}

const overlays = new WeakMap<ApplyContext, Overlay>();

function overlay(ctx: ApplyContext): Overlay {
  let o = overlays.get(ctx);
  if (o === undefined) overlays.set(ctx, o = { locks: new Map(), records: new Map() });
  return o;
}

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** The intent on `key` as of this entry (this batch's earlier writes included). */
export function intentOf(ctx: ApplyContext, key: Uint8Array): Intent | undefined {
  const o = overlay(ctx).locks;
  const id = hex(key);
  if (o.has(id)) return o.get(id);
  const stored = ctx.engine.get("locks", key);
  return stored === undefined ? undefined : decodeIntent(key, stored);
}

function recordOf(ctx: ApplyContext, key: Uint8Array): TxnRecord | undefined {
  const o = overlay(ctx).records;
  const id = hex(key);
  if (o.has(id)) return o.get(id);
  const stored = ctx.engine.get("txn", key);
  return stored === undefined ? undefined : decodeTxnRecord(stored);
}

function putRecord(ctx: ApplyContext, key: Uint8Array, record: TxnRecord | undefined): void {
  overlay(ctx).records.set(hex(key), record);
  if (record === undefined) ctx.batch.delete("txn", key);
  else ctx.batch.put("txn", key, toBinary(TxnRecordSchema, record));
}

/** The LOCKED refusal of a command meeting an intent on `key`. */
export function lockedResult(key: Uint8Array, intent: Intent): CommandResult {
  return newResult({
    lockedKey: key.slice(),
    lockedIntent: encodeIntent(intent),
    errorCode: ErrorCode.LOCKED,
    errorMessage: `Cannot write key as a pending batch holds an intent on it: key is ${
      JSON.stringify(new TextDecoder().decode(key.subarray(0, 64)))
    }, batch is ${intent.txnId}`,
  });
}

/**
 * The first of `keys` that holds an intent (of another batch than `txnId`), if any; cheap when the
 * range holds no intents at all.
 */
export function firstLocked(
  st: RangeAppliedState,
  ctx: ApplyContext,
  keys: Iterable<Uint8Array>,
  txnId = "",
): { key: Uint8Array; intent: Intent } | undefined {
  if (st.intentCount === 0n && overlay(ctx).locks.size === 0) return undefined;
  for (const key of keys) {
    const intent = intentOf(ctx, key);
    if (intent !== undefined && intent.txnId !== txnId) return { key, intent };
  }
  return undefined;
}

/** PrepareBatch: an intent on every op's key (the span was checked by the caller). */
export function applyPrepare(
  st: RangeAppliedState,
  body: Body<"prepareBatch">,
  version: bigint,
  ctx: ApplyContext,
): CommandResult {
  const locked = firstLocked(st, ctx, body.ops.map((op) => op.key), body.txnId);
  if (locked !== undefined) return lockedResult(locked.key, locked.intent);
  const o = overlay(ctx).locks;
  for (const op of body.ops) {
    const intent: Intent = {
      key: op.key,
      txnId: body.txnId,
      primaryKey: body.primaryKey,
      startTimestamp: timestampOf(version),
      value: op.delete ? undefined : op.value,
      expiresAtMs: Number(body.expiresAtMs),
    };
    if (intentOf(ctx, op.key) === undefined) st.intentCount++;
    ctx.mvcc.putIntent(intent);
    o.set(hex(op.key), intent);
  }
  return newResult({ succeeded: true });
}

/**
 * CommitBatch on the primary's range: the committed record, unless aborted first.
 * `lastVersion` carries the commit version (a retried request's answer, from its dedupe record,
 * carries the first attempt's).
 */
export function applyCommitBatch(
  body: Body<"commitBatch">,
  version: bigint,
  ctx: ApplyContext,
): CommandResult {
  const key = txnRecordKey(body.primaryKey, body.txnId);
  const existing = recordOf(ctx, key);
  if (existing?.status === "aborted") {
    return newResult({
      errorCode: ErrorCode.TXN_CONFLICT,
      errorMessage: `Cannot commit batch as it was aborted: batch is ${body.txnId}`,
    });
  }
  if (existing?.status === "committed") {
    return newResult({ succeeded: true, lastVersion: existing.commitVersion, txnId: body.txnId });
  }
  putRecord(ctx, key, create(TxnRecordSchema, { status: "committed", commitVersion: version }));
  return newResult({ succeeded: true, lastVersion: version, txnId: body.txnId });
}

/**
 * AbortBatch on the primary's range: the aborted record, unless committed first (then
 * `succeeded` is false and `lastVersion` carries the commit version).
 */
export function applyAbortBatch(body: Body<"abortBatch">, ctx: ApplyContext): CommandResult {
  const key = txnRecordKey(body.primaryKey, body.txnId);
  const existing = recordOf(ctx, key);
  if (existing?.status === "committed") {
    return newResult({ succeeded: false, lastVersion: existing.commitVersion });
  }
  if (existing === undefined) putRecord(ctx, key, create(TxnRecordSchema, { status: "aborted" }));
  return newResult({ succeeded: true });
}

/**
 * ResolveIntents: this batch's intents on `keys` become versions at `version`, or go. The
 * coordinator proposes it with the commit version as the command's timestamp, so `version` (the
 * usual `max(timestamp, last version + 1)`) is at least the commit version and above everything
 * the range wrote before.
 */
export function applyResolve(
  st: RangeAppliedState,
  body: Body<"resolveIntents">,
  version: bigint,
  ctx: ApplyContext,
): CommandResult {
  const o = overlay(ctx).locks;
  let resolved = 0;
  for (const key of body.keys) {
    const intent = intentOf(ctx, key);
    if (intent === undefined || intent.txnId !== body.txnId) continue;
    if (body.commit) ctx.mvcc.commitIntent(intent, timestampOf(version));
    else ctx.mvcc.removeIntent(key);
    o.set(hex(key), undefined);
    st.intentCount--;
    resolved++;
  }
  return newResult({ succeeded: resolved > 0 });
}

/**
 * CheckBatch: the generic dedupe lookup answers for a request id that has a record before this is
 * reached; reaching it means the request has none.
 */
export function applyCheckBatch(): CommandResult {
  return newResult({ succeeded: false });
}

/** ForgetBatch: deletes the decision record. */
export function applyForget(body: Body<"forgetBatch">, ctx: ApplyContext): CommandResult {
  const key = txnRecordKey(body.primaryKey, body.txnId);
  if (recordOf(ctx, key) !== undefined) putRecord(ctx, key, undefined);
  return newResult({ succeeded: true });
}

/** Whether every key lies in `[start, end)` (end empty: unbounded). */
export function allInSpan(
  keys: Iterable<Uint8Array>,
  start: Uint8Array,
  end: Uint8Array,
): boolean {
  for (const k of keys) {
    if (compareBytes(k, start) < 0) return false;
    if (end.length > 0 && compareBytes(k, end) >= 0) return false;
  }
  return true;
}

/**
 * The intents in `[start, end)` (end empty: unbounded) as of this entry: the engine's, with this
 * batch's own writes and removals. Splits and merges recount their ranges' intents with it.
 */
export function countIntents(ctx: ApplyContext, start: Uint8Array, end: Uint8Array): number {
  const o = overlay(ctx).locks;
  let n = 0;
  const scan = end.length === 0 ? { start } : { start, end };
  for (const { key } of ctx.engine.scan("locks", scan)) if (!o.has(hex(key))) n++;
  for (const intent of o.values()) {
    if (intent !== undefined && allInSpan([intent.key], start, end)) n++;
  }
  return n;
}
