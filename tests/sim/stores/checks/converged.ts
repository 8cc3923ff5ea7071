/**
 * Whether the healed cluster has settled (the liveness phase's goal): every node up, no split
 * or merge in flight, no range frozen, and every range held, initialized, by exactly the nodes
 * of its descriptor, all at the same applied index equal to their commit index, with one leader;
 * and range 1's meta copy describes exactly these ranges.
 *
 * @module
 */

import type { SimCluster } from "../cluster.ts";
import { liveDescriptors, metaProblem, replicasByRange, show, span } from "./layout.ts";

/** Why the cluster has not settled yet; undefined once it has. */
export function notConverged(cluster: SimCluster): string | undefined {
  const down = cluster.nodes.filter((n) => !n.up).map((n) => n.id);
  if (down.length > 0) return `nodes ${down.join(",")} are down`;
  for (const n of cluster.nodes) {
    const store = n.running!.store;
    const migrations = store.migrations();
    if (migrations.length > 0) {
      const m = migrations[0];
      return `node ${n.id} runs a ${m.kind} of range ${m.rangeId} (${m.state})`;
    }
    for (const r of store.replicas.values()) {
      if (r.applied === undefined && !r.destroyed) {
        return `node ${n.id} holds an uninitialized replica of range ${r.rangeId}`;
      }
    }
  }
  const byRange = replicasByRange(cluster);
  for (const [rangeId, held] of byRange) {
    const d = held[0].replica.applied!.descriptor!;
    const members = d.replicas.map((x) => Number(x.nodeId)).sort((a, b) => a - b);
    const holders = held.map((h) => h.node).sort((a, b) => a - b);
    if (members.join() !== holders.join()) {
      return `${span(d)} is held by nodes ${holders.join(",")}, its members are ${
        members.join(",")
      }`;
    }
    const leaders = held.filter((h) => h.replica.isLeader).length;
    if (leaders !== 1) return `range ${rangeId} has ${leaders} leaders`;
    const index = held[0].replica.appliedIndex;
    for (const h of held) {
      const r = h.replica;
      if (r.frozen) return `range ${rangeId} is frozen on node ${h.node}`;
      if (r.appliedIndex !== index || r.storage.hardState().commit !== index) {
        return `range ${rangeId}'s replicas are at applied ${
          held.map((x) =>
            `${x.replica.appliedIndex}/commit ${x.replica.storage.hardState().commit}@${x.node}`
          ).join(" ")
        }`;
      }
    }
  }
  return metaProblem(cluster, liveDescriptors(byRange));
}

/** Every replica on every running node, one line per range, for failure reports. */
export function describeReplicas(cluster: SimCluster): string {
  const lines = new Map<number, string[]>();
  for (const n of cluster.nodes) {
    const store = n.running?.store;
    if (store === undefined) continue;
    for (const r of store.replicas.values()) {
      let list = lines.get(r.rangeId);
      if (list === undefined) lines.set(r.rangeId, list = []);
      const d = r.applied?.descriptor;
      const hs = r.storage.hardState();
      list.push(
        `${n.id}:${
          d === undefined ? "uninit" : `gen${d.generation} [${show(d.start)},${show(d.end)})`
        } ${
          ["F", "C", "L", "P"][r.role]
        } t${r.term} a${r.appliedIndex} c${hs.commit} last${r.storage.lastIndex()} lead${r.lead}${
          r.frozen ? ` frozen>${r.applied!.frozenIntoRangeId}` : ""
        }${r.quiesced ? " q" : ""}`,
      );
    }
  }
  const migrations = cluster.nodes.flatMap((n) =>
    (n.running?.store.migrations() ?? []).map((m) =>
      `  node ${n.id} runs a ${m.kind} of range ${m.rangeId}${
        m.otherRangeId === 0 ? "" : ` and ${m.otherRangeId}`
      } (${m.state}, ${m.reason}) since ${m.startedAtMs - cluster.base.now()}ms`
    )
  );
  return [
    ...[...lines.entries()].sort((a, b) => a[0] - b[0])
      .map(([id, l]) => `  range ${id}: ${l.join(" | ")}`),
    ...migrations,
  ].join("\n");
}
