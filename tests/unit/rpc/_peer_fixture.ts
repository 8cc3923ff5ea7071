/**
 * Helpers of the peer transport tests: a node (a {@linkcode GrpcPeerTransport} and its peer
 * service on 127.0.0.1, served through the GOAWAY-filtering listener like a real node) that
 * counts the RaftMessages calls it accepts, and a raw RaftMessages dialler.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { SystemClock } from "../../../src/base/clock.ts";
import type { Message } from "../../../src/raft/mod.ts";
import { MessageType } from "../../../src/raft/mod.ts";
import { PeerClient } from "../../../src/rpc/forwarder.ts";
import { SERVER_OPTIONS } from "../../../src/rpc/grpc_definition.ts";
import { listenGrpc } from "../../../src/rpc/grpc_listener.ts";
import type { DialledRaftStream } from "../../../src/rpc/peer_connection.ts";
import { addPeerService } from "../../../src/rpc/peer_service.ts";
import { GrpcPeerTransport } from "../../../src/rpc/peer_transport.ts";
import {
  RaftMessagesRequestSchema,
  type RaftMessagesResponse,
} from "../../../proto/gen/rangedb/v1/peer_pb.ts";
import {
  type RaftMessageBatch,
  RaftMessageBatchSchema,
} from "../../../proto/gen/rangedb/v1/raft_pb.ts";
import { quietLogger, RecordingHandler } from "./_grpc_fixture.ts";

/** A Raft message with `index` set, from node 1 to node 2. */
export function msg(index: number, type: MessageType = MessageType.App): Message {
  return {
    type,
    to: 2,
    from: 1,
    term: 1,
    logTerm: 1,
    index,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
  };
}

/** A transport and its peer service. */
export interface TestNode {
  id: number;
  transport: GrpcPeerTransport;
  /** What the transport and the peer service received. */
  handler: RecordingHandler;
  port: number;
  address: string;
  /** RaftMessages calls the peer service was given. */
  calls: number;
  /** Closes the transport, then the listener and the server. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startNode}. */
export interface StartNodeOptions {
  /** Peer addresses by node id, read at every resolve. */
  addresses: Map<number, string>;
  peers?: () => Iterable<number>;
  clusterId?: string;
  /** The port to listen on; 0 (default) picks one. */
  port?: number;
  /** The cluster id of the peer service when it differs from the transport's. */
  serviceClusterId?: string;
  /** This node's incarnation. @default "" */
  incarnation?: string;
  /** The incarnations this node has on record, by node id; others pass. */
  recorded?: Map<number, string>;
}

/** Starts node `id`, records its address in `options.addresses`. */
export async function startNode(id: number, options: StartNodeOptions): Promise<TestNode> {
  const clusterId = options.clusterId ?? "c1";
  const incarnationMatches = (nodeId: number, incarnation: string) =>
    options.recorded?.get(nodeId) === undefined || options.recorded.get(nodeId) === incarnation;
  const transport = new GrpcPeerTransport({
    clusterId,
    nodeId: id,
    resolve: (nodeId) => options.addresses.get(nodeId),
    peers: options.peers,
    incarnation: options.incarnation,
    incarnationMatches,
    logger: quietLogger(),
    clock: new SystemClock(),
  });
  const handler = new RecordingHandler();
  transport.setHandler(handler);
  const server = new grpc.Server(SERVER_OPTIONS);
  const node = { calls: 0 } as TestNode;
  // Counts the RaftMessages calls on their way to the peer service.
  const counting = {
    addService(def: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) {
      const raftMessages = impl.RaftMessages as (call: unknown) => void;
      server.addService(def, {
        ...impl,
        RaftMessages: (call: unknown) => {
          node.calls++;
          raftMessages(call);
        },
      });
    },
  } as unknown as grpc.Server;
  addPeerService(counting, {
    clusterId: () => options.serviceClusterId ?? clusterId,
    handler,
    raftStreams: () => transport,
    forward: () => Promise.reject(new Error("unused")),
    join: () => Promise.reject(new Error("unused")),
    logger: quietLogger(),
    incarnationMatches,
  });
  const listener = await listenGrpc(server, "127.0.0.1", options.port ?? 0);
  const address = `127.0.0.1:${listener.port}`;
  options.addresses.set(id, address);
  return Object.assign(node, {
    id,
    transport,
    handler,
    port: listener.port,
    address,
    stop: () => {
      transport.close();
      listener.close();
      server.forceShutdown();
      return Promise.resolve();
    },
  });
}

/** A RaftMessages stream dialled by hand, with what it received and how it ended. */
export interface RawStream {
  stream: DialledRaftStream;
  batches: RaftMessageBatch[];
  /** Whether the acceptor sent headers (accepted the stream). */
  accepted: () => boolean;
  /** The status the stream ended with (OK when it ended without an error). */
  status: Promise<{ code: grpc.status; details: string }>;
  close(): void;
}

/** Dials `address` and writes a hello from `from` to `to` of `clusterId`. */
export function rawDial(address: string, clusterId: string, from: number, to: number): RawStream {
  const client = new PeerClient(address, grpc.credentials.createInsecure());
  const stream = (client as unknown as {
    RaftMessages(metadata: grpc.Metadata): DialledRaftStream;
  }).RaftMessages(new grpc.Metadata());
  const batches: RaftMessageBatch[] = [];
  let accepted = false;
  stream.on("metadata", () => accepted = true);
  stream.on("data", (res: RaftMessagesResponse) => {
    if (res.batch !== undefined) batches.push(res.batch);
  });
  const status = new Promise<{ code: grpc.status; details: string }>((resolve) => {
    stream.on("error", (err: grpc.ServiceError) => resolve(err));
    stream.on("end", () => resolve({ code: grpc.status.OK, details: "" }));
  });
  stream.write(create(RaftMessagesRequestSchema, {
    clusterId,
    batch: create(RaftMessageBatchSchema, { fromNodeId: BigInt(from), toNodeId: BigInt(to) }),
  }));
  return {
    stream,
    batches,
    accepted: () => accepted,
    status,
    close: () => {
      stream.cancel();
      client.close();
    },
  };
}
