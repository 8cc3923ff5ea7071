/**
 * The clients of the fault workloads and the classification of their errors (the rules are in
 * workload.ts). A {@linkcode WorkloadClient} is either the SDK connected to every endpoint or raw
 * gRPC to one node; both offer the same four linearizable operations, and both throw on failure,
 * leaving the classification to {@linkcode outcomeOfError}.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import {
  connect,
  ErrorCode,
  type RangeDbClient,
  RangeDbClientError,
} from "../../src/client/mod.ts";
import { errorCodeOf, isCallError, KV, NodeGrpc } from "../harness/cluster_grpc.ts";

/** What became of an operation; see workload.ts. */
export type OpStatus = "ok" | "failed" | "unknown";

/** What a failed operation means for the history. */
export type FailureOutcome = Exclude<OpStatus, "ok">;

/**
 * Operation counts by outcome.
 *
 * @param records anything with a status
 * @returns ops, ok, failed and unknown
 */
export function countStatuses(
  records: readonly { status: OpStatus }[],
): { ops: number; ok: number; failed: number; unknown: number } {
  const counts = { ops: records.length, ok: 0, failed: 0, unknown: 0 };
  for (const r of records) counts[r.status]++;
  return counts;
}

/** The linearizable operations a workload worker issues; each throws on failure. */
export interface WorkloadClient {
  /** "sdk" or "node <i>": which client served, for reports. */
  readonly via: string;
  /** The key's value, or null when absent. */
  get(key: string, timeoutMs: number): Promise<string | null>;
  put(key: string, value: string, timeoutMs: number): Promise<void>;
  /** Whether it swapped; the value found when not (null: absent). */
  cas(
    key: string,
    expected: string | null,
    value: string,
    timeoutMs: number,
  ): Promise<{ succeeded: boolean; actual: string | null }>;
  /** Every pair of [start, end), as one consistent cut. */
  scan(start: string, end: string, timeoutMs: number): Promise<[string, string][]>;
  close(): void;
}

/** An operation that was never sent: nothing can have been applied. */
export class NotSentError extends Error {
  override name = "NotSentError";
}

/**
 * The outcome of an operation that threw `err`: `failed` for reads, and for writes that certainly
 * did not apply (never sent, or refused as INVALID_ARGUMENT); `unknown` for every other write.
 *
 * @param err what the client threw
 * @param isWrite whether the operation writes (put, cas, insert)
 * @returns the outcome to record
 */
export function outcomeOfError(err: unknown, isWrite: boolean): FailureOutcome {
  if (!isWrite) return "failed";
  return definitelyNotApplied(err) ? "failed" : "unknown";
}

/**
 * Whether `err` proves that a write was not applied: it was never sent (no SDK connection, or no
 * gRPC connection to the one node), or a server refused it as malformed before proposing it.
 * Timeouts, UNAVAILABLE from a server, NOT_LEADER and lost connections prove nothing: the write
 * may already be in a leader's log.
 *
 * @param err what the client threw
 * @returns true only for a definite refusal
 */
export function definitelyNotApplied(err: unknown): boolean {
  if (err instanceof NotSentError) return true;
  // Not FAILED_PRECONDITION "client is closed": the SDK also says that on a retry, after an
  // attempt that may have applied.
  if (err instanceof RangeDbClientError) return err.code === ErrorCode.INVALID_ARGUMENT;
  if (!isCallError(err)) return false;
  if (err.code === grpc.status.INVALID_ARGUMENT) return errorCodeOf(err) === "INVALID_ARGUMENT";
  // grpc-js fails a call this way when its picker has no connection to give it: the request was
  // never written to any socket (raw gRPC only: the SDK may have sent an earlier attempt).
  return err.code === grpc.status.UNAVAILABLE && errorCodeOf(err) === undefined &&
    err.details.startsWith("No connection established");
}

/**
 * One line describing an error for the history: its class or gRPC code, and its message.
 *
 * @param err what the client threw
 * @returns e.g. "UNAVAILABLE: Cannot reach 127.0.0.1:7101: connect ECONNREFUSED"
 */
