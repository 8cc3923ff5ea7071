/**
 * What applying committed entries works with ({@linkcode ApplyContext}: the scheduler turn's
 * batch, MVCC writes over it, the batch's dedupe records, the store's replica lifecycle), and the
 * helpers every `apply_*.ts` file shares: span checks, deterministic refusals, adding writes.
 *
 * @module
 */

import { ErrorCode, isRangeDbError } from "../base/errors.ts";
import { compareBytes } from "../base/key_encoding.ts";
import type { KeyLimits } from "../base/key_limits.ts";
import type { Logger } from "../base/logger.ts";
import { MvccBatch, type MvccWrite } from "../mvcc/mod.ts";
import type { Engine, Reader, WriteBatch } from "../storage/mod.ts";
import {
  type CommandResult,
  newResult,
  type RangeAppliedState,
  type RangeDescriptor,
} from "./command.ts";
import { DedupeOverlay } from "./dedupe.ts";
import { isPlanted } from "./planted_bugs.ts";

/** A range created on this node by a split applied in the current turn. */
export interface CreatedRange {
  /** The range that split. */
  parentRangeId: number;
  /** The new range's initial applied state (index 10, term 5; its descriptor names it). */
  applied: RangeAppliedState;
}

/**
 * The store's side of replicas appearing and disappearing while a turn applies: a split creates
 * a range, a merge (or a snapshot subsuming a frozen range) destroys one. The store stages their
 * Raft state after every Ready of the turn and swaps the Replica objects once the batch is
 * durable.
 */
export interface RangeLifecycle {
  /** A split applied here creates `range` on this node. */
  created(range: CreatedRange): void;
  /** A merge applied here destroys this node's replica of `rangeId`, absorbed by `into`. */
  destroyed(rangeId: number, into: number): void;
  /**
   * The applied state of this node's replica of `rangeId` as of this point of the turn (staged
   * or durable); undefined when there is no initialized replica.
   */
  appliedStateOf(rangeId: number): RangeAppliedState | undefined;
  /**
   * The range that absorbed `rangeId` on this node (its tombstone, or its destruction staged in
   * this turn); undefined when it was not merged away here.
   */
  mergedInto(rangeId: number): number | undefined;
  /**
   * A snapshot of `rangeId` covering `d` is installed in this turn: initialized replicas of
   * other ranges it overlaps must be frozen into it, and are destroyed in the same batch.
   *
   * @throws {RangeDbError} INTERNAL when it overlaps a replica that is not (the store refuses
   *   such snapshots when they arrive)
   */
  snapshotInstalled(rangeId: number, d: RangeDescriptor): void;
}

/**
 * The scheduler's hooks into the store's replica lifecycle, around one turn: after every Ready
 * is staged, `stageLifecycle` writes the Raft state of created ranges and deletes destroyed ones
 * (last, so that no Ready of the turn can resurrect their keys); once the batch is durable and
 * committed, `afterLifecycle` swaps the Replica objects and updates routing.
 */
export interface ReplicaLifecycle extends RangeLifecycle {
  stageLifecycle(batch: WriteBatch): void;
  afterLifecycle(): void;
  /** Whether a creation or destruction waits to be staged (a turn runs even without a Ready). */
  pending(): boolean;
}

/** What applying needs besides the replica: the turn's batch and what it already holds. */
export interface ApplyContext {
  /** The engine's state before this batch. */
  readonly engine: Reader;
  readonly batch: WriteBatch;
  /** MVCC writes into `batch`, seeing each other. */
  readonly mvcc: MvccBatch;
  /** This node's id (to match applied commands with waiting proposers). */
  readonly nodeId: number;
  /** Dedupe records written or deleted by this batch (the engine shows them once written). */
  readonly dedupe: DedupeOverlay;
  /** Where splits and merges report the replicas they create and destroy. */
  readonly ranges: RangeLifecycle;
  readonly logger: Logger;
}

/**
 * Builds the apply context of a turn.
 *
 * @param engine the engine (state before the batch)
 * @param batch the turn's batch
 * @param nodeId this node's id
 * @param logger for refusals
 * @param ranges the store's lifecycle
 * @returns the context
 */
export function newApplyContext(
  engine: Engine | Reader,
  batch: WriteBatch,
  nodeId: number,
  logger: Logger,
  ranges: RangeLifecycle,
): ApplyContext {
  return {
    engine,
    batch,
    mvcc: new MvccBatch(engine, batch),
    nodeId,
    dedupe: new DedupeOverlay(),
    ranges,
    logger,
  };
}

/** An error result: a deterministic refusal that writes nothing. */
export function errorResult(code: ErrorCode, message: string): CommandResult {
  return newResult({ errorCode: code, errorMessage: message });
}

/** Whether `key` lies in the range `d`. */
export function inSpan(d: RangeDescriptor | undefined, key: Uint8Array): boolean {
  if (d === undefined) return false;
  return compareBytes(key, d.start) >= 0 && (d.end.length === 0 || compareBytes(key, d.end) < 0);
}

/** A key as text for messages (at most 64 bytes, JSON-quoted). */
export function showKey(key: Uint8Array): string {
  return JSON.stringify(new TextDecoder().decode(key.subarray(0, 64)));
}

/** The refusal of a key that this range does not hold (any more). */
export function outsideResult(rangeId: number, key: Uint8Array): CommandResult {
  return errorResult(
    ErrorCode.RANGE_MOVED,
    `Cannot apply the command as its key is outside the range: range is ${rangeId}, key is ${
      showKey(key)
    }`,
  );
}

/** The refusal of any command but Unfreeze by a range frozen for a merge. */
export function frozenResult(rangeId: number, into: bigint): CommandResult {
  return errorResult(
    ErrorCode.RANGE_MOVED,
    `Cannot apply the command as the range is frozen for a merge: range is ${rangeId}, merging into ${into}`,
  );
}

/**
 * Adds `writes` to the batch, or returns the refusal of an invalid one (nothing added): a key
 * outside the range's descriptor (RANGE_MOVED) or over a limit (INVALID_ARGUMENT).
 *
 * @param ctx the turn's context
 * @param d the range's descriptor as of this command
 * @param writes the writes
 * @param limits the key limits (system records may be longer than user keys)
 */
export function addWrites(
  ctx: ApplyContext,
  d: RangeDescriptor,
  writes: MvccWrite[],
  limits?: Readonly<KeyLimits>,
): CommandResult | undefined {
  for (const w of writes) {
    const key = w.type === "put" || w.type === "delete" || w.type === "removeIntent"
      ? w.key
      : w.intent.key;
    if (!inSpan(d, key) && !isPlanted("apply-span-unchecked")) {
      return outsideResult(Number(d.rangeId), key);
    }
  }
  try {
    ctx.mvcc.addAll(writes, limits);
    return undefined;
  } catch (err) {
    if (isRangeDbError(err, ErrorCode.INVALID_ARGUMENT)) {
      return errorResult(ErrorCode.INVALID_ARGUMENT, err.message);
    }
    throw err;
  }
}

/** One command being applied: its range's state (changed in place) and where it lands. */
export interface CommandApply {
  readonly rangeId: number;
  /** The range's applied state; the command changes it in place. */
  readonly st: RangeAppliedState;
  /** The command's log index. */
  readonly index: number;
  /** The command's commit version. */
  readonly version: bigint;
  readonly ctx: ApplyContext;
  /** Set when system keys (descriptors, node records) changed. */
  readonly out: { systemChanged: boolean };
}
