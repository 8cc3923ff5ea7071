/**
 * Test-only faults of the write path: crash points and a slow fsync, switched on by environment
 * variables that are read once, when this module loads. Production never sets them; unset, a
 * crash point costs one comparison and the engine adds no delay.
 *
 * - `RANGEDB_TEST_CRASH_POINT=[<role>/]<point>[@<n>]`: the n-th time (default 1) the process
 *   passes {@linkcode crashPoint} with that point, it writes one line naming the point to stderr
 *   and kills itself with SIGKILL: no cleanup, no flush (the page cache survives a process crash,
 *   so what LMDB committed is kept, and nothing else). At once, except that the `:before-write`
 *   points first let what the turn handed to gRPC leave the process
 *   ({@linkcode crashPointAfterFlush}). With a role (`leader/` or
 *   `follower/`, scheduler points only), only passes by a replica in that role count, so a test
 *   can crash the leader's write path of a node that was a follower when it started. With a
 *   range before it (`range<id>/`, scheduler points only), only passes of that range's replica
 *   count, so a node that leads several ranges crashes for the one the test watches.
 * - `RANGEDB_TEST_SYNC_DELAY_MS=<ms>`: every synced engine write resolves that much later, as
 *   with a slow disk (see `lmdb_engine.ts`).
 *
 * The points ({@linkcode CRASH_POINTS}) sit in the raft scheduler's turn (`src/kv/raft_scheduler.ts`)
 * and in the snapshot receive path (`src/kv/replica_snapshot.ts`, called by the peer service).
 * A server refuses to start when either variable is malformed ({@linkcode validateCrashPointEnv}),
 * so a typo cannot silently test nothing.
 *
 * @example
 * ```ts
 * import { parseCrashPointSetting } from "./crash_points.ts";
 * parseCrashPointSetting("apply:before-write@3"); // { point: "apply:before-write", nth: 3 }
 * ```
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";

/**
 * Every crash point. In a raft scheduler turn, for each kind of content the turn's batch holds
 * (`log-append`: new log entries; `hard-state`: term, vote or commit; `apply`: applied committed
 * entries; `snapshot-install`: a received snapshot replacing the range), `:before-write` is
 * passed once the batch is staged, the leaders' early appends and heartbeats are sent and the
 * applied key-value writes are answered, while nothing of the batch is durable; `:after-write`
 * once the batch is durable, before it is made visible, anything else is sent and Raft advances.
 * `snapshot-receive` is passed after each chunk of an incoming snapshot is buffered (the first
 * chunk is the header), before any of it is durable.
 */
export const CRASH_POINTS = [
  "log-append:before-write",
  "log-append:after-write",
  "hard-state:before-write",
  "hard-state:after-write",
  "apply:before-write",
  "apply:after-write",
  "snapshot-install:before-write",
  "snapshot-install:after-write",
  "snapshot-receive",
] as const;

/** One of {@linkcode CRASH_POINTS}. */
export type CrashPoint = typeof CRASH_POINTS[number];

/** The variable that arms a crash point. */
export const CRASH_POINT_ENV = "RANGEDB_TEST_CRASH_POINT";
/** The variable that slows synced writes down. */
export const SYNC_DELAY_ENV = "RANGEDB_TEST_SYNC_DELAY_MS";

/**
 * The role of the replica passing a scheduler crash point: `leader` when it leads its range
 * after the turn's Ready, `follower` otherwise (candidates included).
 */
export type CrashPointRole = "leader" | "follower";

/** An armed crash point: kill the process on the `nth` pass of `point` (by `role`, if set). */
export interface CrashPointSetting {
  point: CrashPoint;
  /** Which pass kills (1 = the first). */
  nth: number;
  /** Only passes by a replica in this role count; any pass counts when undefined. */
  role?: CrashPointRole;
  /** Only passes of this range's replica count; any range's count when undefined. */
  rangeId?: number;
}

const SETTING_RE = /^(?:range([1-9]\d*)\/)?(?:(leader|follower)\/)?([a-z:-]+)(?:@(\d+))?$/;

