/**
 * The set workload: every worker inserts unique keys `/faults/<runId>/set/<worker>-<seq>` (a put
 * whose value is derived from the key, see {@linkcode valueFor}), and about every 500 ms one of
 * the workers, whichever comes first, scans the whole prefix with a linearizable range read.
 * After the faults, `finish` scans the prefix on every node (raw gRPC, so each node serves its
 * own linearizable read) until the nodes agree. `set_checker.ts` then looks for lost, phantom,
 * flickering and diverging keys.
 *
 * @module
 */
import { checkSet, type SetInsert, type SetOpStatus, type SetRead } from "./set_checker.ts";
import type { Workload, WorkloadEnv, WorkloadResult } from "./workload.ts";
import {
  countStatuses,
  describeError,
  nodeClient,
  outcomeOfError,
  pause,
  retryUntil,
  runWorkers,
  type WorkloadClient,
} from "./workload_clients.ts";

/** Options of {@linkcode SetWorkload}. */
export interface SetWorkloadOptions {
  clients: number;
}

/** A scan that failed (it constrains nothing; kept for the history). */
export interface FailedSetRead {
  id: number;
  by: string;
  call: number;
  end: number;
  error: string;
  final?: number;
}

/** Time between scans, over all workers. */
const SCAN_EVERY_MS = 500;
/** Pause after an operation that errored, so a worker whose node is down does not spin. */
const ERROR_PAUSE_MS = [20, 120] as const;
/** Time between rounds of final reads while the nodes disagree. */
const FINAL_ROUND_PAUSE_MS = 500;

/**
 * The value inserted for `key`: the key and its FNV-1a checksum, so a value can be verified
 * without the history.
 *
 * @param key the key
 * @returns e.g. "/faults/r1/set/0-0#5d2a9c1e"
 */
export function valueFor(key: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return `${key}#${(h >>> 0).toString(16).padStart(8, "0")}`;
}

/** The set workload; create it with `createWorkload("set")`. */
export class SetWorkload implements Workload {
  readonly name = "set";
  readonly #clients: number;
  readonly #inserts: SetInsert[] = [];
  readonly #idOfKey = new Map<string, number>();
  readonly #reads: SetRead[] = [];
  readonly #failedReads: FailedSetRead[] = [];
  #nextReadId = 1;
  #finished = false;

  /** @param options how many workers */
  constructor(options: SetWorkloadOptions) {
    this.#clients = options.clients;
  }

  /** Inserts and scans until `env.signal` aborts; see {@linkcode Workload.run}. */
  async run(env: WorkloadEnv): Promise<void> {
    const prefix = `/faults/${env.runId}/set/`;
    const rngs = Array.from({ length: this.#clients }, () => env.rng.fork());
    let nextScanAt = performance.now() + SCAN_EVERY_MS;
    await runWorkers(this.#clients, env.endpoints, async (worker, client) => {
      const rng = rngs[worker];
      const by = `w${worker} via ${client.via}`;
      for (let seq = 0; !env.signal.aborted;) {
        let ok: boolean;
        if (performance.now() >= nextScanAt) {
          nextScanAt = performance.now() + SCAN_EVERY_MS;
          ok = await this.#scan(client, prefix, by, env.opTimeoutMs) === undefined;
        } else {
          ok = await this.#insert(client, `${prefix}${worker}-${seq++}`, by, env.opTimeoutMs);
        }
        if (!ok) await pause(rng.range(...ERROR_PAUSE_MS), env.signal);
      }
    });
    const c = this.#counts();
    env.log(
      `set: ${c.ops} ops (${c.ok} ok, ${c.failed} failed, ${c.unknown} unknown), ${this.#reads.length} reads`,
    );
  }

  /** Inserts one key and records it; returns whether it was acknowledged. */
  async #insert(
    client: WorkloadClient,
    key: string,
    by: string,
    timeoutMs: number,
  ): Promise<boolean> {
    const ins: SetInsert = {
      id: this.#inserts.length + 1,
      key,
      value: valueFor(key),
      call: performance.now(),
      ret: undefined,
      status: "unknown",
      by,
    };
    // Registered before the call, so a scan that returns it finds its record.
    this.#inserts.push(ins);
    this.#idOfKey.set(key, ins.id);
    try {
      await client.put(key, ins.value, timeoutMs);
      ins.ret = performance.now();
      ins.status = "ok";
      return true;
    } catch (err) {
      ins.status = outcomeOfError(err, true);
      return false;
    }
  }

