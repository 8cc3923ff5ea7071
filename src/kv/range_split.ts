/**
 * {@linkcode splitRange}: the coordinator of one split (docs/design/0009): validate, allocate an id
 * from range 1, propose `Split` on the parent's leader, write the meta copy. A split that loses a
 * race (the parent's generation moved) looks the parent up again and retries; one whose outcome is
 * unknown (the proposal timed out) is recognised afterwards by the range that now starts at the
 * key.
 *
 * @module
 */

import type { Clock } from "../base/clock.ts";
import { ErrorCode, isRangeDbError, RangeDbError } from "../base/errors.ts";
import { compareBytes } from "../base/key_encoding.ts";
import type { Logger } from "../base/logger.ts";
import { newDescriptor, type RangeDescriptor } from "./command.ts";
import type { RangeInfo, SplitOutcome } from "./kv_store.ts";
import type { Migrations } from "./migrations.ts";
import { type RangeCommands, SYSTEM_KEY } from "./range_commands.ts";

/** What a coordinator needs from its store. */
export interface CoordinatorDeps {
  nodeId: number;
  clock: Clock;
  logger: Logger;
  commands: RangeCommands;
  migrations: Migrations;
  /** The range holding `key` as this node knows it (local replica, else the meta copy). */
  lookup(key: Uint8Array): RangeInfo;
  /** Range `rangeId` as this node knows it (local replica, else the meta copy). */
  rangeById(rangeId: number): RangeInfo | undefined;
}

/** Pause between attempts that lost a race or found no leader. */
const RETRY_PAUSE_MS = 50;

const decoder = new TextDecoder();

/** A key for messages: its text, shortened. */
export function showKey(key: Uint8Array): string {
  return JSON.stringify(decoder.decode(key.subarray(0, 64)));
}

/** Whether `key` lies in the system keyspace `_/…` (the key `_/` itself included). */
export function inSystemKeyspace(key: Uint8Array): boolean {
  return compareBytes(key, SYSTEM_KEY) >= 0 && key[0] === SYSTEM_KEY[0];
}

/** The descriptor of a range as the store lists it. */
export function descriptorOfInfo(info: RangeInfo): RangeDescriptor {
  return newDescriptor({
    rangeId: info.rangeId,
    start: info.start,
    end: info.end,
    generation: info.generation,
    voters: info.voters,
    learners: info.learners,
  });
}

/** A `RangeInfo` for a descriptor (no replica state). */
export function infoOfDescriptor(d: RangeDescriptor): RangeInfo {
  const voters: number[] = [];
  const learners: number[] = [];
  for (const r of d.replicas) (r.learner ? learners : voters).push(Number(r.nodeId));
  return {
    rangeId: Number(d.rangeId),
    start: d.start,
    end: d.end,
    generation: Number(d.generation),
    voters,
    learners,
    leaderNodeId: 0,
    term: 0,
    commitIndex: 0,
    appliedIndex: 0,
    liveKeys: 0,
    liveBytes: 0,
    writesPerSecond: 0,
    frozenIntoRangeId: 0,
    local: false,
  };
}

/** Sleeps `ms` on the store's clock. */
export function pause(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
}

/**
 * Checks a split key given by an operator: a user key (starting with `/`), or `_/` itself (the
 * bootstrap split).
 *
 * @throws {RangeDbError} INVALID_ARGUMENT
 */