/**
 * Parses a `RANGEDB_TEST_CRASH_POINT` value.
 *
 * @param value the variable's value; undefined or empty when unset
 * @returns the setting, or undefined when unset
 * @throws {RangeDbError} INVALID_ARGUMENT for an unknown point or a count that is not a positive
 * integer
 *
 * @example
 * ```ts
 * import { parseCrashPointSetting } from "./crash_points.ts";
 * parseCrashPointSetting("log-append:after-write"); // { point: "log-append:after-write", nth: 1 }
 * parseCrashPointSetting("leader/apply:before-write@2"); // { point: …, nth: 2, role: "leader" }
 * parseCrashPointSetting("range2/leader/apply:before-write"); // { …, role: "leader", rangeId: 2 }
 * parseCrashPointSetting(undefined); // undefined
 * ```
 */
export function parseCrashPointSetting(value: string | undefined): CrashPointSetting | undefined {
  if (value === undefined || value === "") return undefined;
  const m = SETTING_RE.exec(value);
  const point = m?.[3];
  if (m === null || !(CRASH_POINTS as readonly string[]).includes(point!)) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot arm a crash point as ${CRASH_POINT_ENV} names none: value is ${
        JSON.stringify(value)
      }, expected [range<id>/][leader/|follower/]<point>[@<n>] with a point among ${
        CRASH_POINTS.join(", ")
      }`,
    );
  }
  const rangeId = m[1] === undefined ? undefined : Number(m[1]);
  const role = m[2] as CrashPointRole | undefined;
  if ((role !== undefined || rangeId !== undefined) && point === "snapshot-receive") {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot arm a crash point as only scheduler points take a role or a range: value is ${
        JSON.stringify(value)
      }`,
    );
  }
  const nth = m[4] === undefined ? 1 : Number(m[4]);
  if (!Number.isSafeInteger(nth) || nth < 1) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot arm a crash point as its count is not a positive integer: value is ${
        JSON.stringify(value)
      }`,
    );
  }
  const setting: CrashPointSetting = { point: point as CrashPoint, nth };
  if (role !== undefined) setting.role = role;
  if (rangeId !== undefined) setting.rangeId = rangeId;
  return setting;
}

/**
 * Parses a `RANGEDB_TEST_SYNC_DELAY_MS` value.
 *
 * @param value the variable's value; undefined or empty when unset
 * @returns the delay in milliseconds, 0 when unset
 * @throws {RangeDbError} INVALID_ARGUMENT when it is not a whole number of milliseconds up to 60000
 *
 * @example
 * ```ts
 * import { parseSyncDelayMs } from "./crash_points.ts";
 * parseSyncDelayMs("200"); // 200
 * ```
 */
export function parseSyncDelayMs(value: string | undefined): number {
  if (value === undefined || value === "") return 0;
  const ms = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(ms <= 60_000)) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot slow synced writes down as ${SYNC_DELAY_ENV} is not a delay: value is ${
        JSON.stringify(value)
      }, expected whole milliseconds from 0 to 60000`,
    );
  }
  return ms;
}

/** Reads a variable without prompting: undefined when unset or when env access is not granted. */
function readEnv(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
      return undefined;
    }
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** The problems of the variables, reported by {@linkcode validateCrashPointEnv}. */
const problems: RangeDbError[] = [];

function settle<T>(parse: () => T, fallback: T): T {
  try {
    return parse();
  } catch (err) {
    problems.push(err as RangeDbError);
    return fallback;
  }
}

const armed = settle(() => parseCrashPointSetting(readEnv(CRASH_POINT_ENV)), undefined);
/** The armed point; undefined (never equal to a point) when none is. */
const armedPoint: CrashPoint | undefined = armed?.point;
const armedRole: CrashPointRole | undefined = armed?.role;
let passesLeft = armed?.nth ?? 0;

/** Whether a crash point is armed in this process: callers may skip work that only feeds one. */
export const CRASH_POINT_ARMED: boolean = armed !== undefined;

/**
 * Whether passes of range `rangeId`'s replica count toward the armed point: true unless the
 * setting names another range.
 *
 * @param rangeId the range whose replica passes a scheduler point
 * @returns false when the armed setting is for another range
 *
 * @example
 * ```ts
 * import { crashPointWatchesRange } from "./crash_points.ts";
 * crashPointWatchesRange(2); // true unless RANGEDB_TEST_CRASH_POINT names another range
 * ```
 */
