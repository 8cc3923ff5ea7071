/**
 * The one error type of RangeDB. Every failure that crosses a module boundary is a
 * {@linkcode RangeDbError} with a {@linkcode ErrorCode}; `src/rpc` alone maps codes to gRPC
 * status codes.
 *
 * Messages follow one shape: the action first, then a colon and the facts, sentence case, no
 * final period ("Cannot write key as it exceeds the maximum key size: key is 5000 bytes, limit is
 * 4096 bytes").
 *
 * @module
 */

/** The machine-readable reason of a {@linkcode RangeDbError}. */
export const ErrorCode = {
  /** The caller sent something malformed or over a limit; retrying the same request fails again. */
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  /** The named thing (key, range, node, backup) does not exist. */
  NOT_FOUND: "NOT_FOUND",
  /** The named thing already exists. */
  ALREADY_EXISTS: "ALREADY_EXISTS",
  /** The request reached a replica that is not the leader of its range. */
  NOT_LEADER: "NOT_LEADER",
  /** No range on the answering node covers the key. */
  RANGE_NOT_FOUND: "RANGE_NOT_FOUND",
  /**
   * The range the request reached no longer holds the key (it split, merged or is frozen for a
   * merge); nothing was applied and the request may be retried at once.
   */
  RANGE_MOVED: "RANGE_MOVED",
  /**
   * A key holds the intent of a batch or transaction that has not been resolved; nothing was
   * written. The server resolves the intent (waiting for it, or through its primary after its TTL)
   * and retries; a client sees it only when that did not finish in time.
   */
  LOCKED: "LOCKED",
  /** A transaction lost a conflict; the whole transaction may be retried. */
  TXN_CONFLICT: "TXN_CONFLICT",
  /** The operation did not finish in time; whether it took effect is unknown. */
  TIMEOUT: "TIMEOUT",
  /** The operation was cancelled by the caller. */
  CANCELLED: "CANCELLED",
  /** The system is not in a state that allows the operation (closed engine, uninitialised node). */
  FAILED_PRECONDITION: "FAILED_PRECONDITION",
  /** A resource is temporarily unavailable (no quorum, shutting down); retry later. */
  UNAVAILABLE: "UNAVAILABLE",
  /** Stored data is unreadable or fails a checksum. Nothing was changed. */
  CORRUPTION: "CORRUPTION",
  /** Stored data was written by a newer, unknown format version. Nothing was changed. */
  UNSUPPORTED_FORMAT: "UNSUPPORTED_FORMAT",
  /** A bug: an invariant did not hold. */
  INTERNAL: "INTERNAL",
} as const;

/** One of the values of {@linkcode ErrorCode}. */
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/** Options of {@linkcode RangeDbError}. */
export interface RangeDbErrorOptions {
  /** The lower-level error that caused this one. */
  cause?: unknown;
  /** Structured facts about the failure (limit, size, range id …), for logs and clients. */
  details?: Record<string, unknown>;
}

/**
 * An error with a machine-readable {@linkcode ErrorCode}.
 *
 * @example
 * ```ts
 * import { ErrorCode, RangeDbError } from "./errors.ts";
 * const err = new RangeDbError(ErrorCode.INVALID_ARGUMENT, "Cannot write key as it is empty");
 * err.code; // "INVALID_ARGUMENT"
 * ```
 */
export class RangeDbError extends Error {
  override name = "RangeDbError";
  /** The machine-readable reason. */
  readonly code: ErrorCode;
  /** Structured facts about the failure. */
  readonly details: Record<string, unknown>;

  /**
   * @param code the machine-readable reason
   * @param message what failed and why, in the shape described in the module doc
   * @param options cause and details
   */
  constructor(code: ErrorCode, message: string, options: RangeDbErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

/**
 * Tells whether `err` is a {@linkcode RangeDbError}, optionally with the given code.
 *
 * @param err any thrown value
 * @param code the code to match, if any
 * @returns true when `err` is a RangeDbError (with that code)
 */
export function isRangeDbError(err: unknown, code?: ErrorCode): err is RangeDbError {
  return err instanceof RangeDbError && (code === undefined || err.code === code);
}
