/**
 * The gRPC implementation of the store's {@linkcode RaftTransport}: one long-lived
 * `Peer.RaftMessages` stream per node pair, dialled by the node with the lower id and written by
 * both (see {@linkcode PeerConnection}), each scheduler turn's messages for a node written as one
 * batch, and snapshots streamed over `Peer.Snapshot` (see {@linkcode streamSnapshot}).
 *
 * A node dials every higher-id node it sends to and every higher-id node that `peers` names
 * (polled every {@linkcode PEERS_REFRESH_MS}), so that it can also receive from nodes it has
 * nothing to send to yet. Streams from lower-id nodes arrive through the peer service, which
 * hands them to {@linkcode GrpcPeerTransport.accept}. A node whose address changes (the resolver
 * returns another one) gets a new client and is redialled.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import type { Cancel, Clock } from "../base/clock.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { Logger } from "../base/logger.ts";
import type {
  OutgoingSnapshot,
  RaftTransport,
  RangeMessage,
  TransportHandler,
} from "../kv/transport.ts";
import type { RaftMessageBatch } from "../../proto/gen/rangedb/v1/raft_pb.ts";
import { raftBatchFromProto, raftBatchToProto } from "./codec_raft.ts";
import { PeerClient } from "./forwarder.ts";
import { PEER_CHANNEL_OPTIONS } from "./grpc_definition.ts";
import { type AcceptedRaftStream, PeerConnection } from "./peer_connection.ts";
import { SNAPSHOT_TIMEOUT_MS, streamSnapshot } from "./snapshot_sender.ts";
import { toServiceError } from "./status.ts";

/** How often the transport asks `peers` which nodes to keep streams with. */
export const PEERS_REFRESH_MS = 1_000;

/** Options of {@linkcode GrpcPeerTransport}. */
export interface GrpcPeerTransportOptions {
  /** This node's cluster id, sent with every batch. */
  clusterId: string;
  /** This node's id. */
  nodeId: number;
  /** The peer address of a node; undefined while unknown (its messages are dropped). */
  resolve: (nodeId: number) => string | undefined;
  /**
   * The ids of the nodes of the cluster (this node's own id may be among them). The transport
   * keeps a stream dialled to each one with a higher id than this node. @default none
   */
  peers?: () => Iterable<number>;
  logger: Logger;
  clock: Clock;
  /** Random source in [0, 1) for reconnect jitter. @default Math.random */
  random?: () => number;
  /** This node's incarnation, sent when a Raft stream opens. @default "" */
  incarnation?: string;
  /** Whether a node may exchange messages as the incarnation it sent. @default always */
  incarnationMatches?: (nodeId: number, incarnation: string) => boolean;
}

/**
 * The gRPC peer transport.
 *
 * @example
 * ```ts ignore
 * const transport = new GrpcPeerTransport({ clusterId, nodeId: 1, resolve, peers, logger, clock });
 * transport.setHandler(store);
 * transport.send(2, messages);
 * transport.close();
 * ```
 */
export class GrpcPeerTransport implements RaftTransport {
  /** This node's id. */
  readonly nodeId: number;
  readonly #clusterId: string;
  readonly #resolve: (nodeId: number) => string | undefined;
  readonly #peers: (() => Iterable<number>) | undefined;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #options: GrpcPeerTransportOptions;
  readonly #connections = new Map<number, PeerConnection>();
  readonly #clients = new Map<number, { address: string; client: grpc.Client }>();
  #handler: TransportHandler | undefined;
  #cancelRefresh: Cancel | undefined;
  #closed = false;

