/**
 * The client admin service `rangedb.v1.Admin`: cluster status and the node list, answered from
 * this node's view of the store (`nodes()`, `ranges()`, `replicationFactor()`, `isReady()`), the
 * partition and meta requests of {@linkcode AdminPartitions} and the cluster settings requests of
 * {@linkcode AdminConfig}.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import type { Clock } from "../base/clock.ts";
import type { Logger } from "../base/logger.ts";
import type { KvStore, NodeInfo } from "../kv/kv_store.ts";
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
} from "../../proto/gen/rangedb/v1/admin_pb.ts";
import type { AdminConfig } from "./admin_config.ts";
import type { AdminPartitions } from "./admin_partitions.ts";
import { grpcServiceDefinition } from "./grpc_definition.ts";
import type { CallContext } from "./kv_request_routing.ts";
import { callDeadline } from "./kv_service.ts";
import { rangeStatusOf } from "./range_codec.ts";
import { toServiceError } from "./status.ts";

/** Dependencies of {@linkcode addAdminService}. */
export interface AdminServiceDeps {
  store: KvStore;
  /** The partition and meta requests. */
  partitions: AdminPartitions;
  /** The cluster settings requests. */
  config: AdminConfig;
  /** This node's name (`--node-id`), reported as `answered_by`; known once the node has its
   * identity, which may be after the service is added. */
  nodeName: () => string;
  clock: Clock;
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
    ranges: store.ranges().map((r) => rangeStatusOf(r)),
    replicationFactor: BigInt(store.replicationFactor()),
  });
}

/**
 * Registers `rangedb.v1.Admin` on the client-facing `server`.
 *
 * @param server the grpc-js server of the client address
 * @param deps store, partition requests, node name, clock and logger
 */
export function addAdminService(server: grpc.Server, deps: AdminServiceDeps): void {
  const { store, partitions, config, nodeName, clock, logger } = deps;
  const unary =
    <Req, Res>(run: (req: Req, ctx: CallContext) => Promise<Res>) =>
    (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
      const ctx = { deadline: callDeadline(call.getDeadline(), clock.now()), forwarded: false };
      let running: Promise<Res>;
      try {
        running = run(call.request, ctx);
      } catch (err) {
        running = Promise.reject(err);
      }
      running.then(
        (res) => callback(null, res),
        (err) => callback(toServiceError(err, { logger })),
      );
    };
  server.addService(ADMIN_SERVICE_DEFINITION, {
    ListPartitions: unary(partitions.listPartitions.bind(partitions)),
    SplitPartition: unary(partitions.splitPartition.bind(partitions)),
    MergePartition: unary(partitions.mergePartition.bind(partitions)),
    LookupRange: unary(partitions.lookupRange.bind(partitions)),
    MetaList: unary(partitions.metaList.bind(partitions)),
    MetaGet: unary(partitions.metaGet.bind(partitions)),
    GetConfig: unary(config.getConfig.bind(config)),
    SetConfig: unary(config.setConfig.bind(config)),
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