  /** Scans the prefix once and records it; returns the error when it failed. */
  async #scan(
    client: WorkloadClient,
    prefix: string,
    by: string,
    timeoutMs: number,
    final?: number,
  ): Promise<string | undefined> {
    const id = this.#nextReadId++;
    const call = performance.now();
    try {
      const pairs = await client.scan(prefix, prefixEnd(prefix), timeoutMs);
      const ret = performance.now();
      const present: number[] = [];
      const strangers: string[] = [];
      const wrongValues: [number, string][] = [];
      for (const [key, value] of pairs) {
        const insertId = this.#idOfKey.get(key);
        if (insertId === undefined) {
          strangers.push(key);
          continue;
        }
        present.push(insertId);
        if (value !== this.#inserts[insertId - 1].value) wrongValues.push([insertId, value]);
      }
      this.#reads.push({ id, call, ret, present, strangers, wrongValues, by, final });
      return undefined;
    } catch (err) {
      const failed = { id, by, call, end: performance.now(), error: describeError(err), final };
      this.#failedReads.push(failed);
      return failed.error;
    }
  }

  /**
   * Scans the prefix on every node, in rounds, until one round's scans agree (or the deadline
   * passes: the checker then reports the divergence); see {@linkcode Workload.finish}.
   */
  async finish(env: Omit<WorkloadEnv, "signal">, deadline: number): Promise<void> {
    const prefix = `/faults/${env.runId}/set/`;
    const clients = env.endpoints.map((address, i) => nodeClient(i, address));
    try {
      for (let round = 0;; round++) {
        await Promise.all(clients.map((client, i) => {
          const by = `final read of node ${i} (round ${round})`;
          return retryUntil(`scan ${prefix} on node ${i}`, deadline, async (left) => {
            const timeoutMs = Math.min(left, Math.max(env.opTimeoutMs, 10_000));
            const error = await this.#scan(client, prefix, by, timeoutMs, round);
            if (error !== undefined) throw new Error(error);
          });
        }));
        const finals = this.#reads.filter((r) => r.final === round);
        this.#finished = true;
        if (agree(finals) || Date.now() + FINAL_ROUND_PAUSE_MS >= deadline) {
          env.log(
            `set: final reads of ${finals.length} nodes, round ${round}, agree: ${agree(finals)}`,
          );
          return;
        }
        await pause(FINAL_ROUND_PAUSE_MS);
      }
    } finally {
      for (const client of clients) client.close();
    }
  }

  #counts() {
    const statuses: { status: SetOpStatus }[] = [
      ...this.#inserts,
      ...this.#reads.map(() => ({ status: "ok" as const })),
      ...this.#failedReads.map(() => ({ status: "failed" as const })),
    ];
    return countStatuses(statuses);
  }

  /**
   * Checks the history with `checkSet`. Without final reads the run cannot pass, but that is no
   * anomaly (the runner reports the liveness failure that prevented them): the verdict is
   * "unknown" unless the reads that were done already show one.
   */
  check(): WorkloadResult {
    const verdict = checkSet(this.#inserts, this.#reads);
    const anomalies = [...verdict.anomalies];
    if (anomalies.length > 0) return { ...this.#counts(), valid: false, anomalies };
    return { ...this.#counts(), valid: this.#finished ? true : "unknown", anomalies };
  }

  /** Inserts, reads and failed reads. */
  history(): {
    workload: "set";
    inserts: SetInsert[];
    reads: SetRead[];
    failedReads: FailedSetRead[];
  } {
    return {
      workload: "set",
      inserts: [...this.#inserts],
      reads: [...this.#reads],
      failedReads: [...this.#failedReads],
    };
  }
}

/** The first key after every key that starts with `prefix` (which ends with "/"). */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** Whether every read holds the same keys. */
function agree(reads: readonly SetRead[]): boolean {
  const sig = (r: SetRead) =>
    [...r.present].sort((a, b) => a - b).join() + "|" + [...r.strangers].sort().join();
  return reads.every((r) => sig(r) === sig(reads[0]));
}
