/**
 * The one place where {@linkcode RangeDbError} codes become gRPC status codes, and back (a node
 * that forwarded a request turns the leader's status into the error it would have raised).
 *
 * Trailing metadata `rangedb-error-code` carries RangeDB's own reason, so clients can tell
 * NOT_LEADER from other UNAVAILABLE failures; `rangedb-leader-client-address` names the leader's
 * client address when it is known; `rangedb-error-details` carries the error's plain details
 * (numbers, booleans, strings: `leaderNodeId`, `rangeId`, `ambiguous` …) as JSON, so that a node
 * that forwarded a request learns, say, which node leads the range on the other side.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { Logger } from "../base/logger.ts";

/** Trailing metadata key holding the {@linkcode ErrorCode}. */
export const ERROR_CODE_KEY = "rangedb-error-code";
/** Trailing metadata key holding the leader's client address. */
export const LEADER_CLIENT_ADDRESS_KEY = "rangedb-leader-client-address";
/** Trailing metadata key holding the error's plain details as JSON. */
export const ERROR_DETAILS_KEY = "rangedb-error-details";

/** Details that describe the receiving side's own call and never cross the wire. */
const LOCAL_DETAILS = new Set(["grpcCode", "transport", "leaderClientAddress"]);

/** The details of `err` worth sending: plain values only (no bytes, no nested objects). */
function plainDetails(details: Record<string, unknown>): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  for (const [name, value] of Object.entries(details)) {
    if (LOCAL_DETAILS.has(name)) continue;
    const t = typeof value;
    if (t !== "number" && t !== "boolean" && t !== "string") continue;
    if (t === "number" && !Number.isFinite(value)) continue;
    (out ??= {})[name] = value;
  }
  return out;
}

/** The details sent by the other side, or an empty object when none (or unreadable). */
function receivedDetails(metadata: grpc.Metadata | undefined): Record<string, unknown> {
  const sent = metadata?.get(ERROR_DETAILS_KEY)[0];
  if (typeof sent !== "string") return {};
  try {
    const parsed = JSON.parse(sent);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

const TO_GRPC: Readonly<Record<ErrorCode, grpc.status>> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  NOT_LEADER: grpc.status.UNAVAILABLE,
  RANGE_NOT_FOUND: grpc.status.UNAVAILABLE,
  RANGE_MOVED: grpc.status.UNAVAILABLE,
  LOCKED: grpc.status.UNAVAILABLE,
  TXN_CONFLICT: grpc.status.ABORTED,
  TIMEOUT: grpc.status.DEADLINE_EXCEEDED,
  CANCELLED: grpc.status.CANCELLED,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  CORRUPTION: grpc.status.INTERNAL,
  UNSUPPORTED_FORMAT: grpc.status.FAILED_PRECONDITION,
  INTERNAL: grpc.status.INTERNAL,
};

/** For statuses without RangeDB metadata (transport failures, other servers). */
const FROM_GRPC: ReadonlyMap<grpc.status, ErrorCode> = new Map([
  [grpc.status.INVALID_ARGUMENT, ErrorCode.INVALID_ARGUMENT],
  [grpc.status.OUT_OF_RANGE, ErrorCode.INVALID_ARGUMENT],
  [grpc.status.NOT_FOUND, ErrorCode.NOT_FOUND],
  [grpc.status.ALREADY_EXISTS, ErrorCode.ALREADY_EXISTS],
  [grpc.status.ABORTED, ErrorCode.TXN_CONFLICT],
  [grpc.status.DEADLINE_EXCEEDED, ErrorCode.TIMEOUT],
  [grpc.status.CANCELLED, ErrorCode.CANCELLED],
  [grpc.status.FAILED_PRECONDITION, ErrorCode.FAILED_PRECONDITION],
  [grpc.status.UNAVAILABLE, ErrorCode.UNAVAILABLE],
  [grpc.status.RESOURCE_EXHAUSTED, ErrorCode.UNAVAILABLE],
]);

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/**
 * The gRPC status code of a RangeDB error code.
 *
 * @param code the RangeDB code
 * @returns the gRPC status code
 */
export function grpcStatusOf(code: ErrorCode): grpc.status {
  return TO_GRPC[code];
}

/** Options of {@linkcode toServiceError}. */
export interface ToServiceErrorOptions {
  /** The leader's client address, sent as trailing metadata when known. */
  leaderClientAddress?: string;
  /** Where errors that are not RangeDbErrors are logged (they are bugs). */
  logger?: Logger;
}

/**
 * Converts any thrown value into a status for a grpc-js callback or `call.emit("error", …)`.
 * RangeDbErrors keep their message; anything else becomes INTERNAL with its message, logged.
 *
 * @param err the thrown value
 * @param options leader address and logger
 * @returns an Error carrying `code`, `details` and trailing `metadata`
 */
export function toServiceError(
  err: unknown,
  options: ToServiceErrorOptions = {},
): grpc.ServerErrorResponse & { code: grpc.status; metadata: grpc.Metadata } {
  const metadata = new grpc.Metadata();
  let code: ErrorCode;
  let message: string;
  if (err instanceof RangeDbError) {
    code = err.code;
    message = err.message;
    const details = plainDetails(err.details);
    if (details !== undefined) metadata.set(ERROR_DETAILS_KEY, JSON.stringify(details));
  } else {
    code = ErrorCode.INTERNAL;
    message = err instanceof Error ? err.message : String(err);
    options.logger?.error("rpc internal error", {
      err: message,
      stack: err instanceof Error ? err.stack : undefined,
    });
  }
  metadata.set(ERROR_CODE_KEY, code);
  if (options.leaderClientAddress !== undefined && options.leaderClientAddress !== "") {
    metadata.set(LEADER_CLIENT_ADDRESS_KEY, options.leaderClientAddress);
  }
  const out = new Error(message) as grpc.ServerErrorResponse & {
    code: grpc.status;
    metadata: grpc.Metadata;
  };
  out.code = TO_GRPC[code];
  out.details = message;
  out.metadata = metadata;
  return out;
}

/**
 * Converts a status received from another node into the RangeDbError it stands for: the code
 * from `rangedb-error-code` when present, otherwise from the gRPC status. `details.grpcCode` is
 * the received status, `details.leaderClientAddress` the leader's address when sent, and
 * `details.transport` is true when the status did not come from a RangeDB handler (connection
 * failures, deadlines enforced by grpc itself); the sender's plain details come along.
 *
 * @param err the error of a grpc-js client call
 * @returns the equivalent RangeDbError
 */
export function fromServiceError(err: unknown): RangeDbError {
  const se = err as Partial<grpc.ServiceError>;
  const grpcCode = typeof se.code === "number" ? se.code : grpc.status.UNKNOWN;
  const message = se.details ?? (err instanceof Error ? err.message : String(err));
  const sent = se.metadata?.get(ERROR_CODE_KEY)[0];
  const leader = se.metadata?.get(LEADER_CLIENT_ADDRESS_KEY)[0];
  const fromRangeDb = typeof sent === "string" && KNOWN_CODES.has(sent);
  const code = fromRangeDb ? sent as ErrorCode : FROM_GRPC.get(grpcCode) ?? ErrorCode.INTERNAL;
  const details: Record<string, unknown> = fromRangeDb ? receivedDetails(se.metadata) : {};
  details.grpcCode = grpcCode;
  details.transport = !fromRangeDb;
  if (typeof leader === "string") details.leaderClientAddress = leader;
  return new RangeDbError(code, message, { cause: err, details });
}
