/**
 * The gRPC implementation of the store's {@linkcode RaftTransport}: one grpc-js client and one
 * long-lived `Peer.RaftMessages` stream per destination node (see {@linkcode PeerConnection}),
 * each scheduler turn's messages for a node written as one `RaftMessagesRequest`, and snapshots
 * streamed over `Peer.Snapshot` (see {@linkcode streamSnapshot}).
 *
 * Each node dials its own stream to every other node, so a node pair uses two streams, each
 * written by its dialler (docs/design/0007). A node whose address changes (the resolver returns
 * another one) is redialled.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import type { Clock } from "../base/clock.ts";
import type { Logger } from "../base/logger.ts";
import type {
  OutgoingSnapshot,
  RaftTransport,
  RangeMessage,
  TransportHandler,
} from "../kv/transport.ts";
import { RaftMessagesRequestSchema } from "../../proto/gen/rangedb/v1/peer_pb.ts";
import { RaftMessageBatchSchema } from "../../proto/gen/rangedb/v1/raft_pb.ts";
import { rangeMessageToProto } from "./codec_raft.ts";
import { PeerConnection } from "./peer_connection.ts";
import { SNAPSHOT_TIMEOUT_MS, streamSnapshot } from "./snapshot_sender.ts";

/** Options of {@linkcode GrpcPeerTransport}. */
export interface GrpcPeerTransportOptions {
  /** This node's cluster id, sent with every batch. */
  clusterId: string;
  /** This node's id. */
  nodeId: number;
  /** The peer address of a node; undefined while unknown (its messages are dropped). */
  resolve: (nodeId: number) => string | undefined;
  logger: Logger;
  clock: Clock;
  /** Random source in [0, 1) for reconnect jitter. @default Math.random */
  random?: () => number;
}

/**
 * The gRPC peer transport.
 *
 * @example
 * ```ts ignore
 * const transport = new GrpcPeerTransport({ clusterId, nodeId: 1, resolve, logger, clock });
 * transport.setHandler(store);
 * transport.send(2, messages);
 * transport.close();
 * ```
 */
export class GrpcPeerTransport implements RaftTransport {
  readonly #clusterId: string;
  readonly #nodeId: number;
  readonly #resolve: (nodeId: number) => string | undefined;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #connections = new Map<number, PeerConnection>();
  readonly #unresolvedReported = new Set<number>();
  #handler: TransportHandler | undefined;
  #closed = false;

  /** @param options identity, address resolver, logger, clock */
  constructor(options: GrpcPeerTransportOptions) {
    this.#clusterId = options.clusterId;
    this.#nodeId = options.nodeId;
    this.#resolve = options.resolve;
    this.#logger = options.logger;
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
  }

  /** Sets the receiver of unreachable reports (the store). */
  setHandler(handler: TransportHandler): void {
    this.#handler = handler;
  }

  /** Writes the messages of one scheduler turn for `toNodeId`, or drops them. */
  send(toNodeId: number, messages: RangeMessage[]): void {
    if (this.#closed || messages.length === 0) return;
    const conn = this.#connection(toNodeId);
    if (conn === undefined) return;
    conn.send(create(RaftMessagesRequestSchema, {
      clusterId: this.#clusterId,
      batch: create(RaftMessageBatchSchema, {
        fromNodeId: BigInt(this.#nodeId),
        toNodeId: BigInt(toNodeId),
        messages: messages.map(rangeMessageToProto),
      }),
    }));
  }

  /** Streams a snapshot to `toNodeId`; resolves whether it was accepted. Never rejects. */
  sendSnapshot(toNodeId: number, snapshot: OutgoingSnapshot): Promise<boolean> {
    const conn = this.#closed ? undefined : this.#connection(toNodeId);
    if (conn === undefined) {
      snapshot.close();
      return Promise.resolve(false);
    }
    return streamSnapshot({
      client: conn.client,
      clusterId: this.#clusterId,
      fromNodeId: this.#nodeId,
      toNodeId,
      deadline: this.#clock.now() + SNAPSHOT_TIMEOUT_MS,
      logger: this.#logger,
    }, snapshot);
  }

  /** Ends every stream and client; later sends are dropped. */
  close(): void {
    this.#closed = true;
    for (const conn of this.#connections.values()) conn.close();
    this.#connections.clear();
  }

  /** The connection to `nodeId` at its current address; undefined (reported) when unknown. */
  #connection(nodeId: number): PeerConnection | undefined {
    const address = this.#resolve(nodeId);
    let conn = this.#connections.get(nodeId);
    if (address === undefined) {
      if (!this.#unresolvedReported.has(nodeId)) {
        this.#unresolvedReported.add(nodeId);
        this.#logger.warn("peer address unknown", { to_node_id: nodeId });
        this.#handler?.reportUnreachable(nodeId);
      }
      return undefined;
    }
    this.#unresolvedReported.delete(nodeId);
    if (conn !== undefined && conn.address !== address) {
      this.#logger.info("peer address changed", {
        to_node_id: nodeId,
        address,
        previous_address: conn.address,
      });
      conn.close();
      conn = undefined;
    }
    if (conn === undefined) {
      conn = new PeerConnection({
        toNodeId: nodeId,
        address,
        clock: this.#clock,
        logger: this.#logger,
        random: this.#random,
        onUnreachable: () => this.#handler?.reportUnreachable(nodeId),
      });
      this.#connections.set(nodeId, conn);
    }
    return conn;
  }
}