export function checkSplitKey(key: Uint8Array, allowSystemBoundary: boolean): void {
  if (key.length === 0) {
    throw new RangeDbError(ErrorCode.INVALID_ARGUMENT, "Cannot split as the key is empty");
  }
  const isBoundary = compareBytes(key, SYSTEM_KEY) === 0;
  if (isBoundary && allowSystemBoundary) return;
  if (key[0] !== 0x2f) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot split as the key is not a user key: key is ${
        showKey(key)
      }, user keys start with "/" and the system keyspace "_/" stays in range 1`,
    );
  }
}

/**
 * Splits the range holding `key` at `key`; the new range takes `[start, key)`.
 *
 * @param deps the store's services
 * @param key the first key of the parent's remaining part
 * @param options deadline, dry run, why (for the migrations list), whether the `_/` boundary is
 *   allowed (the bootstrap split only)
 * @returns both ranges after the split (or as they would be)
 * @throws {RangeDbError} INVALID_ARGUMENT for a bad key or one that already starts a range;
 *   UNAVAILABLE/TIMEOUT when the cluster did not take it in time
 */
export async function splitRange(
  deps: CoordinatorDeps,
  key: Uint8Array,
  options: {
    deadline: number;
    dryRun?: boolean;
    reason?: "manual" | "size" | "keys" | "load";
    allowSystemBoundary?: boolean;
  },
): Promise<SplitOutcome> {
  checkSplitKey(key, options.allowSystemBoundary ?? false);
  const first = deps.lookup(key);
  checkNotBoundary(first, key);
  if (options.dryRun) {
    const left = { ...first, rangeId: 0, end: key, liveKeys: 0, liveBytes: 0 };
    return { left, right: { ...first, start: key }, dryRun: true };
  }
  const handle = deps.migrations.start({
    kind: "split",
    rangeId: first.rangeId,
    otherRangeId: 0,
    key: key.slice(),
    state: "allocating",
    startedAtMs: deps.clock.now(),
    reason: options.reason ?? "manual",
    nodeId: deps.nodeId,
  });
  try {
    const allocate = async () => {
      const id = await deps.commands.allocateRangeId(options.deadline);
      handle.set("splitting", id);
      return id;
    };
    const { parent, created } = await proposeSplit(deps, key, allocate, options.deadline);
    deps.logger.info("range split", {
      range_id: Number(parent.rangeId),
      new_range_id: Number(created.rangeId),
      key: showKey(key),
      reason: options.reason ?? "manual",
    });
    // Best effort: the meta-sync duty of each range's leader writes it again if this fails.
    await deps.commands.updateMeta([parent, created], [], options.deadline).catch((err) =>
      deps.logger.warn("meta update after split failed", { error: String(err) })
    );
    return { left: infoOfDescriptor(created), right: infoOfDescriptor(parent), dryRun: false };
  } finally {
    handle.done();
  }
}

/** Refuses a split key that already starts its range. */
function checkNotBoundary(info: RangeInfo, key: Uint8Array): void {
  if (compareBytes(info.start, key) === 0) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot split as the key already starts a range: key is ${
        showKey(key)
      }, range is ${info.rangeId}`,
    );
  }
}

/**
 * Proposes the split until it applied or the deadline passed. Every retry takes a new range id: an
 * earlier attempt may have applied without this coordinator knowing (its answer lost, or the
 * router re-proposed it after an ambiguous failure and reports only the last refusal), and its
 * new range may have been merged away since (then the key no longer starts a range, and nothing
 * shows that the split happened). A range id must never be created twice: a node that merged the
 * first range away holds its tombstone.
 */
async function proposeSplit(
  deps: CoordinatorDeps,
  key: Uint8Array,
  allocate: () => Promise<number>,
  deadline: number,
): Promise<{ parent: RangeDescriptor; created: RangeDescriptor }> {
  const tried: number[] = [];
  let newId = await allocate();
  for (;;) {
    const info = deps.lookup(key);
    if (compareBytes(info.start, key) === 0) {
      // An earlier attempt whose answer was lost may have applied: its new range is ours.
      for (const id of [newId, ...tried]) {
        const left = deps.rangeById(id);
        if (left !== undefined && compareBytes(left.end, key) === 0) {
          return { parent: descriptorOfInfo(info), created: descriptorOfInfo(left) };
        }
      }
      checkNotBoundary(info, key);
    }
    try {
      return await deps.commands.split(key, newId, BigInt(info.generation), deadline);
    } catch (err) {
      if (!retryable(err) || deps.clock.now() + RETRY_PAUSE_MS >= deadline) throw err;
      deps.logger.debug("split attempt failed", { key: showKey(key), error: String(err) });
    }
    await pause(deps.clock, RETRY_PAUSE_MS);
    tried.push(newId);
    newId = await allocate();
  }
}

/**
 * Whether a failed split attempt may be retried: a lost race (FAILED_PRECONDITION refusal: the
 * generation moved), a moved range, no leader yet, or an unknown outcome (checked on retry).
 */
function retryable(err: unknown): boolean {
  if (!isRangeDbError(err)) return false;
  switch (err.code) {
    case ErrorCode.FAILED_PRECONDITION:
      return err.details.refused === true;
    case ErrorCode.RANGE_MOVED:
    case ErrorCode.NOT_LEADER:
    case ErrorCode.UNAVAILABLE:
    case ErrorCode.TIMEOUT:
      return true;
    default:
      return false;
  }
}
