/**
 * Checks of how the ranges lie, once the cluster is quiet: no two initialized replicas on one
 * node overlap, the ranges tile the key space (every key held by exactly one range), no node
 * serves a range another node merged away, and range 1's meta copy names exactly the ranges
 * that exist, with their current descriptors (`_/partitions/<id>` and the by-end index).
 *
 * Each check returns what is wrong, or undefined: the run decides whether that is a safety
 * failure or a cluster that did not converge yet.
 *
 * @module
 */

import { compareBytes, MAX_TIMESTAMP } from "../../../../src/base/key_encoding.ts";
import { decodeDescriptor, type RangeDescriptor } from "../../../../src/kv/command.ts";
import { SYSTEM_START, systemKeys } from "../../../../src/kv/keys.ts";
import type { Replica } from "../../../../src/kv/replica.ts";
import { mvccScan } from "../../../../src/mvcc/mod.ts";
import type { SimCluster } from "../cluster.ts";

/** A replica and its node. */
export interface Held {
  node: number;
  replica: Replica;
}

const dec = new TextDecoder();
/** A key for messages. */
export const show = (k: Uint8Array): string => JSON.stringify(dec.decode(k));
/** A descriptor for messages. */
export const span = (d: RangeDescriptor): string =>
  `range ${d.rangeId} [${show(d.start)}, ${
    d.end.length === 0 ? "end" : show(d.end)
  }) gen ${d.generation}`;

/** The initialized replicas of every range on the running nodes, by range id. */
export function replicasByRange(cluster: SimCluster): Map<number, Held[]> {
  const out = new Map<number, Held[]>();
  for (const n of cluster.nodes) {
    const store = n.running?.store;
    if (store === undefined) continue;
    for (const r of store.replicas.values()) {
      if (r.applied?.descriptor === undefined || r.destroyed) continue;
      let list = out.get(r.rangeId);
      if (list === undefined) out.set(r.rangeId, list = []);
      list.push({ node: n.id, replica: r });
    }
  }
  return out;
}

/** Two initialized replicas of one node whose spans overlap. */
export function overlapOnANode(cluster: SimCluster): string | undefined {
  for (const n of cluster.nodes) {
    const store = n.running?.store;
    if (store === undefined) continue;
    const ds = [...store.replicas.values()]
      .filter((r) => r.applied?.descriptor !== undefined && !r.destroyed)
      .map((r) => r.applied!.descriptor!)
      .sort((a, b) => compareBytes(a.start, b.start));
    for (let i = 1; i < ds.length; i++) {
      const prev = ds[i - 1];
      if (prev.end.length === 0 || compareBytes(prev.end, ds[i].start) > 0) {
        return `node ${n.id} holds overlapping replicas: ${span(prev)} and ${span(ds[i])}`;
      }
    }
  }
  return undefined;
}

/** The one descriptor of each range (the newest generation any replica has). */
export function liveDescriptors(byRange: Map<number, Held[]>): RangeDescriptor[] {
  const out: RangeDescriptor[] = [];
  for (const held of byRange.values()) {
    let best = held[0].replica.applied!.descriptor!;
    for (const h of held) {
      const d = h.replica.applied!.descriptor!;
      if (d.generation > best.generation) best = d;
    }
    out.push(best);
  }
  return out.sort((a, b) => compareBytes(a.start, b.start));
}

/** A gap or an overlap between the ranges, or a range both alive and merged away. */
export function tilingProblem(cluster: SimCluster, live: RangeDescriptor[]): string | undefined {
  let expect: Uint8Array = new Uint8Array(0);
  for (const d of live) {
    if (compareBytes(d.start, expect) !== 0) {
      return `the ranges do not tile the key space: ${span(d)} starts where ${
        show(expect)
      } was expected (ranges: ${live.map(span).join("; ")})`;
    }
    if (d.end.length === 0 && d !== live[live.length - 1]) {
      return `${span(d)} reaches the end of the key space but is not the last range`;
    }
    expect = d.end;
  }
  if (live.length === 0 || live[live.length - 1].end.length !== 0) {
    return `no range reaches the end of the key space (ranges: ${live.map(span).join("; ")})`;
  }
  // System data never shares a range with user data: range 1 is exactly ["_/", "").
  const last = live[live.length - 1];
  if (last.rangeId !== 1n || compareBytes(last.start, SYSTEM_START) !== 0) {
    return `the last range is ${span(last)}, not range 1 starting at "_/"`;
  }
  for (const n of cluster.nodes) {
    const tombstones = n.running?.store.rangeSet.tombstones;
    if (tombstones === undefined) continue;
    for (const d of live) {
      const into = tombstones.get(Number(d.rangeId));
      if (into !== undefined) {
        return `node ${n.id} merged ${span(d)} into range ${into}, yet a replica of it lives`;
      }
    }
  }
  return undefined;
}

/** Where a node's copy of range 1's meta records differs from the live descriptors. */
export function metaProblem(cluster: SimCluster, live: RangeDescriptor[]): string | undefined {
  const byId = new Map(live.map((d) => [Number(d.rangeId), d]));
  for (const n of cluster.nodes) {
    const store = n.running?.store;
    const r1 = store?.firstRange();
    if (store === undefined || r1?.applied === undefined) continue;
    const records = mvccScan(store.engine, {
      ...systemKeys.partitionsSpan(),
      timestamp: MAX_TIMESTAMP,
    });
    if (records.status !== "ok") return `node ${n.id}'s meta records hold an intent`;
    const seen = new Set<number>();
    for (const row of records.rows) {
      const d = decodeDescriptor(row.value);
      const id = Number(d.rangeId);
      seen.add(id);
      const want = byId.get(id);
      if (want === undefined) return `node ${n.id}'s meta copy still names ${span(d)}`;
      if (want.generation !== d.generation || compareBytes(want.start, d.start) !== 0) {
        return `node ${n.id}'s meta copy has ${span(d)}, the range is ${span(want)}`;
      }
    }
    for (const d of live) {
      if (!seen.has(Number(d.rangeId))) return `node ${n.id}'s meta copy lacks ${span(d)}`;
    }
    const index = mvccScan(store.engine, {
      ...systemKeys.partitionsByEndSpan(),
      timestamp: MAX_TIMESTAMP,
    });
    if (index.status !== "ok") return `node ${n.id}'s by-end index holds an intent`;
    if (index.rows.length !== live.length) {
      return `node ${n.id}'s by-end index has ${index.rows.length} entries for ${live.length} ranges: ${
        index.rows.map((row) => span(decodeDescriptor(row.value))).join("; ")
      }`;
    }
    for (const row of index.rows) {
      const d = decodeDescriptor(row.value);
      const want = byId.get(Number(d.rangeId));
      if (want === undefined || compareBytes(systemKeys.partitionByEnd(want.end), row.key) !== 0) {
        return `node ${n.id}'s by-end index entry ${show(row.key)} names ${span(d)}`;
      }
    }
  }
  return undefined;
}
