/**
 * Applying committed entries of a replica into the scheduler turn's batch, deterministically:
 * every replica that applies the same log reaches the same state and the same results.
 *
 * - The commit version of a command is `max(command timestamp, last version + 1)`, so versions
 *   strictly increase in log order.
 * - A command is refused with a deterministic RANGE_MOVED result that writes nothing (not even a
 *   dedupe record) when the range is frozen for a merge (anything but Unfreeze, conf changes
 *   included) or when a key it writes is outside the range's current descriptor: a write
 *   proposed before a split or merge that applies after it never lands in the wrong range.
 * - Then, and only then, a command whose request id has a dedupe record is not applied again:
 *   its stored result is returned (`dedupe.ts`, which also sweeps expired records).
 * - The range's stats (live keys and bytes) follow every write ({@linkcode MvccBatch.liveDelta}).
 * - Entries at or below the applied state's index (already in an installed snapshot) have no
 *   state-machine effect; their conf changes still reach Raft.
 *
 * One file per concern: `apply_kv.ts` (writes, compare-and-swap), `apply_system.ts` (bootstrap,
 * oracle, node records), `apply_meta.ts` (range ids, the meta copy), `apply_split.ts`,
 * `apply_merge.ts` (subsume, merge, abort, unfreeze).
 *
 * @module
 */

import { ErrorCode } from "../base/errors.ts";
import { decodeConfChange, type Entry, EntryType, type RawNode } from "../raft/mod.ts";
import {
  type CommandResult,
  copyAppliedState,
  decodeCommand,
  decodeProposalId,
  newResult,
  newStats,
  type RaftCommand,
  type RangeAppliedState,
  setReplicas,
} from "./command.ts";
import {
  type ApplyContext,
  type CommandApply,
  errorResult,
  frozenResult,
  inSpan,
  outsideResult,
} from "./apply_context.ts";
import { applyCompareAndSwap, applyWrite } from "./apply_kv.ts";
import { applyAllocateRangeId, applyUpdateMeta, META_LIMITS, metaWrites } from "./apply_meta.ts";
import { applyAbortMerge, applyMerge, applySubsume, applyUnfreeze } from "./apply_merge.ts";
import { applySplit } from "./apply_split.ts";
import { applyAddNode, applyBootstrap, applyTsoReserve, applyUpsertNode } from "./apply_system.ts";
import { dedupeKeyOf, inDedupeSpan, lookupDedupe, sweepDedupe, writeDedupe } from "./dedupe.ts";
import { FIRST_RANGE_ID } from "./bootstrap.ts";
import { isPlanted } from "./planted_bugs.ts";
import { timestampOf } from "./version.ts";

export type { ApplyContext } from "./apply_context.ts";
import {
  applyAbortBatch,
  applyCheckBatch,
  applyCommitBatch,
  applyForget,
  applyPrepare,
  applyResolve,
  firstLocked,
  lockedResult,
} from "./apply_txn.ts";
export { DEDUPE_RETENTION_MS } from "./dedupe.ts";

/** The outcome of applying entries. */
export interface ApplyOutcome {
  applied: RangeAppliedState;
  /**
   * Results of this node's proposals, by proposal sequence. `beforeWrite` marks the results of
   * key-value writes, which may be answered before the turn's batch is durable (see
   * `Replica.answerBeforeWrite`); the others (membership, TSO, bootstrap, ranges) are answered
   * after it, once the applied state they change is visible.
   */
  results: { seq: number; result: CommandResult; beforeWrite: boolean }[];
  /** Whether system keys (descriptor, node records) changed. */
  systemChanged: boolean;
  /** Key-value commands applied (not refused, not answered from a dedupe record). */
  appliedCommands: number;
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
  const out: ApplyOutcome = { applied: st, results: [], systemChanged: false, appliedCommands: 0 };
  const me = BigInt(ctx.nodeId);
  for (const e of entries) {
    const skip = e.index <= Number(st.appliedIndex);
    const before = ctx.mvcc.liveDelta;
    if (e.type === EntryType.ConfChange) {
      applyConfChangeEntry(replica, st, e, skip, ctx, out);
    } else if (!skip && e.data.length > 0) {
      const cmd = decodeCommand(e.data);
      const result = applyCommand(replica.rangeId, st, cmd, e.index, ctx, out);
      if (cmd.proposerNodeId === me) {
        const kv = cmd.body.case === "write" || cmd.body.case === "compareAndSwap";
        out.results.push({ seq: Number(cmd.proposalSeq), result, beforeWrite: kv });
      }
    }
    if (!skip) {
      addStats(st, before, ctx.mvcc.liveDelta);
      st.appliedIndex = BigInt(e.index);
      st.appliedTerm = BigInt(e.term);
    }
  }
  return out;
}

