/**
 * The codec of the store's protobuf formats (`proto/rangedb/v1/command.proto`): commands in log
 * entries, their results, a range's applied state, dedupe records, descriptors and node records;
 * and the proposal id carried in a conf change's context.
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type CommandResult,
  CommandResultSchema,
  type DedupeRecord,
  DedupeRecordSchema,
  type NodeRecord,
  NodeRecordSchema,
  type RaftCommand,
  RaftCommandSchema,
  type RangeAppliedState,
  RangeAppliedStateSchema,
  type RangeDescriptor,
  RangeDescriptorSchema,
  ReplicaDescriptorSchema,
} from "../../proto/gen/rangedb/v1/command_pb.ts";
import type { ConfState } from "../raft/mod.ts";

export type {
  CommandResult,
  DedupeRecord,
  NodeRecord,
  RaftCommand,
  RangeAppliedState,
  RangeDescriptor,
};

/** Encodes a command for a log entry. */
export function encodeCommand(cmd: RaftCommand): Uint8Array {
  return toBinary(RaftCommandSchema, cmd);
}

/** Decodes a command of a log entry. */
export function decodeCommand(data: Uint8Array): RaftCommand {
  return fromBinary(RaftCommandSchema, data);
}

/** Builds a command. */
export function newCommand(
  init: Parameters<typeof create<typeof RaftCommandSchema>>[1],
): RaftCommand {
  return create(RaftCommandSchema, init);
}

/** Builds a command result. */
export function newResult(
  init: Parameters<typeof create<typeof CommandResultSchema>>[1] = {},
): CommandResult {
  return create(CommandResultSchema, init);
}

/** Encodes a command result (for Peer.Forward "Propose"). */
export function encodeCommandResult(r: CommandResult): Uint8Array {
  return toBinary(CommandResultSchema, r);
}

/** Decodes a command result. */
export function decodeCommandResult(b: Uint8Array): CommandResult {
  return fromBinary(CommandResultSchema, b);
}

/** Encodes an applied state. */
export function encodeAppliedState(s: RangeAppliedState): Uint8Array {
  return toBinary(RangeAppliedStateSchema, s);
}

/** Decodes an applied state. */
export function decodeAppliedState(b: Uint8Array): RangeAppliedState {
  return fromBinary(RangeAppliedStateSchema, b);
}

/** Builds an applied state. */
export function newAppliedState(
  init: Parameters<typeof create<typeof RangeAppliedStateSchema>>[1],
): RangeAppliedState {
  return create(RangeAppliedStateSchema, init);
}

/** A copy of an applied state (the descriptor is copied too; apply changes it in place). */
export function copyAppliedState(s: RangeAppliedState): RangeAppliedState {
  return decodeAppliedState(encodeAppliedState(s));
}

/** Encodes a dedupe record. */
export function encodeDedupe(result: CommandResult, version: bigint): Uint8Array {
  return toBinary(DedupeRecordSchema, create(DedupeRecordSchema, { result, version }));
}

/** Decodes a dedupe record. */
export function decodeDedupe(b: Uint8Array): DedupeRecord {
  return fromBinary(DedupeRecordSchema, b);
}

/** Encodes a range descriptor. */
export function encodeDescriptor(d: RangeDescriptor): Uint8Array {
  return toBinary(RangeDescriptorSchema, d);
}

/** Builds a range descriptor whose replicas are `voters` and `learners`. */
export function newDescriptor(init: {
  rangeId: number;
  start: Uint8Array;
  end: Uint8Array;
  generation: number;
  voters: readonly number[];
  learners?: readonly number[];
}): RangeDescriptor {
  return create(RangeDescriptorSchema, {
    rangeId: BigInt(init.rangeId),
    start: init.start,
    end: init.end,
    generation: BigInt(init.generation),
    replicas: replicasOf(init.voters, init.learners ?? []),
  });
}

function replicasOf(voters: readonly number[], learners: readonly number[]) {
  return [
    ...voters.map((id) => ({ nodeId: BigInt(id), replicaId: BigInt(id), learner: false })),
    ...learners.map((id) => ({ nodeId: BigInt(id), replicaId: BigInt(id), learner: true })),
  ].sort((a, b) => Number(a.nodeId - b.nodeId));
}

/** Sets a descriptor's replicas from a Raft membership (which is never joint here). */
export function setReplicas(d: RangeDescriptor, cs: ConfState): void {
  d.replicas = replicasOf(cs.voters, cs.learners).map((r) => create(ReplicaDescriptorSchema, r));
}

/** The Raft membership of a descriptor. */
export function confStateOf(d: RangeDescriptor | undefined): ConfState {
  const voters: number[] = [];
  const learners: number[] = [];
  for (const r of d?.replicas ?? []) (r.learner ? learners : voters).push(Number(r.nodeId));
  return { voters, learners, votersOutgoing: [], learnersNext: [], autoLeave: false };
}

/** Encodes a node record. */
export function encodeNodeRecord(r: NodeRecord): Uint8Array {
  return toBinary(NodeRecordSchema, r);
}

/** Decodes a node record. */
export function decodeNodeRecord(b: Uint8Array): NodeRecord {
  return fromBinary(NodeRecordSchema, b);
}

/** Builds a node record. */
export function newNodeRecord(init: {
  name: string;
  nodeId: number;
  peerAddress: string;
  clientAddress: string;
  adminAddress: string;
  updatedAtMs: number;
  /** The random id of the node's data directory. */
  incarnation: string;
}): NodeRecord {
  return create(NodeRecordSchema, {
    ...init,
    nodeId: BigInt(init.nodeId),
    updatedAtMs: BigInt(init.updatedAtMs),
  });
}

/** The proposal id `(proposer node id, sequence)` as a conf change's context. */
export function encodeProposalId(proposer: number, seq: number): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(proposer));
  view.setBigUint64(8, BigInt(seq));
  return out;
}

/** Decodes a proposal id from a conf change's context; undefined when it holds none. */
export function decodeProposalId(b: Uint8Array): { proposer: number; seq: number } | undefined {
  if (b.length !== 16) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, 16);
  return { proposer: Number(view.getBigUint64(0)), seq: Number(view.getBigUint64(8)) };
}
