/**
 * {@linkcode RangeCommands}: the internal commands of splits, merges and the meta copy, proposed
 * through a {@linkcode ClusterRouter} on whichever node leads the target range, with their results
 * decoded. A deterministic refusal (an error result of the state machine) becomes a thrown
 * {@linkcode RangeDbError} with the result's code and message.
 *
 * Routing keys: range 1 is reached through `_/` (it always holds the system keyspace); any other
 * range through a key it holds.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { ClusterRouter } from "./cluster_router.ts";
import {
  type CommandResult,
  decodeResult,
  encodeCommand,
  newCommand,
  type RangeDescriptor,
} from "./command.ts";

type CommandBody = NonNullable<Parameters<typeof newCommand>[0]>["body"];

/** The routing key of range 1: the first key of the system keyspace. */
export const SYSTEM_KEY = new TextEncoder().encode("_/");

/** What a Subsume answered: where the range froze. */
export interface FreezePoint {
  appliedIndex: number;
  lastVersion: bigint;
  stats: CommandResult["stats"];
  descriptor: RangeDescriptor;
}

/** Typed proposals of the range-level commands. */
export class RangeCommands {
  readonly #router: ClusterRouter;

  /** @param router reaches the leaders of ranges on any node */
  constructor(router: ClusterRouter) {
    this.#router = router;
  }

  /**
   * Proposes `body` on the leader of the range holding `key`; `timestamp` is the command's
   * (its commit version is at least that and above the range's last version), `requestId` the
   * client's idempotency key (dedupe record).
   *
   * @returns the command's result (never an error result)
   * @throws {RangeDbError} the result's refusal, or the router's failure
   */
  async propose(
    key: Uint8Array,
    body: CommandBody,
    deadline: number,
    timestamp = 0n,
    requestId = "",
  ): Promise<CommandResult> {
    const cmd = encodeCommand(newCommand({ body, timestamp, requestId }));
    const bytes = await this.#router.propose(key, cmd, deadline);
    const result = decodeResult(bytes);
    if (result.errorCode !== "") {
      const code = (Object.values(ErrorCode) as string[]).includes(result.errorCode)
        ? result.errorCode as ErrorCode
        : ErrorCode.INTERNAL;
      const details: Record<string, unknown> = { refused: true };
      if (result.lockedKey.length > 0) {
        details.lockedKey = result.lockedKey;
        details.lockedIntent = result.lockedIntent;
      }
      throw new RangeDbError(code, result.errorMessage, { details });
    }
    return result;
  }

  /** Hands out a new range id (range 1). */
  async allocateRangeId(deadline: number): Promise<number> {
    const r = await this.propose(
      SYSTEM_KEY,
      { case: "allocateRangeId", value: {} },
      deadline,
    );
    return Number(r.rangeId);
  }

  /**
   * Splits the range holding `key` at `key`.
   *
   * @returns the parent (now `[key, end)`) and the new range (`[start, key)`)
   */
  async split(
    key: Uint8Array,
    newRangeId: number,
    expectedGeneration: bigint,
    deadline: number,
  ): Promise<{ parent: RangeDescriptor; created: RangeDescriptor }> {
    const r = await this.propose(key, {
      case: "split",
      value: { splitKey: key, newRangeId: BigInt(newRangeId), expectedGeneration },
    }, deadline);
    const [parent, created] = r.descriptors;
    if (parent === undefined || created === undefined) {
      throw new RangeDbError(
        ErrorCode.INTERNAL,
        `Cannot read the split's outcome as its result lacks the descriptors: range is ${newRangeId}`,
      );
    }
    return { parent, created };
  }

  /** Freezes range `subsumed` (reached through `key`) for a merge into `intoRangeId`. */
  async subsume(
    key: Uint8Array,
    intoRangeId: number,
    expectedGeneration: bigint,
    deadline: number,
  ): Promise<FreezePoint> {
    const r = await this.propose(key, {
      case: "subsume",
      value: { intoRangeId: BigInt(intoRangeId), expectedGeneration },
    }, deadline);
    const descriptor = r.descriptors[0];
    if (descriptor === undefined) {
      throw new RangeDbError(
        ErrorCode.INTERNAL,
        `Cannot read the freeze point as the Subsume result lacks the descriptor: into range ${intoRangeId}`,
      );
    }
    return {
      appliedIndex: Number(r.appliedIndex),
      lastVersion: r.lastVersion,
      stats: r.stats,
      descriptor,
    };
  }

  /** Lets the range holding `key` absorb the frozen `freeze.descriptor`. */
  async merge(
    key: Uint8Array,
    freeze: FreezePoint,
    expectedGeneration: bigint,
    deadline: number,
  ): Promise<RangeDescriptor> {
    const r = await this.propose(key, {
      case: "merge",
      value: {
        subsumed: freeze.descriptor,
        subsumedAppliedIndex: BigInt(freeze.appliedIndex),
        subsumedLastVersion: freeze.lastVersion,
        subsumedStats: freeze.stats,
        expectedGeneration,
      },
    }, deadline);
    const merged = r.descriptors[0];
    if (merged === undefined) {
      throw new RangeDbError(
        ErrorCode.INTERNAL,
        `Cannot read the merge's outcome as its result lacks the descriptor: subsumed range ${freeze.descriptor.rangeId}`,
      );
    }
    return merged;
  }

  /**
   * Ends a merge attempt of `subsumedRangeId` into the range holding `key`.
   *
   * @returns true when the merge did not apply (it can no longer), false when it applied first
   */
  async abortMerge(key: Uint8Array, subsumedRangeId: number, deadline: number): Promise<boolean> {
    const r = await this.propose(key, {
      case: "abortMerge",
      value: { subsumedRangeId: BigInt(subsumedRangeId) },
    }, deadline);
    return r.succeeded;
  }

  /** Unfreezes the range holding `key` if it is frozen into `intoRangeId`. */
  async unfreeze(key: Uint8Array, intoRangeId: number, deadline: number): Promise<void> {
    await this.propose(key, {
      case: "unfreeze",
      value: { intoRangeId: BigInt(intoRangeId) },
    }, deadline);
  }

  /** Writes descriptors (and removals) into range 1's meta copy. */
  async updateMeta(
    descriptors: RangeDescriptor[],
    removed: RangeDescriptor[],
    deadline: number,
  ): Promise<void> {
    await this.propose(
      SYSTEM_KEY,
      { case: "updateMeta", value: { descriptors, removed } },
      deadline,
    );
  }
}
