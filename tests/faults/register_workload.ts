/**
 * The register workload: workers read, write and compare-and-swap a few shared keys, and the
 * history is checked for linearizability key by key.
 *
 * `keys` keys are in use at once; each takes at most `opsPerKey` operations and is then retired
 * for a fresh key (`/faults/<runId>/register/<n>`), which keeps every key's history small enough
 * for the search. Operations: 50% read, 25% write of a unique value (`w<worker>-<seq>`), 25% cas
 * from the value this worker last saw on that key (absent when it saw none) to a unique value. A
 * cas that answers "not swapped" also tells the value it found, which the checker uses as a read.
 * After the faults, `finish` reads every key ever used from every node.
 *
 * @module
 */
import {
  checkEachKey,
  type HistoryOp,
  type RegisterOp,
  type RegisterValue,
} from "../harness/linearizability.ts";
import type { Workload, WorkloadEnv, WorkloadResult } from "./workload.ts";
import {
  countStatuses,
  describeError,
  nodeClient,
  type OpStatus,
  outcomeOfError,
  pause,
  retryUntil,
  runWorkers,
  type WorkloadClient,
} from "./workload_clients.ts";

/** One recorded register operation (`ret` undefined unless the outcome is known). */
export interface RegisterRecord extends HistoryOp {
  /** The worker's index; -1 for the final reads. */
  worker: number;
  /** The client that served it: "sdk" or "node <i>". */
  via: string;
  status: OpStatus;
  /** `performance.now()` when the client returned or gave up. */
  end: number;
  /** The error, when it failed or its outcome is unknown. */
  error?: string;
}

/** Options of {@linkcode RegisterWorkload}. */
export interface RegisterWorkloadOptions {
  clients: number;
  keys: number;
  opsPerKey: number;
}

/** Search budget per key of the checker. */
const MAX_STEPS = 2_000_000;
/** Pause after an operation that errored, so a worker whose node is down does not spin. */
const ERROR_PAUSE_MS = [20, 120] as const;

/** The register workload; create it with `createWorkload("register")`. */
export class RegisterWorkload implements Workload {
  readonly name = "register";
  readonly #options: RegisterWorkloadOptions;
  readonly #records: RegisterRecord[] = [];
  /** Every key used, in order of first use. */
  readonly #keys: string[] = [];
  #nextKey = 0;

  /** @param options workers, keys at once, operations per key */
  constructor(options: RegisterWorkloadOptions) {
    this.#options = options;
  }

