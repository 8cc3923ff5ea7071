/**
 * The JSON document of `GET /api/v1/cluster` on the admin port: the cluster as this node sees it.
 *
 * @module
 */
import type { KvStore } from "../kv/mod.ts";

const decoder = new TextDecoder();

/** Renders key bytes for JSON: UTF-8 text (lossy for binary keys, which are rare in bounds). */
function keyText(key: Uint8Array): string {
  return decoder.decode(key);
}

/**
 * Describes the cluster from `store`.
 *
 * @param store the node's store
 * @returns the JSON-ready document
 */
export function clusterInfo(store: KvStore): Record<string, unknown> {
  return {
    clusterId: store.clusterId,
    nodeId: store.nodeId,
    leaderNodeId: store.leaderNodeId(),
    ready: store.isReady(),
    replicationFactor: store.replicationFactor(),
    nodes: store.nodes(),
    ranges: store.ranges().map((r) => ({
      ...r,
      start: keyText(r.start),
      end: keyText(r.end),
    })),
  };
}
