/**
 * The binary forms of the Raft state a replica persists: log entries, hard state and truncated
 * state. Fixed layouts (big-endian), because they are on the hot path of every turn:
 *
 * - entry: `u8 type | u64 term | data` (the index is in the key);
 * - hard state: `u64 term | u64 vote | u64 commit`;
 * - truncated state: `u64 index | u64 term`.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { readUint64, UINT64_BYTES, writeUint64 } from "../base/key_encoding.ts";
import { type Entry, EntryType, type HardState } from "../raft/mod.ts";

const ENTRY_HEADER = 1 + UINT64_BYTES;

/** Encodes an entry for the `raft_log` keyspace. */
export function encodeEntry(e: Entry): Uint8Array {
  const out = new Uint8Array(ENTRY_HEADER + e.data.length);
  out[0] = e.type;
  writeUint64(out, 1, e.term);
  out.set(e.data, ENTRY_HEADER);
  return out;
}

/**
 * Decodes an entry stored at `index`.
 *
 * @throws {RangeDbError} CORRUPTION when the record is malformed
 */
export function decodeEntry(index: number, value: Uint8Array): Entry {
  const type = value[0];
  if (value.length < ENTRY_HEADER || (type !== EntryType.Normal && type !== EntryType.ConfChange)) {
    throw new RangeDbError(
      ErrorCode.CORRUPTION,
      `Cannot read raft log entry as its record is malformed: index is ${index}, length is ${value.length}`,
    );
  }
  return { index, term: readUint64(value, 1), type, data: value.subarray(ENTRY_HEADER) };
}

/** The term of a stored entry without decoding its data. */
export function entryTermOf(value: Uint8Array): number {
  return readUint64(value, 1);
}

/** Encodes a hard state. */
export function encodeHardState(hs: HardState): Uint8Array {
  const out = new Uint8Array(3 * UINT64_BYTES);
  writeUint64(out, 0, hs.term);
  writeUint64(out, UINT64_BYTES, hs.vote);
  writeUint64(out, 2 * UINT64_BYTES, hs.commit);
  return out;
}

/** Decodes a hard state. */
export function decodeHardState(value: Uint8Array): HardState {
  return {
    term: readUint64(value, 0),
    vote: readUint64(value, UINT64_BYTES),
    commit: readUint64(value, 2 * UINT64_BYTES),
  };
}

/** The index and term of the last entry removed from the log (a snapshot's or a compaction's). */
export interface TruncatedState {
  index: number;
  term: number;
}

/** Encodes a truncated state. */
export function encodeTruncatedState(ts: TruncatedState): Uint8Array {
  const out = new Uint8Array(2 * UINT64_BYTES);
  writeUint64(out, 0, ts.index);
  writeUint64(out, UINT64_BYTES, ts.term);
  return out;
}

/** Decodes a truncated state. */
export function decodeTruncatedState(value: Uint8Array): TruncatedState {
  return { index: readUint64(value, 0), term: readUint64(value, UINT64_BYTES) };
}
