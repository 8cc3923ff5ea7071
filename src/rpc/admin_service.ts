/**
 * The client admin service `rangedb.v1.Admin`: cluster status and the node list, answered from
 * this node's view of the store (`nodes()`, `ranges()`, `replicationFactor()`, `isReady()`).
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "../base/logger.ts";
import type { KvStore, NodeInfo, RangeInfo } from "../kv/kv_store.ts";
import {
  Admin,
  type ClusterStatusRequest,
  type ClusterStatusResponse,
  ClusterStatusResponseSchema,
  type ListNodesRequest,
  type ListNodesResponse,
  ListNodesResponseSchema,
  type NodeStatus,
  NodeStatusSchema,
  type RangeStatus,
  RangeStatusSchema,
} from "../../proto/gen/rangedb/v1/admin_pb.ts";
import { grpcServiceDefinition } from "./grpc_definition.ts";
import { toServiceError } from "./status.ts";

/** Dependencies of {@linkcode addAdminService}. */
export interface AdminServiceDeps {
  store: KvStore;
  /** This node's name (`--node-id`), reported as `answered_by`; known once the node has its
   * identity, which may be after the service is added. */
  nodeName: () => string;
  logger: Logger;
}

/** The grpc-js definition of `rangedb.v1.Admin`. */
export const ADMIN_SERVICE_DEFINITION: grpc.ServiceDefinition = grpcServiceDefinition(Admin);

/** Converts a store node record to its wire form. */
function nodeStatusOf(node: NodeInfo): NodeStatus {
  return create(NodeStatusSchema, {
    name: node.name,
    nodeId: BigInt(node.nodeId),
    peerAddress: node.peerAddress,
    clientAddress: node.clientAddress,
    adminAddress: node.adminAddress,
    role: node.role,
    leader: node.leader,
    reachable: node.reachable,
    matchIndex: BigInt(node.matchIndex),
    updatedAtMs: BigInt(node.updatedAtMs),
  });
}

/** Converts a store range record to its wire form. */
function rangeStatusOf(range: RangeInfo): RangeStatus {
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
  });
}

/**
 * Builds the ClusterStatus answer from the store.
 *
 * @param store the node's store
 * @param nodeName this node's name
 */
export function clusterStatusOf(store: KvStore, nodeName: string): ClusterStatusResponse {
  return create(ClusterStatusResponseSchema, {
    clusterId: store.clusterId,
    answeredBy: nodeName,
    healthy: store.isReady(),
    nodes: store.nodes().map(nodeStatusOf),
    ranges: store.ranges().map(rangeStatusOf),
    replicationFactor: BigInt(store.replicationFactor()),
  });
}

/**
 * Registers `rangedb.v1.Admin` on the client-facing `server`.
 *
 * @param server the grpc-js server of the client address
 * @param deps store, node name and logger
 */
export function addAdminService(server: grpc.Server, deps: AdminServiceDeps): void {
  const { store, nodeName, logger } = deps;
  server.addService(ADMIN_SERVICE_DEFINITION, {
    ClusterStatus: (
      _call: grpc.ServerUnaryCall<ClusterStatusRequest, ClusterStatusResponse>,
      callback: grpc.sendUnaryData<ClusterStatusResponse>,
    ) => {
      try {
        callback(null, clusterStatusOf(store, nodeName()));
      } catch (err) {
        callback(toServiceError(err, { logger }));
      }
    },
    ListNodes: (
      _call: grpc.ServerUnaryCall<ListNodesRequest, ListNodesResponse>,
      callback: grpc.sendUnaryData<ListNodesResponse>,
    ) => {
      try {
        callback(null, create(ListNodesResponseSchema, { nodes: store.nodes().map(nodeStatusOf) }));
      } catch (err) {
        callback(toServiceError(err, { logger }));
      }
    },
  });
}
