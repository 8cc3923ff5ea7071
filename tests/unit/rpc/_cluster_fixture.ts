/**
 * In-process "nodes" for the routing tests: each has a fake store (the test scripts its answers),
 * the real request logic (KvHandlers, AdminPartitions, GrpcClusterRouter), a real Forwarder, and
 * real gRPC servers on 127.0.0.1: a peer server with Peer.Forward (through the forwarded-request
 * runner, recording every method it receives) and a client server with KV and Admin. The stores
 * know each other's peer and client addresses, and every node is a voter of range 1.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { SystemClock } from "../../../src/base/clock.ts";
import type { KvStore, NodeInfo, RangeInfo } from "../../../src/kv/kv_store.ts";
import { AdminConfig } from "../../../src/rpc/admin_config.ts";
import { AdminPartitions } from "../../../src/rpc/admin_partitions.ts";
import { addAdminService } from "../../../src/rpc/admin_service.ts";
import { GrpcClusterRouter } from "../../../src/rpc/cluster_router.ts";
import { createForwardedRunner } from "../../../src/rpc/forwarded_requests.ts";
import { Forwarder } from "../../../src/rpc/forwarder.ts";
import { KvHandlers } from "../../../src/rpc/kv_handlers.ts";
import { addKvService } from "../../../src/rpc/kv_service.ts";
import { addPeerService } from "../../../src/rpc/peer_service.ts";
import { fakeStore, quietLogger, RecordingHandler, startServer } from "./_grpc_fixture.ts";

const clock = new SystemClock();

/** One node of {@linkcode startNodes}. */
export interface FixtureNode {
  id: number;
  store: KvStore;
  kv: KvHandlers;
  admin: AdminPartitions;
  router: GrpcClusterRouter;
  peerAddress: string;
  clientAddress: string;
  /** The Peer.Forward methods this node received, in order. */
  received: string[];
}

/** Running nodes. */
export interface FixtureCluster {
  node(id: number): FixtureNode;
  /** Every Forward method received by any node, as "nodeId:method". */
  received(): string[];
  stop(): Promise<void>;
}

/** What each node's fake store answers, by node id. */
export type StoreScripts = Record<number, Partial<KvStore>>;

/**
 * A range record for fake stores.
 *
 * @param rangeId the id
 * @param start first key (text)
 * @param end end key (text, "" for the end of the key space)
 * @param fields leader, voters, local and anything else to set
 */
export function rangeInfo(
  rangeId: number,
  start: string,
  end: string,
  fields: Partial<RangeInfo> = {},
): RangeInfo {
  const enc = new TextEncoder();
  return {
    rangeId,
    start: enc.encode(start),
    end: enc.encode(end),
    generation: 1,
    voters: [1, 2, 3],
    learners: [],
    leaderNodeId: 0,
    term: 1,
    commitIndex: 10,
    appliedIndex: 10,
    liveKeys: 0,
    liveBytes: 0,
    writesPerSecond: 0,
    frozenIntoRangeId: 0,
    local: false,
    ...fields,
  };
}

/**
 * Starts one node per key of `scripts` (node ids), wired to each other.
 *
 * @param scripts each node's store overrides
 * @returns the nodes
 */
export async function startNodes(scripts: StoreScripts): Promise<FixtureCluster> {
  const ids = Object.keys(scripts).map(Number);
  const peerAddresses = new Map<number, string>();
  const clientAddresses = new Map<number, string>();
  const nodes = new Map<number, FixtureNode>();
  const stops: (() => Promise<void> | void)[] = [];
  const all: string[] = [];
  const logger = quietLogger();
  try {
    for (const id of ids) {
      const received: string[] = [];
      const infos = (): NodeInfo[] =>
        ids.map((n) => ({
          name: `n${n}`,
          nodeId: n,
          peerAddress: peerAddresses.get(n) ?? "",
          clientAddress: clientAddresses.get(n) ?? "",
          adminAddress: "",
          role: "voter",
          leader: false,
          reachable: true,
          matchIndex: 0,
          updatedAtMs: 0,
        }));
      const store = fakeStore({
        nodeId: id,
        peerAddressOf: (n) => peerAddresses.get(n),
        clientAddressOf: (n) => clientAddresses.get(n),
        nodes: infos,
        ...scripts[id],
      });
      const forwarder = new Forwarder(() => "c1");
      stops.push(() => forwarder.close());
      const kv = new KvHandlers({ store, peers: forwarder, clock, logger, retryIntervalMs: 20 });
      const admin = new AdminPartitions({ store, peers: forwarder, clock, logger });
      const config = new AdminConfig({ store, peers: forwarder, clock, logger });
      const router = new GrpcClusterRouter({
        store,
        peers: forwarder,
        clock,
        logger,
        retryIntervalMs: 20,
      });
      const run = createForwardedRunner({ store, kv, admin, config, clock });
      const peer = await startServer((s) =>
        addPeerService(s, {
          clusterId: () => "c1",
          handler: new RecordingHandler(),
          forward: (method, request, deadline) => {
            received.push(method);
            all.push(`${id}:${method}`);
            return run(method, request, deadline);
          },
          join: () => Promise.reject(new Error("Cannot join in this test")),
          logger,
        })
      );
      stops.push(() => peer.stop());
      const client = await startServer((s) => {
        addKvService(s, { handlers: kv, store, clock, logger });
        addAdminService(s, {
          store,
          partitions: admin,
          config,
          nodeName: () => `n${id}`,
          clock,
          logger,
        });
      });
      stops.push(() => client.stop());
      peerAddresses.set(id, peer.address);
      clientAddresses.set(id, client.address);
      nodes.set(id, {
        id,
        store,
        kv,
        admin,
        router,
        peerAddress: peer.address,
        clientAddress: client.address,
        received,
      });
    }
  } catch (err) {
    for (const stop of stops.reverse()) await stop();
    throw err;
  }
  return {
    node: (id) => nodes.get(id)!,
    received: () => [...all],
    async stop() {
      for (const stop of stops.reverse()) await stop();
    },
  };
}

/** Runs `fn` against nodes started from `scripts`, stopping them on every exit path. */
export async function withNodes(
  scripts: StoreScripts,
  fn: (cluster: FixtureCluster) => Promise<void>,
): Promise<void> {
  const cluster = await startNodes(scripts);
  try {
    await fn(cluster);
  } finally {
    await cluster.stop();
  }
}

/** A grpc-js client of `address` for the given service definition; close it after use. */
export function clientOf(definition: grpc.ServiceDefinition, address: string): grpc.Client {
  const Client = grpc.makeGenericClientConstructor(definition, "Test");
  return new Client(address, grpc.credentials.createInsecure());
}