export function crashPointWatchesRange(rangeId: number): boolean {
  return armed?.rangeId === undefined || armed.rangeId === rangeId;
}

/** The delay of every synced write in this process, from `RANGEDB_TEST_SYNC_DELAY_MS` (ms). */
export const TEST_SYNC_DELAY_MS: number = settle(
  () => parseSyncDelayMs(readEnv(SYNC_DELAY_ENV)),
  0,
);

/**
 * Refuses malformed test-fault variables; servers call it first thing at start.
 *
 * @returns the armed crash point and the sync delay in effect
 * @throws {RangeDbError} INVALID_ARGUMENT naming the variable and its value when
 * `RANGEDB_TEST_CRASH_POINT` or `RANGEDB_TEST_SYNC_DELAY_MS` is malformed
 *
 * @example
 * ```ts
 * import { validateCrashPointEnv } from "./crash_points.ts";
 * validateCrashPointEnv(); // { crashPoint: undefined, syncDelayMs: 0 } when nothing is set
 * ```
 */
export function validateCrashPointEnv(): {
  crashPoint: CrashPointSetting | undefined;
  syncDelayMs: number;
} {
  if (problems.length > 0) throw problems[0];
  return { crashPoint: armed, syncDelayMs: TEST_SYNC_DELAY_MS };
}

/**
 * How long {@linkcode crashPointAfterFlush} lets the process run before it kills it: enough for
 * what the caller handed to the network (answers, messages) to leave over loopback.
 */
export const CRASH_FLUSH_MS = 100;

/**
 * Passes crash point `point`: on the armed pass of the armed point, writes one line to stderr
 * and kills the process with SIGKILL; otherwise returns at once.
 *
 * @param point where the caller is
 * @param role the role of the replica passing a scheduler point (undefined elsewhere)
 *
 * @example
 * ```ts
 * import { crashPoint } from "./crash_points.ts";
 * crashPoint("apply:after-write"); // returns unless RANGEDB_TEST_CRASH_POINT armed it
 * ```
 */
export function crashPoint(point: CrashPoint, role?: CrashPointRole): void {
  if (point === armedPoint && reached(role)) crash(point, role);
}

/**
 * Like {@linkcode crashPoint}, but the armed pass first lets the process run for
 * {@linkcode CRASH_FLUSH_MS}, so that answers and messages the caller has already handed to
 * gRPC reach their peers before the crash (the caller must not make anything durable meanwhile;
 * the raft scheduler awaits this before its write).
 *
 * @param point where the caller is
 * @param role the role of the replica passing a scheduler point
 * @returns a promise that settles at once, unless this pass kills the process
 *
 * @example
 * ```ts
 * import { crashPointAfterFlush } from "./crash_points.ts";
 * await crashPointAfterFlush("apply:before-write", "leader");
 * ```
 */
export async function crashPointAfterFlush(
  point: CrashPoint,
  role?: CrashPointRole,
  facts: Record<string, number> = {},
): Promise<void> {
  if (point !== armedPoint || !reached(role)) return;
  await new Promise((resolve) => setTimeout(resolve, CRASH_FLUSH_MS));
  crash(point, role, facts);
}

/** Counts a pass of the armed point; whether it is the one that kills. */
function reached(role: CrashPointRole | undefined): boolean {
  if (armedRole !== undefined && role !== armedRole) return false;
  return --passesLeft === 0;
}

function crash(
  point: CrashPoint,
  role: CrashPointRole | undefined,
  facts: Record<string, number> = {},
): never {
  const line = JSON.stringify({
    ts: new Date().toISOString(),
    level: "error",
    msg: "test crash point reached",
    point,
    role,
    pass: armed!.nth,
    pid: Deno.pid,
    ...facts,
  }) + "\n";
  const bytes = new TextEncoder().encode(line);
  for (let off = 0; off < bytes.length;) off += Deno.stderr.writeSync(bytes.subarray(off));
  Deno.kill(Deno.pid, "SIGKILL");
  // SIGKILL cannot be caught; nothing runs after it.
  throw new Error("Cannot continue past a crash point");
}
