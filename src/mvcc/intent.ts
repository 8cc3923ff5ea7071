/**
 * Transaction intents (locks): the provisional write of an uncommitted transaction on one key,
 * stored in the `locks` keyspace under the raw user key (so locks sort as user keys).
 *
 * Stored value layout (format 1), integers big-endian:
 * ```
 * u8  format (1)
 * u64 start timestamp            u64 expiresAtMs
 * u8  flags (bit 0: has value)   u16 txnId length, txnId (UTF-8)
 * u32 primary key length, primary key
 * the provisional value (rest of the record; absent for a deletion)
 * ```
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import {
  readTimestamp,
  readUint64,
  type Timestamp,
  writeTimestamp,
  writeUint64,
} from "../base/key_encoding.ts";

/** A transaction's provisional write on one key. */
export interface Intent {
  /** The locked key. */
  key: Uint8Array;
  /** The transaction that wrote it. */
  txnId: string;
  /** The transaction's primary key, whose record decides commit or abort. */
  primaryKey: Uint8Array;
  /** The transaction's start (read) timestamp. */
  startTimestamp: Timestamp;
  /** The provisional value, or undefined when the transaction deletes the key. */
  value: Uint8Array | undefined;
  /**
   * Wall-clock time (ms) after which a reader that meets the intent may resolve it through the
   * primary: the transaction's TTL.
   */
  expiresAtMs: number;
}

const FORMAT = 1;
const FLAG_HAS_VALUE = 1;
const HEADER_BYTES = 1 + 8 + 8 + 1 + 2;
const MAX_TXN_ID_BYTES = 0xffff;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes the stored value of an intent (its key is the lock's key, not part of the value).
 *
 * @param intent the intent
 * @returns the stored bytes
 * @throws {RangeDbError} INVALID_ARGUMENT when the txn id is longer than 65535 bytes or
 * `expiresAtMs` is not a non-negative safe integer
 */
export function encodeIntent(intent: Intent): Uint8Array {
  const txnId = utf8Encoder.encode(intent.txnId);
  checkFields(txnId.length, intent.expiresAtMs);
  const value = intent.value;
  const primary = intent.primaryKey;
  const out = new Uint8Array(
    HEADER_BYTES + txnId.length + 4 + primary.length + (value?.length ?? 0),
  );
  const view = new DataView(out.buffer);
  out[0] = FORMAT;
  writeTimestamp(out, 1, intent.startTimestamp);
  writeUint64(out, 9, intent.expiresAtMs);
  out[17] = value === undefined ? 0 : FLAG_HAS_VALUE;
  view.setUint16(18, txnId.length);
  out.set(txnId, HEADER_BYTES);
  let o = HEADER_BYTES + txnId.length;
  view.setUint32(o, primary.length);
  o += 4;
  out.set(primary, o);
  o += primary.length;
  if (value !== undefined) out.set(value, o);
  return out;
}

/**
 * Throws unless {@linkcode encodeIntent} accepts the transaction id and expiry of `intent` (keys
 * and value are checked against the key limits elsewhere).
 *
 * @param intent the intent
 * @throws {RangeDbError} INVALID_ARGUMENT when the txn id is longer than 65535 bytes or
 * `expiresAtMs` is not a non-negative safe integer
 */
export function validateIntentFields(intent: Intent): void {
  checkFields(utf8Encoder.encode(intent.txnId).length, intent.expiresAtMs);
}

function checkFields(txnIdBytes: number, expiresAtMs: number): void {
  if (txnIdBytes > MAX_TXN_ID_BYTES) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot write intent as its transaction id is too long: id is ${txnIdBytes} bytes, limit is ${MAX_TXN_ID_BYTES} bytes`,
    );
  }
  if (!Number.isSafeInteger(expiresAtMs) || expiresAtMs < 0) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot write intent as its expiry is not a non-negative integer: expiresAtMs is ${expiresAtMs}`,
    );
  }
}

/**
 * Decodes an intent stored by {@linkcode encodeIntent}.
 *
 * @param key the lock's key
 * @param stored the stored value
 * @returns the intent (its arrays are copies)
 * @throws {RangeDbError} UNSUPPORTED_FORMAT for an unknown format, CORRUPTION when truncated
 */
export function decodeIntent(key: Uint8Array, stored: Uint8Array): Intent {
  if (stored.length > 0 && stored[0] !== FORMAT) {
    throw new RangeDbError(
      ErrorCode.UNSUPPORTED_FORMAT,
      `Cannot read intent as its format is unknown: format is ${stored[0]}, supported is ${FORMAT}`,
      { details: { format: stored[0] } },
    );
  }
  if (stored.length < HEADER_BYTES) throw truncated(stored);
  const view = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
  const txnIdLength = view.getUint16(18);
  let o = HEADER_BYTES + txnIdLength;
  if (stored.length < o + 4) throw truncated(stored);
  const primaryLength = view.getUint32(o);
  o += 4;
  if (stored.length < o + primaryLength) throw truncated(stored);
  let txnId: string;
  try {
    txnId = utf8Decoder.decode(stored.subarray(HEADER_BYTES, HEADER_BYTES + txnIdLength));
  } catch (cause) {
    throw new RangeDbError(
      ErrorCode.CORRUPTION,
      "Cannot read intent as its transaction id is not UTF-8",
      { cause },
    );
  }
  const hasValue = (stored[17] & FLAG_HAS_VALUE) !== 0;
  if (!hasValue && stored.length !== o + primaryLength) throw truncated(stored);
  return {
    key: key.slice(),
    txnId,
    primaryKey: stored.slice(o, o + primaryLength),
    startTimestamp: readTimestamp(stored, 1),
    value: hasValue ? stored.slice(o + primaryLength) : undefined,
    expiresAtMs: readUint64(stored, 9),
  };
}

function truncated(stored: Uint8Array): RangeDbError {
  return new RangeDbError(
    ErrorCode.CORRUPTION,
    `Cannot read intent as its record is malformed: record is ${stored.length} bytes`,
    { details: { length: stored.length } },
  );
}