  /** @param options identity, address resolver, peer ids, logger, clock */
  constructor(options: GrpcPeerTransportOptions) {
    this.#options = options;
    this.#clusterId = options.clusterId;
    this.nodeId = options.nodeId;
    this.#resolve = options.resolve;
    this.#peers = options.peers;
    this.#logger = options.logger;
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
    if (this.#peers !== undefined) this.#refresh();
  }

  /** Sets the receiver of messages and unreachable reports (the store). */
  setHandler(handler: TransportHandler): void {
    this.#handler = handler;
  }

  /**
   * Writes the messages of one scheduler turn or tick for `toNodeId` as one batch (heartbeats
   * coalesced), or drops them. An empty batch is written too: it tells the node this one is live.
   */
  send(toNodeId: number, messages: RangeMessage[]): void {
    if (this.#closed || toNodeId === this.nodeId) return;
    const conn = this.#connection(toNodeId);
    if (conn.dials && this.#addressChanged(toNodeId)) conn.redial();
    conn.send(raftBatchToProto(this.nodeId, toNodeId, messages));
  }

  /** Streams a snapshot to `toNodeId`; resolves whether it was accepted. Never rejects. */
  sendSnapshot(toNodeId: number, snapshot: OutgoingSnapshot): Promise<boolean> {
    const client = this.#closed ? undefined : this.#client(toNodeId);
    if (client === undefined) {
      snapshot.close();
      return Promise.resolve(false);
    }
    return streamSnapshot({
      client,
      clusterId: this.#clusterId,
      fromNodeId: this.nodeId,
      toNodeId,
      deadline: this.#clock.now() + SNAPSHOT_TIMEOUT_MS,
      logger: this.#logger,
    }, snapshot);
  }

  /**
   * Takes a RaftMessages stream that node `fromNodeId` dialled, after the peer service checked
   * its cluster id and that `fromNodeId` is lower than this node's id. It replaces the node's
   * previous stream.
   *
   * @param fromNodeId the dialling node
   * @param call the stream, its hello read
   */
  accept(fromNodeId: number, call: AcceptedRaftStream): void {
    if (this.#closed) {
      call.emit(
        "error",
        toServiceError(
          new RangeDbError(
            ErrorCode.UNAVAILABLE,
            `Cannot accept raft stream as the node is shutting down: node is ${this.nodeId}`,
          ),
        ),
      );
      return;
    }
    this.#connection(fromNodeId).accept(call);
  }

  /** Ends every stream and client; later sends are dropped. */
  close(): void {
    this.#closed = true;
    this.#cancelRefresh?.();
    for (const conn of this.#connections.values()) conn.close();
    this.#connections.clear();
    for (const { client } of this.#clients.values()) client.close();
    this.#clients.clear();
  }

  /** Dials the higher-id nodes `peers` names that have no connection yet; re-arms itself. */
  #refresh(): void {
    this.#cancelRefresh = undefined;
    if (this.#closed) return;
    try {
      for (const id of this.#peers!()) {
        if (id > this.nodeId) this.#connection(id);
      }
    } catch (err) {
      this.#logger.warn("peer list unavailable", { err: String(err) });
    }
    this.#cancelRefresh = this.#clock.after(PEERS_REFRESH_MS, () => this.#refresh());
  }

  /** The connection to `nodeId`, created (and, when this node dials, dialling) on first use. */
  #connection(nodeId: number): PeerConnection {
    let conn = this.#connections.get(nodeId);
    if (conn === undefined) {
      conn = new PeerConnection({
        clusterId: this.#clusterId,
        nodeId: this.nodeId,
        peerNodeId: nodeId,
        client: () => this.#client(nodeId),
        clock: this.#clock,
        logger: this.#logger,
        random: this.#random,
        onBatch: (batch) => this.#receive(nodeId, batch),
        onUnreachable: () => this.#handler?.reportUnreachable(nodeId),
        incarnation: this.#options.incarnation,
        incarnationMatches: this.#options.incarnationMatches,
      });
      this.#connections.set(nodeId, conn);
    }
    return conn;
  }

  /** Whether the resolver now gives `nodeId` another address than its client's. */
  #addressChanged(nodeId: number): boolean {
    const known = this.#clients.get(nodeId);
    const address = this.#resolve(nodeId);
    return known !== undefined && address !== undefined && known.address !== address;
  }

  /**
   * The client of `nodeId` at its current address (the last known one while the resolver has
   * none); undefined while no address was ever known. A changed address replaces the client.
   */
  #client(nodeId: number): grpc.Client | undefined {
    const address = this.#resolve(nodeId);
    const known = this.#clients.get(nodeId);
    if (address === undefined || known?.address === address) return known?.client;
    const client = new PeerClient(address, grpc.credentials.createInsecure(), PEER_CHANNEL_OPTIONS);
    this.#clients.set(nodeId, { address, client });
    if (known !== undefined) {
      this.#logger.info("peer address changed", {
        to_node_id: nodeId,
        address,
        previous_address: known.address,
      });
      known.client.close();
    }
    return client;
  }

  /**
   * A batch `fromNodeId` wrote on its stream: decoded and handed to the store, even when empty
   * (the store counts it as hearing from the node).
   */
  #receive(fromNodeId: number, batch: RaftMessageBatch): void {
    let messages: RangeMessage[];
    try {
      if (batch.fromNodeId !== BigInt(fromNodeId)) {
        throw new RangeDbError(
          ErrorCode.INVALID_ARGUMENT,
          `Cannot accept raft batch as it names another sender than its stream: from_node_id is ${batch.fromNodeId}, stream is from ${fromNodeId}`,
        );
      }
      messages = raftBatchFromProto(batch);
    } catch (err) {
      this.#logger.warn("peer raft batch dropped", {
        from_node_id: fromNodeId,
        err: (err as Error).message,
      });
      return;
    }
    this.#handler?.receive(fromNodeId, messages);
  }
}
