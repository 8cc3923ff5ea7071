/**
 * Validation of client KV requests before they reach the store: keys in the user keyspace
 * (starting with "/"; "_/" is written only through admin commands), size limits, scan bounds,
 * batches (at most {@linkcode MAX_BATCH_OPS} operations and {@linkcode MAX_BATCH_BYTES} of keys and
 * values), compare-and-swap shapes and request ids (at most {@linkcode MAX_REQUEST_ID_BYTES}). Every refusal is INVALID_ARGUMENT with a message naming
 * the rule.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import {
  DEFAULT_KEY_LIMITS,
  type KeyLimits,
  MAX_BATCH_BYTES,
  MAX_BATCH_OPS,
  MAX_REQUEST_ID_BYTES,
  validateValue,
} from "../base/key_limits.ts";
import { compareBytes } from "../base/key_encoding.ts";
import type { WriteOp } from "../kv/kv_store.ts";
import type {
  BatchOp,
  CompareAndSwapRequest,
  RangeRequest,
} from "../../proto/gen/rangedb/v1/kv_pb.ts";

const SLASH = 0x2f;
const UNDERSCORE = 0x5f;

/** The first key of the user keyspace. */
export const USER_SPACE_START: Uint8Array = Uint8Array.of(SLASH);
/** The exclusive end of the user keyspace ("/" + 1). */
export const USER_SPACE_END: Uint8Array = Uint8Array.of(SLASH + 1);

/** Shows a key in messages: text when printable, else hex; long keys are cut. */
function describeKey(key: Uint8Array): string {
  const head = key.subarray(0, 64);
  const printable = head.every((b) => b >= 0x20 && b < 0x7f);
  const shown = printable
    ? String.fromCharCode(...head)
    : "0x" + Array.from(head, (b) => b.toString(16).padStart(2, "0")).join("");
  return key.length > head.length ? `${shown}…` : shown;
}

function invalid(message: string, details?: Record<string, unknown>): RangeDbError {
  return new RangeDbError(ErrorCode.INVALID_ARGUMENT, message, { details });
}

/**
 * Throws unless `key` is a user key within the size limit.
 *
 * @param key the key
 * @param action "read" or "write", the verb of the message
 * @param limits the size limits
 * @throws {RangeDbError} INVALID_ARGUMENT naming the broken rule
 */
export function validateUserKey(
  key: Uint8Array,
  action: "read" | "write",
  limits: Readonly<KeyLimits> = DEFAULT_KEY_LIMITS,
): void {
  if (key.length === 0) throw invalid(`Cannot ${action} key as it is empty`);
  if (key[0] === UNDERSCORE && key[1] === SLASH) {
    throw invalid(
      `Cannot ${action} key as the system keyspace '_/' is ${
        action === "write" ? "written" : "read"
      } only through admin commands: key is ${describeKey(key)}`,
    );
  }
  if (key[0] !== SLASH) {
    throw invalid(`Cannot ${action} key as it does not start with '/': key is ${describeKey(key)}`);
  }
  if (key.length > limits.maxKeyBytes) {
    throw invalid(
      `Cannot ${action} key as it exceeds the maximum key size: key is ${key.length} bytes, limit is ${limits.maxKeyBytes} bytes`,
      { size: key.length, limit: limits.maxKeyBytes },
    );
  }
}

/**
 * Throws unless `value` is within the size limit.
 *
 * @throws {RangeDbError} INVALID_ARGUMENT naming the limit
 */
export function validateUserValue(
  value: Uint8Array,
  limits: Readonly<KeyLimits> = DEFAULT_KEY_LIMITS,
): void {
  validateValue(value, limits);
}

/** Validated bounds of a scan. `end` empty stands for the end of the user keyspace. */
export interface ScanBounds {
  start: Uint8Array;
  end: Uint8Array;
}

/**
 * Resolves the bounds of a Range request: empty start is "/", empty end the end of the user
 * keyspace; both must lie in the user keyspace and start must not be after end.
 *
 * @throws {RangeDbError} INVALID_ARGUMENT naming the bad bound
 */
export function scanBounds(
  req: Pick<RangeRequest, "start" | "end">,
  limits: Readonly<KeyLimits> = DEFAULT_KEY_LIMITS,
): ScanBounds {
  const start = req.start.length === 0 ? USER_SPACE_START : req.start;
  if (start[0] !== SLASH) {
    throw invalid(
      `Cannot scan as the start key does not start with '/': start is ${describeKey(start)}`,
    );
  }
  const end = req.end;
  const effectiveEnd = end.length === 0 ? USER_SPACE_END : end;
  if (compareBytes(effectiveEnd, USER_SPACE_END) > 0) {
    throw invalid(
      `Cannot scan as the end key is past the user keyspace: end is ${
        describeKey(end)
      }, keys start with '/'`,
    );
  }
  for (const [name, key] of [["start", start], ["end", end]] as const) {
    if (key.length > limits.maxKeyBytes) {
      throw invalid(
        `Cannot scan as the ${name} key exceeds the maximum key size: key is ${key.length} bytes, limit is ${limits.maxKeyBytes} bytes`,
      );
    }
  }
  if (compareBytes(start, effectiveEnd) > 0) {
    throw invalid(
      `Cannot scan as the start key is after the end key: start is ${describeKey(start)}, end is ${
        describeKey(effectiveEnd)
      }`,
    );
  }
  return { start, end };
}