  #freshKey(runId: string): { key: string; issued: number } {
    const key = `/faults/${runId}/register/${String(this.#nextKey++).padStart(5, "0")}`;
    this.#keys.push(key);
    return { key, issued: 0 };
  }

  /** Issues operations until `env.signal` aborts; see {@linkcode Workload.run}. */
  async run(env: WorkloadEnv): Promise<void> {
    const { clients, keys, opsPerKey } = this.#options;
    const slots = Array.from({ length: keys }, () => this.#freshKey(env.runId));
    const rngs = Array.from({ length: clients }, () => env.rng.fork());
    await runWorkers(clients, env.endpoints, async (worker, client) => {
      const rng = rngs[worker];
      const lastSeen = new Map<string, RegisterValue>();
      for (let seq = 0; !env.signal.aborted; seq++) {
        const slot = rng.int(keys);
        const key = slots[slot].key;
        if (++slots[slot].issued >= opsPerKey) slots[slot] = this.#freshKey(env.runId);
        const p = rng.next();
        const value = `w${worker}-${seq}`;
        const op: RegisterOp = p < 0.5
          ? { kind: "read", value: null }
          : p < 0.75
          ? { kind: "write", value }
          : { kind: "cas", expected: lastSeen.get(key) ?? null, value, ok: false };
        const record = await this.#perform(worker, client, key, op, env.opTimeoutMs);
        if (record.status !== "ok") {
          await pause(rng.range(...ERROR_PAUSE_MS), env.signal);
          continue;
        }
        const done = record.op;
        if (done.kind === "cas") lastSeen.set(key, done.ok ? done.value : done.actual ?? null);
        else lastSeen.set(key, done.value);
      }
    });
    const c = this.#counts();
    env.log(`register: ${c.ops} ops (${c.ok} ok, ${c.failed} failed, ${c.unknown} unknown)`);
  }

  /** Calls one operation and records it with its outcome. */
  async #perform(
    worker: number,
    client: WorkloadClient,
    key: string,
    op: RegisterOp,
    timeoutMs: number,
  ): Promise<RegisterRecord> {
    const record: RegisterRecord = {
      id: this.#records.length + 1,
      key,
      call: performance.now(),
      ret: undefined,
      op,
      worker,
      via: client.via,
      status: "unknown",
      end: 0,
    };
    this.#records.push(record);
    try {
      if (op.kind === "read") {
        record.op = { kind: "read", value: await client.get(key, timeoutMs) };
      } else if (op.kind === "write") {
        await client.put(key, op.value, timeoutMs);
      } else {
        const res = await client.cas(key, op.expected, op.value, timeoutMs);
        record.op = res.succeeded ? { ...op, ok: true } : { ...op, ok: false, actual: res.actual };
      }
      record.end = record.ret = performance.now();
      record.status = "ok";
    } catch (err) {
      record.end = performance.now();
      record.status = outcomeOfError(err, op.kind !== "read");
      record.error = describeError(err);
    }
    return record;
  }

  /** Reads every key used from every node; see {@linkcode Workload.finish}. */
  async finish(env: Omit<WorkloadEnv, "signal">, deadline: number): Promise<void> {
    const keys = [...this.#keys];
    await Promise.all(env.endpoints.map(async (address, i) => {
      const client = nodeClient(i, address);
      try {
        for (const key of keys) {
          await retryUntil(`read ${key} from node ${i}`, deadline, async (left) => {
            const read: RegisterOp = { kind: "read", value: null };
            const r = await this.#perform(-1, client, key, read, Math.min(left, env.opTimeoutMs));
            if (r.status !== "ok") throw new Error(r.error);
          });
        }
      } finally {
        client.close();
      }
    }));
    env.log(`register: read ${keys.length} keys from ${env.endpoints.length} nodes`);
  }

  #counts() {
    return countStatuses(this.#records);
  }

  /** Checks every key's history; see {@linkcode checkRegisterHistory}. */
  check(): WorkloadResult {
    return checkRegisterHistory(this.#records);
  }

  /** Every operation, in call order. */
  history(): { workload: "register"; keys: string[]; ops: RegisterRecord[] } {
    return { workload: "register", keys: [...this.#keys], ops: [...this.#records] };
  }
}

/**
 * Checks a register history for linearizability, key by key (failed operations left out, unknown
 * ones as "maybe"), and describes each failing key: the operation no order can place, the
 * operations around it, and every read of a value no operation on that key wrote.
 *
 * @param records the recorded operations
 * @param options the search budget per key (default 2,000,000 steps)
 * @returns counts, verdict and anomalies; a key over budget makes the verdict "unknown"
 * @example
 * ```ts
 * import { checkRegisterHistory } from "./register_workload.ts";
 * const result = checkRegisterHistory([
 *   { id: 1, key: "/k", call: 0, ret: 1, end: 1, op: { kind: "read", value: "x" },
 *     worker: 0, via: "sdk", status: "ok" },
 * ]);
 * result.valid; // false: nothing wrote "x"
 * ```
 */
export function checkRegisterHistory(
  records: readonly RegisterRecord[],
  options: { maxSteps?: number } = {},
): WorkloadResult {
  const maxSteps = options.maxSteps ?? MAX_STEPS;
  const history = records.filter((r) => r.status !== "failed");
  const anomalies: string[] = [];
  let valid: WorkloadResult["valid"] = true;
  for (const verdict of checkEachKey(history, { maxSteps })) {
    if (verdict.ok === true) continue;
    const ops = history.filter((r) => r.key === verdict.key);
    if (verdict.ok === "unknown") {
      if (valid === true) valid = "unknown";
      anomalies.push(
        `register ${verdict.key}: undecided: the checker ran out of its ${maxSteps}-step budget on ${ops.length} operations`,
      );
      continue;
    }
    valid = false;
    anomalies.push(...neverWritten(verdict.key, ops));
    const stuck = verdict.stuck as RegisterRecord;
    anomalies.push(
      `register ${verdict.key}: not linearizable: no order of its ${ops.length} operations places ${
        describeOp(stuck)
      } before it returned; operations around it:\n    ${
        around(ops, stuck).map(describeOp).join("\n    ")
      }`,
    );
  }
  // The counts are of the workload's own operations: the final reads (worker -1) would let a run
  // whose every operation failed look busy.
  return { ...countStatuses(records.filter((r) => r.worker >= 0)), valid, anomalies };
}

/** Reads (and failed cas) of a key that saw a value no operation on the key wrote. */
function neverWritten(key: string, ops: readonly RegisterRecord[]): string[] {
  const written = new Set<string>();
  for (const r of ops) if (r.op.kind !== "read") written.add(r.op.value);
  const out: string[] = [];
  for (const r of ops) {
    if (r.ret === undefined) continue;
    const seen = r.op.kind === "read" ? r.op.value : r.op.kind === "cas" ? r.op.actual : undefined;
    if (seen === undefined || seen === null || written.has(seen)) continue;
    out.push(`register ${key}: ${describeOp(r)} saw "${seen}", which no operation wrote`);
  }
  return out;
}

/** The operations overlapping `stuck` and the five that returned last before it was called. */
function around(ops: readonly RegisterRecord[], stuck: RegisterRecord): RegisterRecord[] {
  const stuckEnd = stuck.ret ?? Infinity;
  const before = ops.filter((r) => r.ret !== undefined && r.ret < stuck.call)
    .sort((a, b) => a.ret! - b.ret!).slice(-5);
  const overlapping = ops.filter((r) => r.call <= stuckEnd && (r.ret ?? Infinity) >= stuck.call)
    .slice(0, 15);
  return [...new Set([...before, ...overlapping])].sort((a, b) => a.call - b.call);
}

/** E.g. `#12 write "w3-45" by w3 via node 1 [1234.5 → 1240.2 ms]`. */
export function describeOp(r: RegisterRecord): string {
  const o = r.op;
  const what = o.kind === "read"
    ? `read ${show(o.value)}`
    : o.kind === "write"
    ? `write ${show(o.value)}`
    : `cas ${show(o.expected)}→${show(o.value)} ${
      r.ret === undefined ? "" : o.ok ? "swapped" : `not swapped (found ${show(o.actual ?? null)})`
    }`.trimEnd();
  const who = r.worker < 0 ? "final read" : `by w${r.worker}`;
  const end = r.ret === undefined
    ? `? (${r.status}, gave up at ${r.end.toFixed(1)}: ${r.error ?? ""})`
    : r.ret.toFixed(1);
  return `#${r.id} ${what} ${who} via ${r.via} [${r.call.toFixed(1)} → ${end} ms]`;
}

function show(v: RegisterValue | undefined): string {
  return v === null || v === undefined ? "absent" : `"${v}"`;
}
