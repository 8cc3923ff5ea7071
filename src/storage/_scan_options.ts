/**
 * Validation of {@linkcode ScanOptions} and of the open/closed state, shared by both engines.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { ScanOptions } from "./engine.ts";

/** Scan options with defaults applied. `limit` is Infinity when unlimited. */
export interface ResolvedScan {
  start: Uint8Array | undefined;
  end: Uint8Array | undefined;
  reverse: boolean;
  limit: number;
}

/**
 * Applies the defaults of `options`.
 *
 * @throws {RangeDbError} INVALID_ARGUMENT when limit is not a non-negative integer or a bound is
 * not a Uint8Array
 */
export function resolveScan(options: ScanOptions | undefined): ResolvedScan {
  const start = options?.start;
  const end = options?.end;
  const limit = options?.limit ?? Infinity;
  if (limit !== Infinity && (!Number.isInteger(limit) || limit < 0)) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot scan as the limit is not a non-negative integer: limit is ${limit}`,
    );
  }
  if (
    (start !== undefined && !(start instanceof Uint8Array)) ||
    (end !== undefined && !(end instanceof Uint8Array))
  ) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      "Cannot scan as a bound is not a Uint8Array",
    );
  }
  return { start, end, reverse: options?.reverse ?? false, limit };
}

/**
 * The error of any call on a closed engine or snapshot.
 *
 * @param action what was attempted, e.g. "read key"
 * @param what "engine" or "snapshot"
 */
export function closedError(action: string, what: "engine" | "snapshot"): RangeDbError {
  return new RangeDbError(
    ErrorCode.FAILED_PRECONDITION,
    `Cannot ${action} as the ${what} is closed`,
  );
}