/**
 * Converts and validates the operations of a Batch request.
 *
 * @throws {RangeDbError} INVALID_ARGUMENT for an empty batch, one over {@linkcode MAX_BATCH_OPS}
 *   operations or {@linkcode MAX_BATCH_BYTES} of keys and values, an operation without a kind, or
 *   a bad key or value (the message names the operation's position)
 */
export function batchOps(
  ops: readonly BatchOp[],
  limits: Readonly<KeyLimits> = DEFAULT_KEY_LIMITS,
): WriteOp[] {
  if (ops.length === 0) throw invalid("Cannot write batch as it has no operations");
  if (ops.length > MAX_BATCH_OPS) {
    throw invalid(
      `Cannot write batch as it exceeds the maximum number of operations: batch has ${ops.length} operations, limit is ${MAX_BATCH_OPS}`,
      { size: ops.length, limit: MAX_BATCH_OPS },
    );
  }
  let bytes = 0;
  for (const op of ops) {
    if (op.op.case === "put") bytes += op.op.value.key.length + op.op.value.value.length;
    else if (op.op.case === "delete") bytes += op.op.value.key.length;
  }
  if (bytes > MAX_BATCH_BYTES) {
    throw invalid(
      `Cannot write batch as it exceeds the maximum batch size: keys and values are ${bytes} bytes, limit is ${MAX_BATCH_BYTES} bytes`,
      { size: bytes, limit: MAX_BATCH_BYTES },
    );
  }
  return ops.map((op, i): WriteOp => {
    try {
      switch (op.op.case) {
        case "put":
          validateUserKey(op.op.value.key, "write", limits);
          validateUserValue(op.op.value.value, limits);
          return { type: "put", key: op.op.value.key, value: op.op.value.value };
        case "delete":
          validateUserKey(op.op.value.key, "write", limits);
          return { type: "delete", key: op.op.value.key };
        default:
          throw invalid("Cannot write batch operation as it is neither put nor delete");
      }
    } catch (err) {
      if (!(err instanceof RangeDbError)) throw err;
      throw invalid(`${err.message} (operation ${i})`, { ...err.details, operation: i });
    }
  });
}

/**
 * Validates a CompareAndSwap request: a user key, a value and an expected value within the value
 * limit, and not both `expect_absent` and a non-empty `expected`.
 *
 * @throws {RangeDbError} INVALID_ARGUMENT naming the broken rule
 */
export function validateCompareAndSwap(
  req: CompareAndSwapRequest,
  limits: Readonly<KeyLimits> = DEFAULT_KEY_LIMITS,
): void {
  validateUserKey(req.key, "write", limits);
  validateUserValue(req.value, limits);
  if (req.expected.length > limits.maxValueBytes) {
    throw invalid(
      `Cannot compare and swap as the expected value exceeds the maximum value size: expected is ${req.expected.length} bytes, limit is ${limits.maxValueBytes} bytes`,
      { size: req.expected.length, limit: limits.maxValueBytes },
    );
  }
  if (req.expectAbsent && req.expected.length > 0) {
    throw invalid(
      `Cannot compare and swap as expect_absent contradicts a non-empty expected value: expected is ${req.expected.length} bytes`,
    );
  }
}

/**
 * Throws unless a write's request id (idempotency key) is at most
 * {@linkcode MAX_REQUEST_ID_BYTES} long in UTF-8.
 *
 * @throws {RangeDbError} INVALID_ARGUMENT naming the limit
 */
export function validateRequestId(requestId: string): void {
  // A UTF-8 encoding is at most 3 bytes per UTF-16 unit: skip the encoding for short ids.
  if (requestId.length * 3 <= MAX_REQUEST_ID_BYTES) return;
  const bytes = new TextEncoder().encode(requestId).length;
  if (bytes > MAX_REQUEST_ID_BYTES) {
    throw invalid(
      `Cannot write as the request id exceeds the maximum size: request id is ${bytes} bytes, limit is ${MAX_REQUEST_ID_BYTES} bytes`,
      { size: bytes, limit: MAX_REQUEST_ID_BYTES },
    );
  }
}