export function describeError(err: unknown): string {
  if (err instanceof RangeDbClientError) return `${err.code}: ${err.message}`;
  if (isCallError(err)) return `${grpc.status[err.code] ?? err.code}: ${err.details}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The SDK connected to every endpoint. It connects on first use, and again after a failed
 * connect; an operation that finds no connection fails with {@linkcode NotSentError}.
 */
class SdkWorkloadClient implements WorkloadClient {
  readonly via = "sdk";
  #db: RangeDbClient | undefined;
  #closed = false;

  constructor(readonly endpoints: readonly string[]) {}

  async #client(timeoutMs: number): Promise<RangeDbClient> {
    if (this.#db !== undefined) return this.#db;
    try {
      const db = await connect({ endpoints: [...this.endpoints], timeoutMs });
      if (this.#closed) {
        db.close();
        throw new Error("the workload client is closed");
      }
      return this.#db = db;
    } catch (err) {
      throw new NotSentError(`Cannot connect the SDK: ${describeError(err)}`, { cause: err });
    }
  }

  async get(key: string, timeoutMs: number): Promise<string | null> {
    return await (await this.#client(timeoutMs)).getText(key, { timeoutMs });
  }

  async put(key: string, value: string, timeoutMs: number): Promise<void> {
    await (await this.#client(timeoutMs)).put(key, value, { timeoutMs });
  }

  async cas(key: string, expected: string | null, value: string, timeoutMs: number) {
    const db = await this.#client(timeoutMs);
    const res = await db.compareAndSwapDetailed(key, expected, value, { timeoutMs });
    return {
      succeeded: res.succeeded,
      actual: res.actual === null ? null : decoder.decode(res.actual),
    };
  }

  async scan(start: string, end: string, timeoutMs: number): Promise<[string, string][]> {
    const db = await this.#client(timeoutMs);
    const out: [string, string][] = [];
    const options = { timeoutMs, idleTimeoutMs: timeoutMs };
    for await (const { key, value } of db.rangeText(start, end, options)) out.push([key, value]);
    return out;
  }

  close(): void {
    this.#closed = true;
    this.#db?.close();
  }
}

/** Raw gRPC to one node: what that node answers, with no routing or retry. */
class NodeWorkloadClient implements WorkloadClient {
  readonly via: string;
  readonly #node: NodeGrpc;

  constructor(index: number, address: string) {
    this.via = `node ${index}`;
    this.#node = new NodeGrpc(address);
  }

  async get(key: string, timeoutMs: number): Promise<string | null> {
    const res = await this.#node.unary(KV.method.get, { key: encoder.encode(key) }, timeoutMs);
    return res.found ? decoder.decode(res.value) : null;
  }

  async put(key: string, value: string, timeoutMs: number): Promise<void> {
    const request = {
      key: encoder.encode(key),
      value: encoder.encode(value),
      requestId: crypto.randomUUID(),
    };
    await this.#node.unary(KV.method.put, request, timeoutMs);
  }

  async cas(key: string, expected: string | null, value: string, timeoutMs: number) {
    const request = {
      key: encoder.encode(key),
      expected: expected === null ? new Uint8Array() : encoder.encode(expected),
      expectAbsent: expected === null,
      value: encoder.encode(value),
      requestId: crypto.randomUUID(),
    };
    const res = await this.#node.unary(KV.method.compareAndSwap, request, timeoutMs);
    return {
      succeeded: res.succeeded,
      actual: res.succeeded || !res.found ? null : decoder.decode(res.actual),
    };
  }

  async scan(start: string, end: string, timeoutMs: number): Promise<[string, string][]> {
    const request = { start: encoder.encode(start), end: encoder.encode(end) };
    const chunks = await this.#node.stream(KV.method.range, request, timeoutMs);
    return chunks.flatMap((c) =>
      c.kvs.map((kv) => [decoder.decode(kv.key), decoder.decode(kv.value)] as [string, string])
    );
  }

  close(): void {
    this.#node.close();
  }
}

/**
 * The client of worker `worker`: the SDK for even workers, raw gRPC for odd ones, spread
 * round-robin over the nodes (worker 1 to node 0, 3 to node 1, …), so that with at least twice
 * as many workers as nodes every node has a direct client and serves reads of its own, also when
 * it is on the minority side of a partition.
 *
 * @param worker the worker's index
 * @param endpoints every node's client address, by node index
 * @returns the client; close it when the worker ends
 */
export function clientOfWorker(worker: number, endpoints: readonly string[]): WorkloadClient {
  if (worker % 2 === 0) return new SdkWorkloadClient(endpoints);
  const node = Math.floor(worker / 2) % endpoints.length;
  return new NodeWorkloadClient(node, endpoints[node]);
}

/**
 * Raw gRPC to node `index`, for the final reads that must come from every node.
 *
 * @param index the node's index
 * @param address its client address
 * @returns the client; close it when done
 */
export function nodeClient(index: number, address: string): WorkloadClient {
  return new NodeWorkloadClient(index, address);
}

/**
 * Sleeps `ms`, or less when `signal` aborts first; never rejects.
 *
 * @param ms how long
 * @param signal ends the sleep early
 */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Retries `fn` until it succeeds or `deadline` passes, pausing between attempts.
 *
 * @param what what is attempted, for the error
 * @param deadline `Date.now()` ms
 * @param fn one attempt; it gets the time left (ms)
 * @returns what `fn` returned
 * @throws {Error} naming `what` and the last error when the deadline passes
 */
export async function retryUntil<T>(
  what: string,
  deadline: number,
  fn: (leftMs: number) => Promise<T>,
): Promise<T> {
  let last: unknown;
  for (let attempt = 0;; attempt++) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      return await fn(left);
    } catch (err) {
      last = err;
    }
    await pause(Math.min(100 * 2 ** Math.min(attempt, 3), Math.max(0, deadline - Date.now())));
  }
  throw new Error(`Cannot ${what} before the deadline: last error: ${describeError(last)}`, {
    cause: last,
  });
}

/**
 * Runs `count` workers, each with its own client, until every worker's loop returns; closes
 * every client, also when a worker throws.
 *
 * @param count how many workers
 * @param endpoints every node's client address
 * @param body one worker's loop
 */
export async function runWorkers(
  count: number,
  endpoints: readonly string[],
  body: (worker: number, client: WorkloadClient) => Promise<void>,
): Promise<void> {
  const clients = Array.from({ length: count }, (_, w) => clientOfWorker(w, endpoints));
  try {
    await Promise.all(clients.map((client, w) => body(w, client)));
  } finally {
    for (const client of clients) client.close();
  }
}
