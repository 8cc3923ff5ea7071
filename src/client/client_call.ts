/**
 * Runs one SDK call to completion: picks an endpoint (the leader for leader-directed calls, else
 * round robin), and on a retryable failure learns the leader again, backs off and tries the next
 * endpoint until the call's deadline. The caller's attempt function stays the same across retries,
 * so a write's request id does too.
 *
 * When the leader's address cannot be reached (connection refused, no answer within the attempt),
 * it is avoided for a few seconds and the configured endpoints are tried in turn (they forward to
 * the leader) before the leader is looked up again.
 *
 * A point request may come with a direct route (`client_range_cache.ts`): its first attempt goes
 * to the cached leader of its key's range; when that attempt fails retryably, the route is told
 * (it evicts the entry and looks the range up again) and the call goes on at once as above.
 *
 * A call that runs out of time fails with the last status a server sent (TimeoutError for a
 * server's DEADLINE_EXCEEDED, UnavailableError otherwise), or UnavailableError when no server
 * ever answered.
 *
 * @module
 */
import type * as grpc from "@grpc/grpc-js";
import { ErrorCode } from "../base/errors.ts";
import {
  answeredByServer,
  CancelledError,
  fromServiceError,
  isServiceError,
  leaderHintOf,
  RangeDbClientError,
  TimeoutError,
  UnavailableError,
} from "./client_errors.ts";
import type { EndpointPool } from "./client_endpoints.ts";
import { callUnary, RANGEDB_METHODS } from "./client_grpc.ts";
import { create } from "@bufbuild/protobuf";
import { ClusterStatusRequestSchema } from "../../proto/gen/rangedb/v1/admin_pb.ts";
import { attemptDeadline, backoffDelayMs, isRetryable } from "./client_retry.ts";
import type { DirectRoute } from "./client_range_cache.ts";

/** Where a call goes: to range 1's leader, or to any endpoint. */
export type Route = "leader" | "any";

/** Deadline and cancellation of one call. */
export interface CallBudget {
  /** The whole call's budget, retries included. */
  timeoutMs: number;
  /** Cancels the call. */
  signal?: AbortSignal;
}

/** One attempt of a call against one endpoint. */
export type Attempt<T> = (
  client: grpc.Client,
  address: string,
  deadline: number,
  signal?: AbortSignal,
) => Promise<T>;

/** An attempt with less time left than this is not started; the call fails instead. */
const MIN_LAST_ATTEMPT_MS = 20;

/** How long a leader lookup may wait on one endpoint. */
const LOOKUP_TIMEOUT_MS = 1_000;

/** How long a lookup after a call that succeeded through a configured endpoint may take. */
const RELEARN_TIMEOUT_MS = 250;

/** While the leader is unknown, leader-directed calls look it up at most this often. */
const RELOOKUP_INTERVAL_MS = 1_000;

/** Sleeps `ms`, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Runs calls with failover, leader direction and backoff over an {@linkcode EndpointPool}. */
export class CallRunner {
  readonly #pool: EndpointPool;
  readonly #random: () => number;
  #lastLookup = 0;

  /**
   * @param pool the endpoints
   * @param random jitter source in [0, 1)
   */
  constructor(pool: EndpointPool, random: () => number = Math.random) {
    this.#pool = pool;
    this.#random = random;
  }

