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
import {
  type ConfState,
  type Entry,
  type EntryType,
  type Message,
  MessageType,
  type Snapshot,
} from "../raft/mod.ts";
import type { RangeMessage } from "../kv/transport.ts";
import {
  type CoalescedHeartbeat as PbCoalescedHeartbeat,
  CoalescedHeartbeatSchema,
  type ConfState as PbConfState,
  ConfStateSchema,
  type Entry as PbEntry,
  EntrySchema,
  type Message as PbMessage,
  MessageSchema,
  type RaftMessageBatch,
  RaftMessageBatchSchema,
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

/**
 * Whether `m` travels as a {@linkcode PbCoalescedHeartbeat}: a heartbeat or heartbeat response
 * that carries nothing but from, to, term and commit. ReadIndex heartbeats carry a context and
 * stay full messages.
 *
 * @param m a Raft message
 * @returns true when coalescing loses nothing
 */
export function isCoalescable(m: Message): boolean {
  return (m.type === MessageType.Heartbeat || m.type === MessageType.HeartbeatResp) &&
    m.context.length === 0 && m.entries.length === 0 && m.logTerm === 0 && m.index === 0 &&
    !m.reject && m.rejectHint === 0 && m.snapshot === undefined;
}

function coalescedToProto(rm: RangeMessage): PbCoalescedHeartbeat {
  const m = rm.message;
  return create(CoalescedHeartbeatSchema, {
    rangeId: BigInt(rm.rangeId),
    from: BigInt(m.from),
    to: BigInt(m.to),
    term: BigInt(m.term),
    commit: BigInt(m.commit),
    quiesce: rm.quiesce === true,
  });
}

function coalescedFromProto(hb: PbCoalescedHeartbeat, type: MessageType): RangeMessage {
  const rm: RangeMessage = {
    rangeId: toSafeNumber(hb.rangeId, "range_id"),
    message: {
      type,
      to: toSafeNumber(hb.to, "to"),
      from: toSafeNumber(hb.from, "from"),
      term: toSafeNumber(hb.term, "term"),
      logTerm: 0,
      index: 0,
      entries: [],
      commit: toSafeNumber(hb.commit, "commit"),
      reject: false,
      rejectHint: 0,
      context: EMPTY,
    },
  };
  if (hb.quiesce) rm.quiesce = true;
  return rm;
}

/**
 * Encodes the messages one node sends another in one scheduler turn or tick: plain heartbeats
 * and their responses (see {@linkcode isCoalescable}) as coalesced entries, which carry the
 * quiesce mark, the other messages whole. An empty batch is valid (a liveness batch).
 *
 * @param fromNodeId the sender
 * @param toNodeId the receiver
 * @param messages the messages, in the order the sender produced them
 * @returns the wire batch
 */
export function raftBatchToProto(
  fromNodeId: number,
  toNodeId: number,
  messages: readonly RangeMessage[],
): RaftMessageBatch {
  const batch = create(RaftMessageBatchSchema, {
    fromNodeId: BigInt(fromNodeId),
    toNodeId: BigInt(toNodeId),
  });
  for (const rm of messages) {
    if (!isCoalescable(rm.message)) batch.messages.push(rangeMessageToProto(rm));
    else if (rm.message.type === MessageType.Heartbeat) batch.heartbeats.push(coalescedToProto(rm));
    else batch.heartbeatResponses.push(coalescedToProto(rm));
  }
  return batch;
}

/**
 * Decodes a batch: heartbeats, then heartbeat responses, then the other messages. The order
 * between a range's heartbeats and its other messages is not kept; a heartbeat's commit never
 * exceeds what its receiver holds, and a quiesce mark decoded before a range's other messages
 * is overridden by them (they wake the range), so no order matters.
 *
 * @param batch the wire batch
 * @returns the messages
 * @throws {RangeDbError} CORRUPTION when a message is missing or a number exceeds 2^53 - 1
 */
export function raftBatchFromProto(batch: RaftMessageBatch): RangeMessage[] {
  const out: RangeMessage[] = [];
  for (const hb of batch.heartbeats) out.push(coalescedFromProto(hb, MessageType.Heartbeat));
  for (const hb of batch.heartbeatResponses) {
    out.push(coalescedFromProto(hb, MessageType.HeartbeatResp));
  }
  for (const rm of batch.messages) out.push(rangeMessageFromProto(rm));
  return out;
}
