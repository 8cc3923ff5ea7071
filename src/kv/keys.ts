/**
 * The keys of the multi-raft store.
 *
 * - `raft_log`: `(range id, index)` → a log entry (`raft_log_codec.ts`).
 * - `raft_state`: `(range id, 1)` → hard state, `(range id, 2)` → `RangeAppliedState`,
 *   `(range id, 3)` → truncated state, `(range id, 4) + request id` → `DedupeRecord`, and
 *   `(range id, 5, version) + request id` → empty: the dedupe records ordered by version, so
 *   that expired ones are found with one bounded scan.
 * - `data`: system keys `_/partitions/<id>`, `_/cluster/nodes/<name>`, `_/cluster/config/<name>`,
 *   `_/raft/groups/<id>` (ids in decimal, zero-padded to 20 digits so they sort).
 *
 * @module
 */

import { encodeUintTuple, UINT64_BYTES } from "../base/key_encoding.ts";
import { CLUSTER_CONFIG_PREFIX } from "../base/config_cluster.ts";

/** The kinds of `raft_state` keys of a range. */
export const RaftStateKind = {
  HardState: 1,
  AppliedState: 2,
  TruncatedState: 3,
  Dedupe: 4,
  DedupeByVersion: 5,
} as const;

const encoder = new TextEncoder();

/** The `raft_log` key of entry `index` of range `rangeId`. */
export function raftLogKey(rangeId: number, index: number): Uint8Array {
  return encodeUintTuple([rangeId, index]);
}

/** The `raft_log` keys of a range: `[start, end)`. */
export function raftLogSpan(rangeId: number): { start: Uint8Array; end: Uint8Array } {
  return { start: encodeUintTuple([rangeId]), end: encodeUintTuple([rangeId + 1]) };
}

/** A fixed `raft_state` key of a range (hard, applied or truncated state). */
export function raftStateKey(rangeId: number, kind: number): Uint8Array {
  return encodeUintTuple([rangeId, kind]);
}

/** The `raft_state` keys of a range's dedupe records and their version index: `[start, end)`. */
export function dedupeSpan(rangeId: number): { start: Uint8Array; end: Uint8Array } {
  return {
    start: encodeUintTuple([rangeId, RaftStateKind.Dedupe]),
    end: encodeUintTuple([rangeId, RaftStateKind.DedupeByVersion + 1]),
  };
}

/** The key of the dedupe record of `requestId`. */
export function dedupeKey(rangeId: number, requestId: string): Uint8Array {
  return concat(encodeUintTuple([rangeId, RaftStateKind.Dedupe]), encoder.encode(requestId));
}

/** The key of `requestId` in the version index of dedupe records. */
export function dedupeIndexKey(rangeId: number, version: bigint, requestId: string): Uint8Array {
  const head = dedupeIndexBound(rangeId, version);
  return concat(head, encoder.encode(requestId));
}

/** The first key of the version index at `version`: scan `[(range, 5), bound)` for older ones. */
export function dedupeIndexBound(rangeId: number, version: bigint): Uint8Array {
  const out = new Uint8Array(3 * UINT64_BYTES);
  out.set(encodeUintTuple([rangeId, RaftStateKind.DedupeByVersion]));
  new DataView(out.buffer).setBigUint64(2 * UINT64_BYTES, version);
  return out;
}

/** The request id of a version index key. */
export function requestIdOfIndexKey(key: Uint8Array): string {
  return new TextDecoder().decode(key.subarray(3 * UINT64_BYTES));
}

/** The range id a `raft_state` or `raft_log` key belongs to. */
export function rangeIdOfKey(key: Uint8Array): number {
  return Number(new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(0));
}

function pad(id: number): string {
  return String(id).padStart(20, "0");
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Builders of the system keys (in `data`, as MVCC keys). */
export const systemKeys = {
  /** `_/partitions/<id>`: the range descriptor. */
  partition: (rangeId: number): Uint8Array => encoder.encode(`_/partitions/${pad(rangeId)}`),
  /** `_/cluster/nodes/<name>`: a node record. */
  node: (name: string): Uint8Array => encoder.encode(`_/cluster/nodes/${name}`),
  /** `_/cluster/config/<name>`: a cluster setting, as text. */
  config: (name: string): Uint8Array => encoder.encode(`${CLUSTER_CONFIG_PREFIX}${name}`),
  /** `_/raft/groups/<id>`: the raft group (its descriptor) of a range. */
  raftGroup: (rangeId: number): Uint8Array => encoder.encode(`_/raft/groups/${pad(rangeId)}`),
  /** The span of all node records: `[start, end)`. */
  nodesSpan: (): { start: Uint8Array; end: Uint8Array } => ({
    start: encoder.encode("_/cluster/nodes/"),
    end: encoder.encode("_/cluster/nodes0"),
  }),
};
