/**
 * RangeDB's side of `bench/kv_bench.ts`: its KV protocol for {@linkcode KvTarget}, a cluster of
 * real server processes from the e2e harness ({@linkcode TestCluster}), and the leader's client
 * address from `Admin.ClusterStatus`.
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type ClusterStatusRequest,
  ClusterStatusRequestSchema,
  type ClusterStatusResponse,
  ClusterStatusResponseSchema,
} from "../proto/gen/rangedb/v1/admin_pb.ts";
import {
  type GetRequest,
  GetRequestSchema,
  type PutRequest,
  PutRequestSchema,
} from "../proto/gen/rangedb/v1/kv_pb.ts";
import { TestCluster } from "../tests/harness/cluster.ts";
import type { KvProtocol } from "./_kv_target.ts";

/**
 * RangeDB's KV API: Put without a request id (etcd's Put has no deduplication either), and the
 * default linearizable Get.
 */
export const RANGEDB_PROTOCOL: KvProtocol<PutRequest, GetRequest> = {
  name: "RangeDB",
  putPath: "/rangedb.v1.KV/Put",
  getPath: "/rangedb.v1.KV/Get",
  putRequest: (key, value) => create(PutRequestSchema, { key, value }),
  getRequest: (key) => create(GetRequestSchema, { key }),
  encodePut: (req) => toBinary(PutRequestSchema, req),
  encodeGet: (req) => toBinary(GetRequestSchema, req),
};

/** A running RangeDB cluster, as the benchmark uses it. */
export interface RangeDbCluster {
  /** Client addresses of the nodes, in node order. */
  clientAddresses(): string[];
  /** Stops every node and removes the data directories. */
  stop(): Promise<void>;
}

/**
 * Starts `nodes` real server processes with the e2e harness and waits until every node is ready.
 * Nodes log at "warn" only, so that logging does not weigh on the measurement.
 *
 * @param nodes the number of initial members
 * @param dataRoot the parent of the temp directory holding the data directories
 * @throws {Error} with the nodes' stderr when the cluster cannot start
 */
export async function startRangeDbCluster(
  nodes: number,
  dataRoot: string | undefined,
): Promise<RangeDbCluster> {
  const root = await Deno.makeTempDir({ dir: dataRoot, prefix: "rangedb_bench_" });
  const removeRoot = () => Deno.remove(root, { recursive: true });
  let cluster: TestCluster;
  try {
    cluster = await TestCluster.start({ nodes, dataRoot: root, logLevel: "warn" });
  } catch (err) {
    await removeRoot();
    throw err;
  }
  const stop = async () => {
    await cluster.stop();
    await removeRoot();
  };
  try {
    await cluster.waitAllReady();
  } catch (err) {
    await stop();
    throw err;
  }
  return { clientAddresses: () => cluster.clientAddresses(), stop };
}

const ADMIN_CLUSTER_STATUS = "/rangedb.v1.Admin/ClusterStatus";

/**
 * Asks `endpoint` for the cluster status until range 1 has a leader whose client address is
 * known, and returns that address.
 *
 * @throws {Error} when no leader is known within `timeoutMs`
 */
export async function rangeDbLeaderAddress(endpoint: string, timeoutMs: number): Promise<string> {
  const client = new grpc.Client(endpoint, grpc.credentials.createInsecure());
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  try {
    for (;;) {
      try {
        const status = await clusterStatus(client);
        const leaderId = status.ranges.find((r) => r.rangeId === 1n)?.leaderNodeId ?? 0n;
        const leader = status.nodes.find((n) => n.nodeId === leaderId && leaderId !== 0n);
        if (leader !== undefined && leader.clientAddress !== "") return leader.clientAddress;
        last = `range 1 leader is node ${leaderId}`;
      } catch (err) {
        last = String(err);
      }
      if (Date.now() > deadline) {
        throw new Error(`Cannot find the RangeDB leader in time: ${last}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    client.close();
  }
}

function clusterStatus(client: grpc.Client): Promise<ClusterStatusResponse> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      ADMIN_CLUSTER_STATUS,
      (m: ClusterStatusRequest) => Buffer.from(toBinary(ClusterStatusRequestSchema, m)),
      (b: Buffer) => fromBinary(ClusterStatusResponseSchema, b),
      create(ClusterStatusRequestSchema, {}),
      { deadline: Date.now() + 2_000 },
      (err: grpc.ServiceError | null, res?: ClusterStatusResponse) =>
        err === null && res !== undefined ? resolve(res) : reject(err),
    );
  });
}
