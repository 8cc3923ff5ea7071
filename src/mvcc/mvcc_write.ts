/**
 * The MVCC write operations and their validation: keys and values against
 * {@linkcode KeyLimits} and the storage engine's key size, timestamps, intent fields. Applying
 * them is `mvcc_batch.ts`'s job.
 *
 * @module
 */

import { type Keyspace, MAX_ENGINE_KEY_BYTES } from "../storage/engine.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import {
  encodedBytesLength,
  type Timestamp,
  UINT64_BYTES,
  validateTimestamp,
} from "../base/key_encoding.ts";
import {
  DEFAULT_KEY_LIMITS,
  type KeyLimits,
  validateKey,
  validateValue,
} from "../base/key_limits.ts";
import { type Intent, validateIntentFields } from "./intent.ts";

/** The keyspace of versions. */
export const DATA_KEYSPACE: Keyspace = "data";

/** The keyspace of intents. */
export const LOCKS_KEYSPACE: Keyspace = "locks";

/** One MVCC write. */
export type MvccWrite =
  /** Writes a version holding `value` at `timestamp`. */
  | { type: "put"; key: Uint8Array; value: Uint8Array; timestamp: Timestamp }
  /** Writes a tombstone at `timestamp`. */
  | { type: "delete"; key: Uint8Array; timestamp: Timestamp }
  /** Writes (or replaces) the intent on `intent.key`. */
  | { type: "putIntent"; intent: Intent }
  /** Removes the intent on `key` (abort, or cleanup after commit). */
  | { type: "removeIntent"; key: Uint8Array }
  /** Turns an intent into a version at `commitTimestamp` and removes it. */
  | { type: "commitIntent"; intent: Intent; commitTimestamp: Timestamp };

/**
 * Throws unless `write` is valid under `limits`.
 *
 * @param write the write
 * @param limits the limits in force
 * @throws {RangeDbError} INVALID_ARGUMENT naming the violated limit
 */
export function validateMvccWrite(
  write: MvccWrite,
  limits: Readonly<KeyLimits> = DEFAULT_KEY_LIMITS,
): void {
  switch (write.type) {
    case "put":
      validateMvccKey(write.key, limits);
      validateValue(write.value, limits);
      validateTimestamp(write.timestamp);
      return;
    case "delete":
      validateMvccKey(write.key, limits);
      validateTimestamp(write.timestamp);
      return;
    case "removeIntent":
      validateMvccKey(write.key, limits);
      return;
    case "putIntent":
      validateIntent(write.intent, limits);
      return;
    case "commitIntent":
      validateIntent(write.intent, limits);
      validateTimestamp(write.commitTimestamp);
  }
}

/**
 * Validates a key against `limits`, then checks that its version key fits the storage engine
 * ({@linkcode MAX_ENGINE_KEY_BYTES}), so that a key allowed by generous configured limits but
 * too long once escaped is refused here with a message about the key rather than by the engine
 * about a batch. Under the default limits (4096 bytes: at most 8201 stored) it always fits.
 *
 * @param key the user key
 * @param limits the limits in force
 * @throws {RangeDbError} INVALID_ARGUMENT naming the violated limit
 */
export function validateMvccKey(key: Uint8Array, limits: Readonly<KeyLimits>): void {
  validateKey(key, limits);
  const stored = encodedBytesLength(key) + UINT64_BYTES;
  if (stored > MAX_ENGINE_KEY_BYTES) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot write key as its stored form exceeds the storage engine's maximum key size: key is ${key.length} bytes, stored form is ${stored} bytes, limit is ${MAX_ENGINE_KEY_BYTES} bytes`,
      { details: { size: key.length, storedSize: stored, limit: MAX_ENGINE_KEY_BYTES } },
    );
  }
}

/**
 * Throws unless `intent` is valid under `limits`.
 *
 * @param intent the intent
 * @param limits the limits in force
 * @throws {RangeDbError} INVALID_ARGUMENT naming the violated limit
 */
export function validateIntent(intent: Intent, limits: Readonly<KeyLimits>): void {
  validateMvccKey(intent.key, limits);
  validateMvccKey(intent.primaryKey, limits);
  if (intent.value !== undefined) validateValue(intent.value, limits);
  validateTimestamp(intent.startTimestamp);
  validateIntentFields(intent);
}