function addStats(
  st: RangeAppliedState,
  before: { keys: number; bytes: number },
  after: { keys: number; bytes: number },
): void {
  const keys = after.keys - before.keys;
  const bytes = after.bytes - before.bytes;
  if (keys === 0 && bytes === 0) return;
  const s = st.stats ?? newStats(0n, 0n);
  st.stats = newStats(s.liveKeys + BigInt(keys), s.liveBytes + BigInt(bytes));
}

function applyConfChangeEntry(
  replica: { rangeId: number; raw: RawNode },
  st: RangeAppliedState,
  e: Entry,
  skip: boolean,
  ctx: ApplyContext,
  out: ApplyOutcome,
): void {
  const cc = decodeConfChange(e.data);
  let refused: CommandResult | undefined;
  if (!skip && st.frozenIntoRangeId !== 0n) {
    // The merge checked the replica set: it must not change until the merge ends. Every replica
    // refuses at the same index, so Raft's configuration stays the descriptor's everywhere.
    refused = frozenResult(replica.rangeId, st.frozenIntoRangeId);
  } else {
    try {
      const cs = replica.raw.applyConfChange(cc);
      if (!skip) {
        setReplicas(st.descriptor!, cs);
        st.descriptor!.generation++;
        // Range 1 holds the meta copy: it writes its own record at once; other ranges' records
        // are written by UpdateMeta on range 1 (the store's meta sync).
        if (replica.rangeId === FIRST_RANGE_ID) writeOwnMeta(st, ctx);
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
  }
  const id = decodeProposalId(cc.context);
  if (!skip && id !== undefined && id.proposer === ctx.nodeId) {
    out.results.push({
      seq: id.seq,
      result: refused ?? newResult({ version: st.lastVersion }),
      beforeWrite: false,
    });
  }
}

/** Writes range 1's changed descriptor into its meta copy, at a version of its own. */
function writeOwnMeta(st: RangeAppliedState, ctx: ApplyContext): void {
  st.lastVersion = st.lastVersion + 1n;
  const writes = metaWrites(ctx, st.descriptor!, timestampOf(st.lastVersion));
  ctx.mvcc.addAll(writes, META_LIMITS);
}

/**
 * The deterministic RANGE_MOVED refusal of a command by a range that no longer takes it: frozen
 * (anything but Unfreeze), or a written key outside the current descriptor.
 */
function movedRefusal(
  rangeId: number,
  st: RangeAppliedState,
  cmd: RaftCommand,
): CommandResult | undefined {
  const body = cmd.body;
  if (
    st.frozenIntoRangeId !== 0n && body.case !== "unfreeze" && !isPlanted("frozen-applies-writes")
  ) {
    return frozenResult(rangeId, st.frozenIntoRangeId);
  }
  const d = st.descriptor;
  if (isPlanted("apply-span-unchecked")) return undefined;
  for (const key of keysOf(cmd)) if (!inSpan(d, key)) return outsideResult(rangeId, key);
  return undefined;
}

/** The keys a command reads or writes, which must all lie in the range. */
function keysOf(cmd: RaftCommand): Uint8Array[] {
  const body = cmd.body;
  switch (body.case) {
    case "write":
    case "prepareBatch":
      return body.value.ops.map((op) => op.key);
    case "compareAndSwap":
      return [body.value.key];
    case "resolveIntents":
      return body.value.keys;
    case "commitBatch":
    case "abortBatch":
    case "forgetBatch":
    case "checkBatch":
      return [body.value.primaryKey];
    default:
      return [];
  }
}

/** A write or compare-and-swap refused as its key holds a batch's intent (nothing written). */
function lockedRefusal(st: RangeAppliedState, cmd: RaftCommand, ctx: ApplyContext) {
  const body = cmd.body;
  if (body.case !== "write" && body.case !== "compareAndSwap") return undefined;
  const locked = firstLocked(st, ctx, keysOf(cmd));
  return locked === undefined ? undefined : lockedResult(locked.key, locked.intent);
}

function applyCommand(
  rangeId: number,
  st: RangeAppliedState,
  cmd: RaftCommand,
  index: number,
  ctx: ApplyContext,
  out: ApplyOutcome,
): CommandResult {
  const moved = movedRefusal(rangeId, st, cmd);
  if (moved !== undefined) return moved;
  const dedupeKey = dedupeKeyOf(cmd, st.descriptor!);
  if (dedupeKey !== undefined && inDedupeSpan(st.descriptor!, dedupeKey)) {
    const seen = lookupDedupe(ctx, dedupeKey);
    if (seen !== undefined) return seen;
  }
  const prev = st.lastVersion;
  const version = cmd.timestamp > prev ? cmd.timestamp : prev + 1n;
  const a: CommandApply = { rangeId, st, index, version, ctx, out };
  const result = lockedRefusal(st, cmd, ctx) ?? evaluate(a, cmd);
  const kv = cmd.body.case === "write" || cmd.body.case === "compareAndSwap";
  if (kv && result.errorCode !== ErrorCode.RANGE_MOVED) out.appliedCommands++;
  if (result.errorCode === "") {
    if (version > st.lastVersion) st.lastVersion = version;
    result.version = version;
  }
  // A refusal for a key outside the range writes no record: the store re-routes the command
  // to the range now holding the key, where it must apply; nor does a refusal for an intent (it
  // applies once the intent is resolved), nor a CheckBatch (a lookup only).
  if (
    dedupeKey !== undefined && result.errorCode !== ErrorCode.RANGE_MOVED &&
    result.errorCode !== ErrorCode.LOCKED && cmd.body.case !== "checkBatch" &&
    inDedupeSpan(st.descriptor!, dedupeKey)
  ) {
    writeDedupe(ctx, dedupeKey, result, version);
  }
  if (result.errorCode === "") sweepDedupe(ctx, st, version);
  return result;
}

function evaluate(a: CommandApply, cmd: RaftCommand): CommandResult {
  const body = cmd.body;
  switch (body.case) {
    case "write":
      return applyWrite(a, body.value);
    case "compareAndSwap":
      return applyCompareAndSwap(a, body.value);
    case "bootstrap":
      return applyBootstrap(a, body.value);
    case "tsoReserve":
      return applyTsoReserve(a, body.value);
    case "addNode":
      return applyAddNode(a, body.value);
    case "upsertNode":
      return applyUpsertNode(a, body.value);
    case "allocateRangeId":
      return applyAllocateRangeId(a);
    case "updateMeta":
      return applyUpdateMeta(a, body.value);
    case "split":
      return applySplit(a, body.value);
    case "subsume":
      return applySubsume(a, body.value);
    case "merge":
      return applyMerge(a, body.value);
    case "abortMerge":
      return applyAbortMerge(a, body.value);
    case "unfreeze":
      return applyUnfreeze(a, body.value);
    case "prepareBatch":
      return applyPrepare(a.st, body.value, a.version, a.ctx);
    case "commitBatch":
      return applyCommitBatch(body.value, a.version, a.ctx);
    case "abortBatch":
      return applyAbortBatch(body.value, a.ctx);
    case "resolveIntents":
      return applyResolve(a.st, body.value, a.version, a.ctx);
    case "forgetBatch":
      return applyForget(body.value, a.ctx);
    case "checkBatch":
      return applyCheckBatch();
    default:
      return newResult({ succeeded: true });
  }
}
