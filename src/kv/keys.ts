/**
 * The keys of the multi-raft store.
 *
 * - `raft_log`: `(range id, index)` → a log entry (`raft_log_codec.ts`).
 * - `raft_state`: `(range id, 1)` → hard state, `(range id, 2)` → `RangeAppliedState`,
 *   `(range id, 3)` → truncated state, `(range id, 6)` → `RangeTombstone` (the range was merged
 *   away on this node: nothing else of it is left, and late messages for it are dropped).
 * - `dedupe`: `encodeBytes(first key of the command) + request id` → `DedupeRecord`, so that a
 *   range's records occupy exactly its span (`keySpan`), like its data (`dedupe.ts`).
 * - `data`: system keys `_/partitions/<id>`, `_/partitions/by-end/<end key>` (`\xff` for the
 *   last range), `_/cluster/nodes/<name>`, `_/cluster/config/<name>`, `_/raft/groups/<id>` (ids
 *   in decimal, zero-padded to 20 digits so they sort).
 *
 * @module
 */

import { encodeBytes, encodeUintTuple } from "../base/key_encoding.ts";
import { CLUSTER_CONFIG_PREFIX } from "../base/config_cluster.ts";

/** The kinds of `raft_state` keys of a range. */
export const RaftStateKind = {
  HardState: 1,
  AppliedState: 2,
  TruncatedState: 3,
  Tombstone: 6,
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

/** Every `raft_state` key of a range: `[start, end)`. */
export function raftStateSpan(rangeId: number): { start: Uint8Array; end: Uint8Array } {
  return { start: encodeUintTuple([rangeId]), end: encodeUintTuple([rangeId + 1]) };
}

/** A fixed `raft_state` key of a range (hard, applied or truncated state, tombstone). */
export function raftStateKey(rangeId: number, kind: number): Uint8Array {
  return encodeUintTuple([rangeId, kind]);
}

/** The range id a `raft_state` or `raft_log` key belongs to. */
export function rangeIdOfKey(key: Uint8Array): number {
  return Number(new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(0));
}

const LOWEST = new Uint8Array([0x00]);
const HIGHEST = new Uint8Array([0xff, 0xff]);

/**
 * The span of the user keys `[start, end)` (end empty: the end of the key space) in the
 * keyspaces keyed by `encodeBytes(user key) + suffix`: `data` (MVCC versions) and `dedupe`.
 */
export function keySpan(
  d: { start: Uint8Array; end: Uint8Array },
): { start: Uint8Array; end: Uint8Array } {
  return {
    start: d.start.length === 0 ? LOWEST : encodeBytes(d.start),
    end: d.end.length === 0 ? HIGHEST : encodeBytes(d.end),
  };
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

const BY_END_PREFIX = encoder.encode("_/partitions/by-end/");
/** The end of the last range in the by-end index (no valid key starts with 0xff). */
const LAST_END = new Uint8Array([0xff]);

/** Builders of the system keys (in `data`, as MVCC keys). */
export const systemKeys = {
  /** `_/partitions/<id>`: the range descriptor. */
  partition: (rangeId: number): Uint8Array => encoder.encode(`_/partitions/${pad(rangeId)}`),
  /** The span of every `_/partitions/<id>` record (not the by-end index): `[start, end)`. */
  partitionsSpan: (): { start: Uint8Array; end: Uint8Array } => ({
    start: encoder.encode("_/partitions/0"),
    end: encoder.encode("_/partitions/:"),
  }),
  /**
   * `_/partitions/by-end/<end>`: the descriptor of the range ending at `end` (empty: the last
   * range, written as `\xff`). The range holding key K is the first entry after
   * `partitionByEnd(K)`.
   */
  partitionByEnd: (end: Uint8Array): Uint8Array =>
    concat(BY_END_PREFIX, end.length === 0 ? LAST_END : end),
  /** The span of the by-end index: `[start, end)`. */
  partitionsByEndSpan: (): { start: Uint8Array; end: Uint8Array } => ({
    start: BY_END_PREFIX,
    end: concat(BY_END_PREFIX, new Uint8Array([0xff, 0xff])),
  }),
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

/**
 * The range end a by-end index key names (empty for the last range).
 *
 * @param key a key built by `systemKeys.partitionByEnd`
 * @returns the end key
 */
export function endOfPartitionByEndKey(key: Uint8Array): Uint8Array {
  const end = key.subarray(BY_END_PREFIX.length);
  return end.length === 1 && end[0] === 0xff ? new Uint8Array(0) : end.slice();
}

/** The first key of the system keyspace `_/`, and its exclusive end `_0`. */
export const SYSTEM_START = encoder.encode("_/");
/** The exclusive end of the system keyspace. */
export const SYSTEM_END = encoder.encode("_0");
