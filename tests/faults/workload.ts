/**
 * The client side of the fault suite: workloads that issue operations against a real cluster
 * while the nemesis breaks it, record every operation with its outcome and times, and check the
 * history afterwards.
 *
 * - **register** (`register_workload.ts`): per-key registers with read, write and
 *   compare-and-swap, checked for linearizability key by key (tests/harness/linearizability.ts).
 * - **set** (`set_workload.ts`): unique inserts plus periodic scans of the run's prefix, checked
 *   for lost, phantom and flickering keys (`set_checker.ts`).
 *
 * Half the workers use the SDK (`connect()` with every endpoint: leader routing, failover,
 * retries under one request id); the other half call ONE node each over raw gRPC (worker `w`
 * → node `w % n`, a request id on every write), so followers forward writes and serve
 * linearizable reads through ReadIndex. Every read is linearizable. Every operation has the
 * `opTimeoutMs` deadline. Times are `performance.now()` at the call and at the return, in this
 * one process.
 *
 * **Outcome of an operation** (`status` of each record):
 * - `ok`: the server answered. A compare-and-swap that answered `succeeded: false` is a definite
 *   failure of the swap (and a read of the value it found), not an error.
 * - `failed`: the operation certainly did not change anything and constrains nothing: a read
 *   that errored, or a write that was never sent (the SDK could not connect; grpc-js had no
 *   connection to the one node: "No connection established") or was refused as INVALID_ARGUMENT
 *   (a bug in the workload, really).
 * - `unknown`: a write, cas or insert that errored in any other way: UNAVAILABLE, DEADLINE_EXCEEDED,
 *   NOT_LEADER, a dropped connection… The server may have proposed it, so it may take effect at
 *   any time after its call, or never; the checkers assume neither.
 *
 * @example
 * ```ts
 * import { createWorkload } from "./workload.ts";
 * const workload = createWorkload("register", { clients: 4 });
 * // await workload.run(env); await workload.finish(env, Date.now() + 30_000);
 * // const result = workload.check();
 * ```
 *
 * @module
 */
import type { Rng } from "../sim/rng.ts";
import { RegisterWorkload } from "./register_workload.ts";
import { SetWorkload } from "./set_workload.ts";

/** What a workload runs against. */
export interface WorkloadEnv {
  /** Client addresses of every node, by node index (some may be down, paused or cut off). */
  endpoints: readonly string[];
  /** Seeded randomness (forked per worker). */
  rng: Rng;
  /** Aborts when the fault phase ends: stop issuing new operations, let in-flight ones end. */
  signal: AbortSignal;
  /** Client deadline of one operation. */
  opTimeoutMs: number;
  /** Unique per run; every key of the run lives under `/faults/<runId>/`. */
  runId: string;
  /** Progress messages. */
  log(message: string): void;
}

/** The verdict of a workload's checker, with the operation counts. */
export interface WorkloadResult {
  ops: number;
  ok: number;
  failed: number;
  unknown: number;
  /** false on an anomaly; "unknown" when the checker ran out of budget. */
  valid: true | false | "unknown";
  /** Human-readable, each naming the key and the operations involved (ids, times, values). */
  anomalies: string[];
}

/** A workload: run under faults, finish after healing, then check. */
export interface Workload {
  readonly name: "register" | "set";
  /**
   * Issues operations with `clients` concurrent workers until `env.signal` aborts; records every
   * operation. Never throws for an operation's failure; resolves once every in-flight operation
   * has ended and every client is closed.
   */
  run(env: WorkloadEnv): Promise<void>;
  /**
   * After the faults healed: the final reads (register: every key from every node; set: every
   * node's linearizable scan of the run's prefix), each retried until `deadline` (`Date.now()`
   * ms).
   *
   * @throws {Error} when they cannot be done in time
   */
  finish(env: Omit<WorkloadEnv, "signal">, deadline: number): Promise<void>;
  /** Checks the recorded history (after `finish`). */
  check(): WorkloadResult;
  /** The recorded history, JSON-serialisable, written to a file when a run fails. */
  history(): unknown;
}

/** Options of {@linkcode createWorkload}. */
export interface WorkloadOptions {
  /** Concurrent workers (half SDK, half raw gRPC to one node). @default 8 */
  clients?: number;
  /** Register: keys in use at once. @default 8 */
  keys?: number;
  /** Register: operations per key before it is retired for a fresh one. @default 150 */
  opsPerKey?: number;
}

/**
 * Creates a workload.
 *
 * @param name "register" or "set"
 * @param options workers and, for the register, keys
 * @returns the workload, ready to `run`
 * @throws {Error} for an unknown name or a non-positive count
 */
export function createWorkload(name: "register" | "set", options: WorkloadOptions = {}): Workload {
  const { clients = 8, keys = 8, opsPerKey = 150 } = options;
  for (
    const [what, n] of [["clients", clients], ["keys", keys], ["opsPerKey", opsPerKey]] as const
  ) {
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(
        `Cannot create the ${name} workload as ${what} is not a positive integer: got ${n}`,
      );
    }
  }
  switch (name) {
    case "register":
      return new RegisterWorkload({ clients, keys, opsPerKey });
    case "set":
      return new SetWorkload({ clients });
    default:
      throw new Error(`Cannot create a workload as its name is unknown: got '${name}'`);
  }
}
