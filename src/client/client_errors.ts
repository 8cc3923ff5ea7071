/**
 * Typed errors of the SDK. Every failure of a client call is a {@linkcode RangeDbClientError}
 * (a {@linkcode RangeDbError}) whose `code` is RangeDB's reason: the `rangedb-error-code` trailer
 * of the answer when the server sent one, else mapped from the gRPC status. Subclasses name the
 * failures callers commonly handle apart.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, RangeDbError } from "../base/errors.ts";

/** The trailer that carries RangeDB's own error code. */
export const ERROR_CODE_TRAILER = "rangedb-error-code";
/** The trailer that names the leader's client address when the answering node knows it. */
export const LEADER_TRAILER = "rangedb-leader-client-address";

/** Options of {@linkcode RangeDbClientError}. */
export interface RangeDbClientErrorOptions {
  /** The gRPC status code of the answer, if the error came from one. */
  grpcCode?: grpc.status;
  /** The endpoint that answered, if any. */
  endpoint?: string;
  /** The lower-level error. */
  cause?: unknown;
}

/**
 * A failed client call.
 *
 * @example
 * ```ts
 * import { connect, RangeDbClientError } from "./mod.ts";
 * const db = await connect({ endpoints: ["127.0.0.1:7081"] });
 * try {
 *   await db.put("no-slash", "x");
 * } catch (err) {
 *   if (err instanceof RangeDbClientError) console.log(err.code); // "INVALID_ARGUMENT"
 * } finally {
 *   db.close();
 * }
 * ```
 */
export class RangeDbClientError extends RangeDbError {
  override name = "RangeDbClientError";
  /** The gRPC status code of the answer; undefined when the error arose in the client. */
  readonly grpcCode: grpc.status | undefined;
  /** The endpoint whose answer this is, if any. */
  readonly endpoint: string | undefined;

  /**
   * @param code RangeDB's reason
   * @param message what failed, in sentence case
   * @param options gRPC code, endpoint and cause
   */
  constructor(code: ErrorCode, message: string, options: RangeDbClientErrorOptions = {}) {
    super(code, message, { cause: options.cause });
    this.grpcCode = options.grpcCode;
    this.endpoint = options.endpoint;
  }
}

/** The request is malformed (a key outside `/`, a `_/` key, a value over the limit). */
export class InvalidArgumentError extends RangeDbClientError {
  override name = "InvalidArgumentError";
}

/** No endpoint could serve the call before its deadline (no quorum, all nodes down). */
export class UnavailableError extends RangeDbClientError {
  override name = "UnavailableError";
}

/** The call's deadline passed while endpoints were reachable; a write may or may not have applied. */
export class TimeoutError extends RangeDbClientError {
  override name = "TimeoutError";
}

/** The caller's `AbortSignal` cancelled the call; a write may or may not have applied. */
export class CancelledError extends RangeDbClientError {
  override name = "CancelledError";
}

const STATUS_TO_CODE: Partial<Record<grpc.status, ErrorCode>> = {
  [grpc.status.INVALID_ARGUMENT]: ErrorCode.INVALID_ARGUMENT,
  [grpc.status.OUT_OF_RANGE]: ErrorCode.INVALID_ARGUMENT,
  [grpc.status.RESOURCE_EXHAUSTED]: ErrorCode.INVALID_ARGUMENT,
  [grpc.status.NOT_FOUND]: ErrorCode.NOT_FOUND,
  [grpc.status.ALREADY_EXISTS]: ErrorCode.ALREADY_EXISTS,
  [grpc.status.ABORTED]: ErrorCode.TXN_CONFLICT,
  [grpc.status.DEADLINE_EXCEEDED]: ErrorCode.TIMEOUT,
  [grpc.status.CANCELLED]: ErrorCode.CANCELLED,
  [grpc.status.FAILED_PRECONDITION]: ErrorCode.FAILED_PRECONDITION,
  [grpc.status.UNIMPLEMENTED]: ErrorCode.FAILED_PRECONDITION,
  [grpc.status.UNAVAILABLE]: ErrorCode.UNAVAILABLE,
  [grpc.status.DATA_LOSS]: ErrorCode.CORRUPTION,
};

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/**
 * RangeDB's reason for a gRPC status: the trailer when it names a known code, else the mapping
 * of the status code (INTERNAL for anything unmapped).
 *
 * @param grpcCode the status code
 * @param trailerCode the `rangedb-error-code` trailer, if any
 * @returns the error code
 */
