/**
 * The SDK's retry policy, as pure functions: which answers are worth another attempt, how long
 * to back off before it, and how long one attempt may take within the call's deadline.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { ErrorCode } from "../base/errors.ts";
import type { RangeDbClientError } from "./client_errors.ts";

/** First backoff delay. */
export const INITIAL_BACKOFF_MS = 50;
/** Largest backoff delay. */
export const MAX_BACKOFF_MS = 1_000;
/** Shortest per-attempt deadline (unless the call has less time left). */
export const MIN_ATTEMPT_TIMEOUT_MS = 1_000;

/**
 * The delay before retry number `attempt` (0 for the first retry): 50 ms doubling to 1 s, with
 * "equal jitter" (between half and all of the step), so that clients that failed together do not
 * retry together.
 *
 * @param attempt how many retries came before this one
 * @param random a number in [0, 1)
 * @returns milliseconds to wait
 *
 * @example
 * ```ts
 * import { backoffDelayMs } from "./client_retry.ts";
 * backoffDelayMs(0, 0); // 25
 * backoffDelayMs(10, 0.999); // just under 1000
 * ```
 */
export function backoffDelayMs(attempt: number, random: number): number {
  const step = Math.min(MAX_BACKOFF_MS, INITIAL_BACKOFF_MS * 2 ** Math.min(attempt, 16));
  return Math.floor(step / 2 + random * (step / 2));
}

/** Codes after which another endpoint (or the same one later) may well succeed. */
const RETRYABLE_CODES = new Set<ErrorCode>([
  ErrorCode.UNAVAILABLE,
  ErrorCode.NOT_LEADER,
  ErrorCode.RANGE_NOT_FOUND,
  ErrorCode.RANGE_MOVED,
  ErrorCode.LOCKED,
  ErrorCode.TIMEOUT,
]);

/**
 * Whether an attempt that failed with `err` should be tried again. Writes are retried too:
 * they carry a request id that the server deduplicates. A cancellation by the caller is final,
 * as are INVALID_ARGUMENT, FAILED_PRECONDITION and every other refusal.
 *
 * @param err the attempt's error
 * @returns true when a retry may succeed
 */
export function isRetryable(err: RangeDbClientError): boolean {
  if (err.code === ErrorCode.CANCELLED) return false;
  if (RETRYABLE_CODES.has(err.code)) return true;
  // A connection torn down mid-call surfaces from grpc-js as INTERNAL with an RST_STREAM.
  return err.grpcCode === grpc.status.INTERNAL && /RST_STREAM/i.test(err.message);
}

/**
 * The deadline of one attempt: half the call's budget (at least 1 s), never past the call's
 * deadline, so that a hung endpoint leaves time to try another.
 *
 * @param now the current time (ms since the epoch)
 * @param callDeadline when the whole call must be done (ms since the epoch)
 * @param callTimeoutMs the call's whole budget
 * @returns the attempt's deadline (ms since the epoch)
 */
export function attemptDeadline(now: number, callDeadline: number, callTimeoutMs: number): number {
  const attemptMs = Math.max(MIN_ATTEMPT_TIMEOUT_MS, Math.ceil(callTimeoutMs / 2));
  return Math.min(callDeadline, now + attemptMs);
}
