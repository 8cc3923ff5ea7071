/**
 * Conversions between the store's range records ({@linkcode RangeInfo}, {@linkcode MigrationInfo})
 * and their wire forms (`RangeStatus`, `Migration` of admin.proto), both ways: the admin service
 * answers with the wire form, and a node that asked another one (Peer.Forward "LookupRange")
 * turns the answer back into the store's record. Also the JSON of the partition list served on
 * the admin HTTP port.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import type { MigrationInfo, RangeInfo } from "../kv/kv_store.ts";
import { keyText } from "../base/key_text.ts";
import {
  type ListPartitionsResponse,
  type Migration,
  MigrationSchema,
  type RangeStatus,
  RangeStatusSchema,
} from "../../proto/gen/rangedb/v1/admin_pb.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";

function toSafeNumber(value: bigint, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeDbError(
      ErrorCode.CORRUPTION,
      `Cannot decode range status as a field exceeds 2^53 - 1: field is ${field}, value is ${value}`,
    );
  }
  return Number(value);
}

/**
 * The wire form of a range.
 *
 * @param range the store's record
 * @param leaderClientAddress the leader's client address, when known
 * @returns the RangeStatus
 */
export function rangeStatusOf(range: RangeInfo, leaderClientAddress = ""): RangeStatus {
  return create(RangeStatusSchema, {
    rangeId: BigInt(range.rangeId),
    start: range.start,
    end: range.end,
    generation: BigInt(range.generation),
    voters: range.voters.map(BigInt),
    learners: range.learners.map(BigInt),
    leaderNodeId: BigInt(range.leaderNodeId),
    term: BigInt(range.term),
    commitIndex: BigInt(range.commitIndex),
    appliedIndex: BigInt(range.appliedIndex),
    liveKeys: BigInt(range.liveKeys),
    liveBytes: BigInt(range.liveBytes),
    writesPerSecond: range.writesPerSecond,
    frozenIntoRangeId: BigInt(range.frozenIntoRangeId),
    leaderClientAddress,
  });
}

/**
 * The store's record of a range another node described (`local` is false: this node holds no
 * replica of it as far as the answer goes).
 *
 * @param s the wire form
 * @returns the RangeInfo
 * @throws {RangeDbError} CORRUPTION for ids or counters beyond 2^53 - 1
 */
export function rangeInfoOf(s: RangeStatus): RangeInfo {
  return {
    rangeId: toSafeNumber(s.rangeId, "range_id"),
    start: s.start,
    end: s.end,
    generation: toSafeNumber(s.generation, "generation"),
    voters: s.voters.map((v) => toSafeNumber(v, "voters")),
    learners: s.learners.map((v) => toSafeNumber(v, "learners")),
    leaderNodeId: toSafeNumber(s.leaderNodeId, "leader_node_id"),
    term: toSafeNumber(s.term, "term"),
    commitIndex: toSafeNumber(s.commitIndex, "commit_index"),
    appliedIndex: toSafeNumber(s.appliedIndex, "applied_index"),
    liveKeys: toSafeNumber(s.liveKeys, "live_keys"),
    liveBytes: toSafeNumber(s.liveBytes, "live_bytes"),
    writesPerSecond: s.writesPerSecond,
    frozenIntoRangeId: toSafeNumber(s.frozenIntoRangeId, "frozen_into_range_id"),
    local: false,
  };
}

/**
 * The wire form of a split or merge in flight.
 *
 * @param m the store's record
 * @returns the Migration
 */
export function migrationOf(m: MigrationInfo): Migration {
  return create(MigrationSchema, {
    kind: m.kind,
    rangeId: BigInt(m.rangeId),
    otherRangeId: BigInt(m.otherRangeId),
    key: m.key,
    state: m.state,
    startedAtMs: BigInt(m.startedAtMs),
    reason: m.reason,
    nodeId: BigInt(m.nodeId),
  });
}

/**
 * The JSON of one range for the admin HTTP API: bounds as readable text (see `keyText`; the
 * last range's end is ""), numbers as numbers.
 *
 * @param r the wire form
 * @returns plain fields, snake_case
 */
export function rangeStatusJson(r: RangeStatus): Record<string, unknown> {
  return {
    range_id: Number(r.rangeId),
    start: keyText(r.start),
    end: keyText(r.end),
    generation: Number(r.generation),
    voters: r.voters.map(Number),
    learners: r.learners.map(Number),
    leader_node_id: Number(r.leaderNodeId),
    leader_client_address: r.leaderClientAddress,
    live_keys: Number(r.liveKeys),
    live_bytes: Number(r.liveBytes),
    writes_per_second: r.writesPerSecond,
    frozen_into_range_id: Number(r.frozenIntoRangeId),
    term: Number(r.term),
    commit_index: Number(r.commitIndex),
    applied_index: Number(r.appliedIndex),
  };
}

/**
 * The JSON of a ListPartitions answer for the admin HTTP API (`/api/v1/partitions`).
 *
 * @param res the answer
 * @returns `{partitions, migrations}`
 */
export function partitionsJson(res: ListPartitionsResponse): Record<string, unknown> {
  return {
    partitions: res.partitions.map(rangeStatusJson),
    migrations: res.migrations.map((m) => ({
      kind: m.kind,
      range_id: Number(m.rangeId),
      other_range_id: Number(m.otherRangeId),
      key: keyText(m.key),
      state: m.state,
      started_at_ms: Number(m.startedAtMs),
      reason: m.reason,
      node_id: Number(m.nodeId),
    })),
  };
}
