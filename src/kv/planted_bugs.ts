/**
 * Bugs planted on purpose, for proving that the fault suite catches what it exists for: with
 * `RANGEDB_TEST_PLANTED_BUG=<name>` in a server's environment, that server misbehaves in the named
 * way. Production never sets the variable; unset, a check costs one comparison. A server refuses
 * to start when the variable names no bug ({@linkcode validatePlantedBugEnv}), so a typo cannot
 * make a test pass by planting nothing.
 *
 * - `stale-reads`: linearizable reads skip ReadIndex and read the local applied state, as a
 *   serializable read does; a follower or a cut-off old leader then serves stale values.
 *
 * @module
 */
import { ErrorCode, RangeDbError } from "../base/errors.ts";

/** Every plantable bug. */
export const PLANTED_BUGS = ["stale-reads"] as const;

/** One of {@linkcode PLANTED_BUGS}. */
export type PlantedBug = typeof PLANTED_BUGS[number];

/** The variable that plants a bug. */
export const PLANTED_BUG_ENV = "RANGEDB_TEST_PLANTED_BUG";

const planted: string | undefined = readEnv();

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