  /**
   * Runs `attempt` until it succeeds, fails with a final error, or the budget is spent.
   *
   * @param name the operation, for messages ("Put")
   * @param route leader-directed or any endpoint
   * @param budget deadline and signal
   * @param attempt one try against one endpoint
   * @param direct where the first attempt goes (the cached leader of the key's range), if known
   * @returns the attempt's result
   * @throws {RangeDbClientError} the final failure: the server's refusal, CancelledError,
   * UnavailableError or TimeoutError
   */
  async run<T>(
    name: string,
    route: Route,
    budget: CallBudget,
    attempt: Attempt<T>,
    direct?: DirectRoute,
  ): Promise<T> {
    const { timeoutMs, signal } = budget;
    const deadline = Date.now() + timeoutMs;
    let retries = 0;
    let last: RangeDbClientError | undefined;
    let lastAnswer: RangeDbClientError | undefined;
    let failed: string | undefined;
    let lookUpLeader = false;
    /** Configured endpoints still to try before the leader is looked up again. */
    let viaEndpoints = 0;
    if (route === "leader" && this.#pool.leader === undefined) {
      lookUpLeader = Date.now() - this.#lastLookup >= RELOOKUP_INTERVAL_MS;
    }
    for (;;) {
      if (signal?.aborted) throw cancelled(name, signal);
      if (this.#pool.closed) {
        throw new RangeDbClientError(
          ErrorCode.FAILED_PRECONDITION,
          `Cannot call ${name} as the client is closed`,
        );
      }
      if (route === "leader" && lookUpLeader && viaEndpoints === 0) {
        await this.lookUpLeader(Math.min(deadline, Date.now() + LOOKUP_TIMEOUT_MS), signal, failed);
        lookUpLeader = false;
      }
      const directed = direct !== undefined && !this.#pool.isUnreachable(direct.address)
        ? direct
        : undefined;
      direct = undefined;
      const leader = route === "leader" && viaEndpoints === 0 ? this.#pool.leader : undefined;
      const address = directed?.address ?? leader ?? this.#pool.nextEndpoint(failed);
      if (directed === undefined && leader === undefined && viaEndpoints > 0) viaEndpoints--;
      try {
        const attemptEnd = attemptDeadline(Date.now(), deadline, timeoutMs);
        const result = await attempt(this.#pool.client(address), address, attemptEnd, signal);
        if (route === "leader" && lookUpLeader) {
          // Served through a configured endpoint after a failure: learn where the leader is now.
          await this.lookUpLeader(Math.min(deadline, Date.now() + RELEARN_TIMEOUT_MS), signal);
        }
        return result;
      } catch (raw) {
        const err = toClientError(raw, name, address, signal);
        if (!isRetryable(err)) throw err;
        directed?.failed(err);
        last = err;
        failed = address;
        const answered = isServiceError(raw) && answeredByServer(raw);
        if (answered) lastAnswer = err;
        const hint = leaderHintOf(raw as Partial<grpc.ServiceError>);
        if (!answered) {
          // Nothing answered at this address: avoid it and go through the configured endpoints.
          const wasLeader = address === this.#pool.leader;
          this.#pool.markUnreachable(address);
          if (wasLeader || (route === "leader" && directed === undefined)) {
            viaEndpoints = this.#pool.endpoints.length;
            lookUpLeader = true;
          }
        } else if (directed !== undefined) {
          // The cached leader of the key's range refused: that says nothing of range 1's leader.
        } else if (hint !== undefined && hint !== address) {
          this.#pool.leader = hint;
        } else if (address === this.#pool.leader || route === "leader") {
          this.#pool.leader = undefined;
          lookUpLeader = true;
        }
      }
      const remaining = deadline - Date.now();
      if (remaining < MIN_LAST_ATTEMPT_MS) throw exhausted(name, timeoutMs, last, lastAnswer);
      // A stale cache entry is no reason to wait: the fallback goes at once.
      if (directed !== undefined) continue;
      const delay = Math.min(backoffDelayMs(retries++, this.#random()), remaining);
      try {
        await sleep(delay, signal);
      } catch {
        throw cancelled(name, signal);
      }
      if (deadline - Date.now() < MIN_LAST_ATTEMPT_MS) {
        throw exhausted(name, timeoutMs, last, lastAnswer);
      }
    }
  }

  /**
   * Asks the endpoints, one after the other, for the cluster status and records the leader's
   * client address (unknown when the answering node knows no leader).
   *
   * @param deadline when to give up (ms since the epoch)
   * @param signal cancels the lookup
   * @param avoid an endpoint to ask last (it just failed)
   * @returns whether any endpoint answered
   */
  async lookUpLeader(deadline: number, signal?: AbortSignal, avoid?: string): Promise<boolean> {
    this.#lastLookup = Date.now();
    const endpoints = this.#pool.endpoints;
    const order = [
      ...endpoints.filter((e) => e !== avoid),
      ...endpoints.filter((e) => e === avoid),
    ];
    for (const address of order) {
      if (signal?.aborted || Date.now() >= deadline || this.#pool.closed) return false;
      try {
        const status = await callUnary(
          this.#pool.client(address),
          RANGEDB_METHODS.ClusterStatus,
          create(ClusterStatusRequestSchema),
          deadline,
          signal,
        );
        const leader = status.nodes.find((n) => n.leader && n.clientAddress !== "");
        this.#pool.leader = leader?.clientAddress;
        return true;
      } catch {
        // The next endpoint may answer.
      }
    }
    return false;
  }
}

function cancelled(name: string, signal?: AbortSignal): CancelledError {
  return new CancelledError(
    ErrorCode.CANCELLED,
    `Cannot finish ${name} as the caller cancelled it`,
    {
      cause: signal?.reason,
    },
  );
}

/**
 * Converts whatever an attempt threw to a {@linkcode RangeDbClientError}.
 *
 * @param raw the thrown value
 * @param name the operation
 * @param address the endpoint tried
 * @param signal the call's signal (an abort wins over the status it caused)
 * @returns the typed error
 */
export function toClientError(
  raw: unknown,
  name: string,
  address: string,
  signal?: AbortSignal,
): RangeDbClientError {
  if (signal?.aborted) return cancelled(name, signal);
  if (raw instanceof RangeDbClientError) return raw;
  if (isServiceError(raw)) return fromServiceError(raw, address);
  return new RangeDbClientError(
    ErrorCode.INTERNAL,
    `Cannot finish ${name} as the client failed: ${raw instanceof Error ? raw.message : raw}`,
    { endpoint: address, cause: raw },
  );
}

/**
 * The error of a call whose time ran out: TimeoutError when the last status a server sent was
 * DEADLINE_EXCEEDED, else UnavailableError (a server refused, or none ever answered).
 */
function exhausted(
  name: string,
  timeoutMs: number,
  last: RangeDbClientError | undefined,
  lastAnswer: RangeDbClientError | undefined,
): RangeDbClientError {
  const options = { grpcCode: last?.grpcCode, endpoint: last?.endpoint, cause: last };
  if (lastAnswer?.code === ErrorCode.TIMEOUT) {
    return new TimeoutError(
      ErrorCode.TIMEOUT,
      `Cannot finish ${name} as its ${timeoutMs} ms timeout passed: last endpoint was ${lastAnswer.endpoint}, last error: ${lastAnswer.message}`,
      { grpcCode: lastAnswer.grpcCode, endpoint: lastAnswer.endpoint, cause: lastAnswer },
    );
  }
  // A server's answer says why (a full disk, no quorum) better than a refused connection after it.
  const answer = lastAnswer !== undefined && lastAnswer !== last
    ? `; last answer: ${lastAnswer.message}`
    : "";
  return new UnavailableError(
    ErrorCode.UNAVAILABLE,
    `Cannot finish ${name} as no endpoint could serve it within its ${timeoutMs} ms timeout: last error: ${last?.message}${answer}`,
    options,
  );
}
