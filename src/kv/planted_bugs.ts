/**
 * Bugs planted on purpose, for proving that the fault suite catches what it exists for: with
 * `RANGEDB_TEST_PLANTED_BUG=<name>` in a server's environment, that server misbehaves in the named
 * way. Production never sets the variable; unset, a check costs one comparison. A server refuses
 * to start when the variable names no bug ({@linkcode validatePlantedBugEnv}), so a typo cannot
 * make a test pass by planting nothing.
 *
 * - `stale-reads`: linearizable reads skip ReadIndex and read the local applied state, as a
 *   serializable read does; a follower or a cut-off old leader then serves stale values.
 * - `apply-span-unchecked`: apply no longer refuses a command whose keys lie outside the range's
 *   descriptor, so a write proposed before a split or merge lands in the range that lost the key.
 * - `frozen-applies-writes`: a range frozen for a merge still applies writes, after the freeze
 *   index its neighbour absorbs it at.
 * - `tombstone-ignored`: a node forgets that a range was merged away: late messages recreate it
 *   and its snapshots are not refused for that reason.
 *
 * The in-process simulation plants them with {@linkcode plantBugForTest} instead (one process runs
 * many stores, with and without the bug).
 *
 * @module
 */
import { ErrorCode, RangeDbError } from "../base/errors.ts";

/** Every plantable bug. */
export const PLANTED_BUGS = [
  "stale-reads",
  "apply-span-unchecked",
  "frozen-applies-writes",
  "tombstone-ignored",
] as const;

/** One of {@linkcode PLANTED_BUGS}. */
export type PlantedBug = typeof PLANTED_BUGS[number];

/** The variable that plants a bug. */
export const PLANTED_BUG_ENV = "RANGEDB_TEST_PLANTED_BUG";

let planted: string | undefined = readEnv();

function readEnv(): string | undefined {
  try {
    return Deno.env.get(PLANTED_BUG_ENV) || undefined;
  } catch {
    return undefined; // no env permission: nothing is planted
  }
}

/** Whether `bug` is planted in this process. */
export function isPlanted(bug: PlantedBug): boolean {
  return planted === bug;
}

/**
 * Plants `bug` in this process (undefined: none), overriding the environment; for in-process
 * tests (the store simulation), which must plant nothing again when they finish.
 *
 * @param bug the bug to plant, or undefined to plant none
 */
export function plantBugForTest(bug: PlantedBug | undefined): void {
  planted = bug;
}

/**
 * Throws when `RANGEDB_TEST_PLANTED_BUG` is set to a name that is not a plantable bug.
 *
 * @throws {RangeDbError} INVALID_ARGUMENT naming the value and the known bugs
 */
export function validatePlantedBugEnv(): void {
  if (planted === undefined || (PLANTED_BUGS as readonly string[]).includes(planted)) return;
  throw new RangeDbError(
    ErrorCode.INVALID_ARGUMENT,
    `Cannot plant a bug as ${PLANTED_BUG_ENV} names none: value is ${
      JSON.stringify(planted)
    }, known bugs are ${PLANTED_BUGS.join(", ")}`,
  );
}
