/**
 * Validation of keys and values before anything is written. A key is non-empty, starts with `/`
 * (user keyspace) or `_/` (system keyspace) and is at most `maxKeyBytes` long; a value is at
 * most `maxValueBytes` long. Refusals are {@linkcode RangeDbError}s with code INVALID_ARGUMENT
 * whose message names the limit.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "./errors.ts";

/** Default of {@linkcode KeyLimits.maxKeyBytes}. */
export const DEFAULT_MAX_KEY_BYTES = 4096;

/** Default of {@linkcode KeyLimits.maxValueBytes} (8 MiB). */
export const DEFAULT_MAX_VALUE_BYTES = 8 * 1024 * 1024;

/** Most operations in one client batch. */
export const MAX_BATCH_OPS = 10_000;

/** Most bytes of keys and values together in one client batch (16 MiB). */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;

/** Longest client request id (idempotency key), in UTF-8 bytes. */
export const MAX_REQUEST_ID_BYTES = 128;

/** Size limits of keys and values. */
export interface KeyLimits {
  /** Largest key, in bytes. @default {4096} */
  maxKeyBytes: number;
  /** Largest value, in bytes. @default {8388608} */
  maxValueBytes: number;
}

/** The default limits. */
export const DEFAULT_KEY_LIMITS: Readonly<KeyLimits> = Object.freeze({
  maxKeyBytes: DEFAULT_MAX_KEY_BYTES,
  maxValueBytes: DEFAULT_MAX_VALUE_BYTES,
});

const SLASH = 0x2f;
const UNDERSCORE = 0x5f;

/**
 * Throws unless `key` may be written.
 *
 * @param key the key
 * @param limits the limits in force
 * @throws {RangeDbError} INVALID_ARGUMENT when the key is empty, outside the `/` and `_/`
 * keyspaces, or longer than `limits.maxKeyBytes`
 *
 * @example
 * ```ts
 * import { validateKey } from "./key_limits.ts";
 * validateKey(new TextEncoder().encode("/user/123")); // ok
 * ```
 */
export function validateKey(
  key: Uint8Array,
  limits: Readonly<KeyLimits> = DEFAULT_KEY_LIMITS,
): void {
  if (key.length === 0) {
    throw new RangeDbError(ErrorCode.INVALID_ARGUMENT, "Cannot write key as it is empty");
  }
  if (key[0] !== SLASH && !(key[0] === UNDERSCORE && key[1] === SLASH)) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot write key as it does not start with / or _/: key starts with ${describeStart(key)}`,
    );
  }
  if (key.length > limits.maxKeyBytes) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot write key as it exceeds the maximum key size: key is ${key.length} bytes, limit is ${limits.maxKeyBytes} bytes`,
      { details: { size: key.length, limit: limits.maxKeyBytes } },
    );
  }
}

/**
 * Throws unless `value` may be written.
 *
 * @param value the value
 * @param limits the limits in force
 * @throws {RangeDbError} INVALID_ARGUMENT when the value is longer than `limits.maxValueBytes`
 */
export function validateValue(
  value: Uint8Array,
  limits: Readonly<KeyLimits> = DEFAULT_KEY_LIMITS,
): void {
  if (value.length > limits.maxValueBytes) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot write value as it exceeds the maximum value size: value is ${value.length} bytes, limit is ${limits.maxValueBytes} bytes`,
      { details: { size: value.length, limit: limits.maxValueBytes } },
    );
  }
}

/** Shows the first bytes of a refused key: as text when printable, else as hex. */
function describeStart(key: Uint8Array): string {
  const head = key.subarray(0, 16);
  const printable = head.every((b) => b >= 0x20 && b < 0x7f);
  const shown = printable
    ? JSON.stringify(String.fromCharCode(...head))
    : "0x" + Array.from(head, (b) => b.toString(16).padStart(2, "0")).join("");
  return key.length > head.length ? `${shown}…` : shown;
}
