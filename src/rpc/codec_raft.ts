/**
 * Conversion between the Raft types of `src/raft` (numbers) and their wire form in
 * `proto/rangedb/v1/raft.proto` (uint64 as bigint). Enum numbers are equal on both sides (the
 * proto mirrors `src/raft/types.ts`), so types are copied without a table.
 *
 * Ids, terms and indexes above 2^53 cannot occur in a healthy cluster (src/raft counts with JS
 * numbers); a wire value that large is refused as CORRUPTION rather than silently rounded.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { ConfState, Entry, EntryType, Message, MessageType, Snapshot } from "../raft/mod.ts";
import type { RangeMessage } from "../kv/transport.ts";
import {
  type ConfState as PbConfState,
  ConfStateSchema,
  type Entry as PbEntry,
  EntrySchema,
  type Message as PbMessage,
  MessageSchema,
  type RangeMessage as PbRangeMessage,
  RangeMessageSchema,
  type Snapshot as PbSnapshot,
  SnapshotMetadataSchema,
  SnapshotSchema,
} from "../../proto/gen/rangedb/v1/raft_pb.ts";

const EMPTY = new Uint8Array(0);

/**
 * Converts a wire uint64 to a number, refusing values that a number cannot hold exactly.
 *
 * @param value the wire value
 * @param field the field name, for the error message
 * @returns the value as a number
 * @throws {RangeDbError} CORRUPTION when `value` exceeds 2^53 - 1
 */
export function toSafeNumber(value: bigint, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeDbError(
      ErrorCode.CORRUPTION,
      `Cannot decode raft message as a field exceeds 2^53 - 1: field is ${field}, value is ${value}`,
    );
  }
  return Number(value);
}

function ids(values: readonly number[]): bigint[] {
  return values.map((v) => BigInt(v));
}

function fromIds(values: readonly bigint[], field: string): number[] {
  return values.map((v) => toSafeNumber(v, field));
}

/** Encodes a Raft entry. */
function entryToProto(entry: Entry): PbEntry {
  return create(EntrySchema, {
    term: BigInt(entry.term),
    index: BigInt(entry.index),
    type: entry.type,
    data: entry.data,
  });
}

/** Decodes a Raft entry. */
function entryFromProto(entry: PbEntry): Entry {
  return {
    term: toSafeNumber(entry.term, "entry.term"),
    index: toSafeNumber(entry.index, "entry.index"),
    type: entry.type as number as EntryType,
    data: entry.data,
  };
}

function confStateToProto(cs: ConfState): PbConfState {
  return create(ConfStateSchema, {
    voters: ids(cs.voters),
    learners: ids(cs.learners),
    votersOutgoing: ids(cs.votersOutgoing),
    learnersNext: ids(cs.learnersNext),
    autoLeave: cs.autoLeave,
  });
}

function confStateFromProto(cs: PbConfState | undefined): ConfState {
  return {
    voters: fromIds(cs?.voters ?? [], "voters"),
    learners: fromIds(cs?.learners ?? [], "learners"),
    votersOutgoing: fromIds(cs?.votersOutgoing ?? [], "voters_outgoing"),
    learnersNext: fromIds(cs?.learnersNext ?? [], "learners_next"),
    autoLeave: cs?.autoLeave ?? false,
  };
}

/** Encodes a Raft snapshot (metadata and data). */
function snapshotToProto(snapshot: Snapshot): PbSnapshot {
  return create(SnapshotSchema, {
    metadata: create(SnapshotMetadataSchema, {
      index: BigInt(snapshot.metadata.index),
      term: BigInt(snapshot.metadata.term),
      confState: confStateToProto(snapshot.metadata.confState),
    }),
    data: snapshot.data,
  });
}

/** Decodes a Raft snapshot. */
function snapshotFromProto(snapshot: PbSnapshot): Snapshot {
  const md = snapshot.metadata;
  return {
    metadata: {
      index: toSafeNumber(md?.index ?? 0n, "snapshot.index"),
      term: toSafeNumber(md?.term ?? 0n, "snapshot.term"),
      confState: confStateFromProto(md?.confState),
    },
    data: snapshot.data,
  };
}

/** Encodes a Raft message. */
export function messageToProto(m: Message): PbMessage {
  return create(MessageSchema, {
    type: m.type,
    to: BigInt(m.to),
    from: BigInt(m.from),
    term: BigInt(m.term),
    logTerm: BigInt(m.logTerm),
    index: BigInt(m.index),
    entries: m.entries.map(entryToProto),
    commit: BigInt(m.commit),
    snapshot: m.snapshot === undefined ? undefined : snapshotToProto(m.snapshot),
    reject: m.reject,
    rejectHint: BigInt(m.rejectHint),
    context: m.context,
  });
}

/**
 * Decodes a Raft message.
 *
 * @throws {RangeDbError} CORRUPTION when a number exceeds 2^53 - 1
 */
export function messageFromProto(m: PbMessage): Message {
  const out: Message = {
    type: m.type as number as MessageType,
    to: toSafeNumber(m.to, "to"),
    from: toSafeNumber(m.from, "from"),
    term: toSafeNumber(m.term, "term"),
    logTerm: toSafeNumber(m.logTerm, "log_term"),
    index: toSafeNumber(m.index, "index"),
    entries: m.entries.map(entryFromProto),
    commit: toSafeNumber(m.commit, "commit"),
    reject: m.reject,
    rejectHint: toSafeNumber(m.rejectHint, "reject_hint"),
    context: m.context.length === 0 ? EMPTY : m.context,
  };
  if (m.snapshot !== undefined) out.snapshot = snapshotFromProto(m.snapshot);
  return out;
}

/** Encodes a Raft message of one range. */
export function rangeMessageToProto(rm: RangeMessage): PbRangeMessage {
  return create(RangeMessageSchema, {
    rangeId: BigInt(rm.rangeId),
    message: messageToProto(rm.message),
  });
}

/**
 * Decodes a Raft message of one range.
 *
 * @throws {RangeDbError} CORRUPTION when the message is missing or a number exceeds 2^53 - 1
 */
export function rangeMessageFromProto(rm: PbRangeMessage): RangeMessage {
  if (rm.message === undefined) {
    throw new RangeDbError(
      ErrorCode.CORRUPTION,
      `Cannot decode raft message as it is missing: range is ${rm.rangeId}`,
    );
  }
  return {
    rangeId: toSafeNumber(rm.rangeId, "range_id"),
    message: messageFromProto(rm.message),
  };
}
