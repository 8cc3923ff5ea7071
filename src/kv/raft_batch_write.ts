/**
 * The write of a scheduler turn's batch (`raft_scheduler.ts`): one engine write with its fsync,
 * bounded by `--max-sync-duration`, and the crash points tests pass around it.
 *
 * @module
 */

import type { Clock } from "../base/clock.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { type Ready, StateType } from "../raft/mod.ts";
import {
  type CrashPoint,
  crashPoint,
  crashPointAfterFlush,
  crashPointWatchesRange,
  type Engine,
  type WriteBatch,
} from "../storage/mod.ts";
import type { Replica } from "./replica.ts";

/**
 * Writes a turn's batch; a write that fails, or that has not finished within `maxSyncMs` (a
 * stalled disk: the turn would otherwise wait forever and the node keep its leases on ranges it
 * cannot serve), throws a {@linkcode BatchWriteFailure}.
 *
 * @param deps the engine, the clock and the limit (0 or undefined waits forever)
 * @param batch the turn's batch
 * @param sync whether to fsync
 * @throws {BatchWriteFailure} when the write failed or stalled
 */
export async function writeTurnBatch(
  deps: { engine: Engine; clock: Clock; maxSyncMs?: number },
  batch: WriteBatch,
  sync: boolean,
): Promise<void> {
  const { engine, clock, maxSyncMs } = deps;
  const write = engine.write(batch, { sync });
  if (!maxSyncMs) {
    await write.catch((cause) => {
      throw new BatchWriteFailure(cause);
    });
    return;
  }
  let cancel = () => {};
  const stalled = new Promise<never>((_, reject) => {
    cancel = clock.after(maxSyncMs, () => reject(diskStalledError(maxSyncMs)));
  });
  // A stalled write may still settle later; nobody waits for it then.
  write.catch(() => undefined);
  try {
    await Promise.race([write, stalled]);
  } catch (cause) {
    throw new BatchWriteFailure(cause);
  } finally {
    cancel();
  }
}

/**
 * Passes the crash points of a turn (tests only; `src/storage/crash_points.ts`), one per kind of
 * content in the turn's batch and role of the replicas holding it: `log-append` (entries to
 * append), `hard-state` (a new term, vote or commit), `apply` (committed entries applied),
 * `snapshot-install` (a snapshot replacing a range). `before-write`: everything is staged, the
 * leaders' early appends and heartbeats are sent and applied key-value writes are answered, and
 * nothing of the batch is durable; the crash waits until those have left the process.
 * `after-write`: the batch is durable, and nothing is made visible, sent or advanced yet; the
 * crash is immediate.
 *
 * @param readies the turn's replicas and Readies
 * @param when before or after the batch's write
 * @param answered how many proposals were answered before the write
 */
export async function passCrashPoints(
  readies: [Replica, Ready][],
  when: "before-write" | "after-write",
  answered = 0,
): Promise<void> {
  const kinds = { leader: new Set<string>(), follower: new Set<string>() };
  for (const [r, rd] of readies) {
    if (!crashPointWatchesRange(r.rangeId)) continue;
    const leads = rd.softState === undefined
      ? r.isLeader
      : rd.softState.raftState === StateType.Leader;
    const set = kinds[leads ? "leader" : "follower"];
    if (rd.entries.length > 0) set.add("log-append");
    if (rd.hardState !== undefined) set.add("hard-state");
    if (rd.committedEntries.length > 0) set.add("apply");
    if (rd.snapshot !== undefined) set.add("snapshot-install");
  }
  for (const role of ["leader", "follower"] as const) {
    for (const kind of kinds[role]) {
      const point = `${kind}:${when}` as CrashPoint;
      if (when === "after-write") crashPoint(point, role);
      else await crashPointAfterFlush(point, role, { answered });
    }
  }
}

/** The error of a batch write that did not finish within `maxSyncMs` (a stalled disk). */
export function diskStalledError(ms: number): RangeDbError {
  return new RangeDbError(
    ErrorCode.UNAVAILABLE,
    `Cannot write a raft batch as the disk stalled: the write and its fsync have not finished ` +
      `after ${ms} ms (--max-sync-duration)`,
    { details: { ambiguous: true, diskStalled: true } },
  );
}

/** Marks a failure of the engine's write, as opposed to one staging or applying a turn. */
export class BatchWriteFailure extends Error {
  /** @param cause the engine's error, or the stalled-disk error */
  constructor(override readonly cause: unknown) {
    super(`Cannot write the turn's batch: ${cause}`);
  }
}
