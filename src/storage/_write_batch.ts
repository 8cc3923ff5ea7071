/**
 * The write batch shared by both engines: an ordered list of operations, validated when the
 * engine applies it so that a malformed operation aborts the whole batch.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { type Keyspace, KEYSPACES, MAX_ENGINE_KEY_BYTES, type WriteBatch } from "./engine.ts";
import { compareBytes } from "../base/key_encoding.ts";

/** One collected operation. `end` is set for deleteRange only, `value` for put only. */
export type BatchOp =
  | { kind: "put"; keyspace: Keyspace; key: Uint8Array; value: Uint8Array }
  | { kind: "delete"; keyspace: Keyspace; key: Uint8Array }
  | { kind: "deleteRange"; keyspace: Keyspace; key: Uint8Array; end: Uint8Array };

const KEYSPACE_SET: ReadonlySet<string> = new Set(KEYSPACES);

/**
 * Operations in the order they were added. Holds references to the caller's arrays: they must
 * not be modified until the engine's `write()` has resolved.
 */
export class OpWriteBatch implements WriteBatch {
  /** The operations, in order. */
  readonly ops: BatchOp[] = [];
  #byteSize = 0;

  /**
   * @param owner the engine that created the batch; `write()` accepts only its own batches
   */
  constructor(readonly owner: object) {}

  put(keyspace: Keyspace, key: Uint8Array, value: Uint8Array): void {
    this.ops.push({ kind: "put", keyspace, key, value });
    this.#byteSize += key.length + value.length;
  }

  delete(keyspace: Keyspace, key: Uint8Array): void {
    this.ops.push({ kind: "delete", keyspace, key });
    this.#byteSize += key.length;
  }

  deleteRange(keyspace: Keyspace, start: Uint8Array, end: Uint8Array): void {
    this.ops.push({ kind: "deleteRange", keyspace, key: start, end });
    this.#byteSize += start.length + end.length;
  }

  get count(): number {
    return this.ops.length;
  }

  get byteSize(): number {
    return this.#byteSize;
  }
}

/**
 * Returns `batch` as an {@linkcode OpWriteBatch} of `owner`.
 *
 * @throws {RangeDbError} INVALID_ARGUMENT when the batch came from elsewhere
 */
export function ownBatch(batch: WriteBatch, owner: object): OpWriteBatch {
  if (!(batch instanceof OpWriteBatch) || batch.owner !== owner) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      "Cannot write batch as it was not created by this engine's batch()",
    );
  }
  return batch;
}

/**
 * Checks one operation before it is applied.
 *
 * @param op the operation
 * @param index its position in the batch, for the message
 * @throws {RangeDbError} INVALID_ARGUMENT on an unknown keyspace, an empty or oversized key, or
 * a deleteRange whose start is after its end
 */
export function checkOp(op: BatchOp, index: number): void {
  if (!KEYSPACE_SET.has(op.keyspace)) {
    throw invalid(op, index, `keyspace ${String(op.keyspace)} is unknown`);
  }
  checkKey(op, index, op.key);
  if (op.kind === "put" && !(op.value instanceof Uint8Array)) {
    throw invalid(op, index, "value is not a Uint8Array");
  }
  if (op.kind === "deleteRange") {
    checkKey(op, index, op.end);
    if (compareBytes(op.key, op.end) > 0) throw invalid(op, index, "start is after end");
  }
}

function checkKey(op: BatchOp, index: number, key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) throw invalid(op, index, "key is not a Uint8Array");
  if (key.length === 0) throw invalid(op, index, "key is empty");
  if (key.length > MAX_ENGINE_KEY_BYTES) {
    throw invalid(op, index, `key is ${key.length} bytes, limit is ${MAX_ENGINE_KEY_BYTES} bytes`);
  }
}

function invalid(op: BatchOp, index: number, fact: string): RangeDbError {
  return new RangeDbError(
    ErrorCode.INVALID_ARGUMENT,
    `Cannot write batch as operation ${index} (${op.kind} in ${
      String(op.keyspace)
    }) is malformed: ${fact}`,
    { details: { index, kind: op.kind, keyspace: op.keyspace } },
  );
}