export function errorCodeOf(grpcCode: grpc.status, trailerCode?: string): ErrorCode {
  if (trailerCode !== undefined && KNOWN_CODES.has(trailerCode)) return trailerCode as ErrorCode;
  return STATUS_TO_CODE[grpcCode] ?? ErrorCode.INTERNAL;
}

function firstString(metadata: grpc.Metadata | undefined, key: string): string | undefined {
  const value = metadata?.get(key)[0];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * The leader's client address named by an answer's trailers, if any.
 *
 * @param err a gRPC error
 * @returns the address, or undefined
 */
export function leaderHintOf(err: Partial<grpc.ServiceError>): string | undefined {
  return firstString(err.metadata, LEADER_TRAILER);
}

/**
 * Whether `value` looks like a grpc-js `ServiceError` (a status with code and details).
 *
 * @param value any thrown value
 * @returns true for a gRPC status error
 */
export function isServiceError(value: unknown): value is grpc.ServiceError {
  return value instanceof Error && typeof (value as Partial<grpc.ServiceError>).code === "number" &&
    "details" in value;
}

/**
 * Whether a RangeDB server produced this status (it carries the error-code trailer), as opposed to
 * a connection failure or a deadline enforced by the client.
 *
 * @param err a gRPC error
 * @returns true when a server answered
 */
export function answeredByServer(err: Partial<grpc.ServiceError>): boolean {
  return firstString(err.metadata, ERROR_CODE_TRAILER) !== undefined;
}

/**
 * Converts a gRPC status error to the typed error of its code.
 *
 * @param err the grpc-js error
 * @param endpoint the endpoint that answered
 * @returns the typed error, with the server's message
 */
export function fromServiceError(err: grpc.ServiceError, endpoint: string): RangeDbClientError {
  const trailer = firstString(err.metadata, ERROR_CODE_TRAILER);
  const code = errorCodeOf(err.code, trailer);
  const message = trailer === undefined ? transportMessage(err, endpoint) : err.details;
  const options = { grpcCode: err.code, endpoint, cause: err };
  return typedError(code, message, options);
}

/**
 * The message of a status that did not come from a RangeDB server (no error-code trailer):
 * grpc-js's connection failures become "Cannot reach <endpoint>: <reason>".
 *
 * @param err the grpc-js error
 * @param endpoint the endpoint called
 * @returns the message
 */
function transportMessage(err: grpc.ServiceError, endpoint: string): string {
  const lastError = /Last error: (?:Error: )?(.*?)(?:\. Resolution note:.*)?$/s.exec(err.details);
  if (lastError) return `Cannot reach ${endpoint}: ${lastError[1]}`;
  if (err.code === grpc.status.UNAVAILABLE) return `Cannot reach ${endpoint}: ${err.details}`;
  return err.details || `Cannot finish the call as ${endpoint} answered status ${err.code}`;
}

/**
 * Builds the subclass that matches `code` (the base class for codes without one).
 *
 * @param code RangeDB's reason
 * @param message what failed
 * @param options gRPC code, endpoint and cause
 * @returns the typed error
 */
function typedError(
  code: ErrorCode,
  message: string,
  options: RangeDbClientErrorOptions = {},
): RangeDbClientError {
  switch (code) {
    case ErrorCode.INVALID_ARGUMENT:
      return new InvalidArgumentError(code, message, options);
    case ErrorCode.UNAVAILABLE:
      return new UnavailableError(code, message, options);
    case ErrorCode.TIMEOUT:
      return new TimeoutError(code, message, options);
    case ErrorCode.CANCELLED:
      return new CancelledError(code, message, options);
    default:
      return new RangeDbClientError(code, message, options);
  }
}
