/**
 * The `Peer.RaftMessages` stream between this node and one other node. A node pair shares one
 * stream, dialled by the node with the lower id and written by both (docs/design/0007).
 *
 * The dialling side opens the stream as soon as the connection exists, writes a hello (a batch
 * naming both nodes, without messages) and redials after every failure with a jittered backoff
 * (50 ms doubling to 2 s), so a stream exists whenever both nodes are up. The accepting side
 * waits for the peer service to hand it a stream ({@linkcode PeerConnection.accept}); a newer
 * stream replaces an older one, which is ended.
 *
 * While there is no stream, or its write buffer is full (write() returned false, until 'drain'),
 * sends are dropped. Each failure episode (from the first drop or failure to the next healthy
 * stream) is reported once through `onUnreachable`.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { Cancel, Clock } from "../base/clock.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { Logger } from "../base/logger.ts";
import {
  type RaftMessagesRequest,
  RaftMessagesRequestSchema,
  type RaftMessagesResponse,
  RaftMessagesResponseSchema,
} from "../../proto/gen/rangedb/v1/peer_pb.ts";
import {
  type RaftMessageBatch,
  RaftMessageBatchSchema,
} from "../../proto/gen/rangedb/v1/raft_pb.ts";
import { toServiceError } from "./status.ts";

/** First reconnect delay. */
export const MIN_BACKOFF_MS = 50;
/** Largest reconnect delay. */
export const MAX_BACKOFF_MS = 2_000;

/** The dialling side's end of a RaftMessages stream. */
export type DialledRaftStream = grpc.ClientDuplexStream<RaftMessagesRequest, RaftMessagesResponse>;
/** The accepting side's end of a RaftMessages stream. */
export type AcceptedRaftStream = grpc.ServerDuplexStream<RaftMessagesRequest, RaftMessagesResponse>;

/** Options of {@linkcode PeerConnection}. */
export interface PeerConnectionOptions {
  clusterId: string;
  /** This node's id. */
  nodeId: number;
  /** The other node's id; this node dials it when its id is higher than `nodeId`. */
  peerNodeId: number;
  /** The client to dial with; undefined while the peer's address is unknown. */
  client: () => grpc.Client | undefined;
  clock: Clock;
  logger: Logger;
  /** Random source in [0, 1) for the jitter. */
  random: () => number;
  /** A batch the other node wrote on the stream. */
  onBatch: (batch: RaftMessageBatch) => void;
  /** Called once per failure episode. */
  onUnreachable: () => void;
  /** This node's incarnation, sent to the other node when the stream opens. @default "" */
  incarnation?: string;
  /**
   * Whether the other node may exchange messages as the incarnation it sent (see
   * `KvStore.incarnationMatches`); a stream from a node that lost its data is dropped.
   * @default always
   */
  incarnationMatches?: (nodeId: number, incarnation: string) => boolean;
}

/** Metadata key carrying a node's incarnation when a Raft stream opens, both ways. */
export const INCARNATION_KEY = "rangedb-incarnation";

/** The incarnation named by `metadata`; empty when absent. */
export function incarnationIn(metadata: grpc.Metadata): string {
  const v = metadata.get(INCARNATION_KEY)[0];
  return v === undefined ? "" : String(v);
}

/** One other node's Raft message stream, dialled or accepted. */
export class PeerConnection {
  /** Whether this node dials the stream (its id is the lower one). */
  readonly dials: boolean;
  readonly #clusterId: string;
  readonly #nodeId: number;
  readonly #peerNodeId: number;
  readonly #client: () => grpc.Client | undefined;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #random: () => number;
  readonly #onBatch: (batch: RaftMessageBatch) => void;
  readonly #onUnreachable: () => void;
  readonly #options: PeerConnectionOptions;
  #stream: DialledRaftStream | AcceptedRaftStream | undefined;
  #closed = false;
  #blocked = false;
  #reported = false;
  #backoffMs = 0;
  #cancelBackoff: Cancel | undefined;

  /** @param options identities, client, clock, logger, jitter source and callbacks */
  constructor(options: PeerConnectionOptions) {
    this.#options = options;
    this.#clusterId = options.clusterId;
    this.#nodeId = options.nodeId;
    this.#peerNodeId = options.peerNodeId;
    this.dials = options.nodeId < options.peerNodeId;
    this.#client = options.client;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#random = options.random;
    this.#onBatch = options.onBatch;
    this.#onUnreachable = options.onUnreachable;
    if (this.dials) this.#dial();
  }

  /** Writes one batch, or drops it (and reports the episode) while the stream cannot take it. */
  send(batch: RaftMessageBatch): void {
    if (this.#closed) return;
    const stream = this.#stream;
    if (stream === undefined || this.#blocked) {
      this.#unreachable();
      return;
    }
    const written = this.dials
      ? (stream as DialledRaftStream).write(
        create(RaftMessagesRequestSchema, { clusterId: this.#clusterId, batch }),
      )
      : (stream as AcceptedRaftStream).write(create(RaftMessagesResponseSchema, { batch }));
    if (!written) this.#blocked = true;
  }

  /**
   * Takes a stream the other node dialled (already checked by the peer service), replacing and
   * ending the current one.
   *
   * @param call the accepted stream; its first request (the hello) has been read
   */
  accept(call: AcceptedRaftStream): void {
    const old = this.#stream as AcceptedRaftStream | undefined;
    this.#stream = call;
    this.#blocked = false;
    if (old !== undefined) {
      this.#logger.info("peer stream replaced", { from_node_id: this.#peerNodeId });
      old.emit(
        "error",
        toServiceError(
          new RangeDbError(
            ErrorCode.UNAVAILABLE,
            `Cannot keep raft stream as the node dialled a newer one: node is ${this.#peerNodeId}`,
          ),
        ),
      );
    } else if (this.#reported) {
      this.#logger.info("peer stream connected", { from_node_id: this.#peerNodeId });
    }
    this.#reported = false;
    // Headers tell the dialler that the stream is accepted, and who this node is.
    const headers = new grpc.Metadata();
    headers.set(INCARNATION_KEY, this.#options.incarnation ?? "");
    call.sendMetadata(headers);
    call.on("data", (req: RaftMessagesRequest) => {
      if (call === this.#stream && req.batch !== undefined) this.#onBatch(req.batch);
    });
    call.on("drain", () => this.#drained(call));
    call.on("end", () => {
      this.#lost(call, "stream ended by the dialler");
      call.end();
    });
    call.on("cancelled", () => this.#lost(call, "stream cancelled by the dialler"));
    call.on("error", (err: Error) => this.#lost(call, err.message));
  }

  /** Drops the dialled stream (the peer's address changed) and dials again at once. */
  redial(): void {
    if (this.#closed || !this.dials) return;
    this.#cancelBackoff?.();
    this.#cancelBackoff = undefined;
    const stream = this.#stream as DialledRaftStream | undefined;
    this.#stream = undefined;
    stream?.cancel();
    this.#dial();
  }

  /** Ends the stream; later sends do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelBackoff?.();
    const stream = this.#stream;
    this.#stream = undefined;
    if (this.dials) (stream as DialledRaftStream | undefined)?.cancel();
    else (stream as AcceptedRaftStream | undefined)?.end();
  }

  #dial(): void {
    this.#cancelBackoff = undefined;
    if (this.#closed) return;
    const client = this.#client();
    if (client === undefined) {
      this.#retry(grpc.status.UNAVAILABLE, "peer address unknown", "peer address unknown");
      return;
    }
    const metadata = new grpc.Metadata();
    metadata.set(INCARNATION_KEY, this.#options.incarnation ?? "");
    const stream = (client as unknown as {
      RaftMessages(metadata: grpc.Metadata): DialledRaftStream;
    }).RaftMessages(metadata);
    this.#stream = stream;
    this.#blocked = false;
    stream.write(create(RaftMessagesRequestSchema, {
      clusterId: this.#clusterId,
      batch: create(RaftMessageBatchSchema, {
        fromNodeId: BigInt(this.#nodeId),
        toNodeId: BigInt(this.#peerNodeId),
      }),
    }));
    stream.on("metadata", (headers: grpc.Metadata) => {
      if (stream !== this.#stream) return;
      const theirs = incarnationIn(headers);
      if (this.#options.incarnationMatches?.(this.#peerNodeId, theirs) === false) {
        this.#down(
          stream,
          grpc.status.FAILED_PRECONDITION,
          `Cannot use raft stream as node ${this.#peerNodeId} is recorded with another data ` +
            `directory: it sent incarnation ${theirs}; it lost its data and must rejoin`,
        );
        return;
      }
      if (this.#backoffMs > 0 || this.#reported) {
        this.#logger.info("peer stream connected", { to_node_id: this.#peerNodeId });
      }
      this.#backoffMs = 0;
      this.#reported = false;
    });
    stream.on("data", (res: RaftMessagesResponse) => {
      if (stream === this.#stream && res.batch !== undefined) this.#onBatch(res.batch);
    });
    stream.on("drain", () => this.#drained(stream));
    stream.on("error", (err: grpc.ServiceError) => this.#down(stream, err.code, err.details));
    stream.on("end", () => this.#down(stream, grpc.status.OK, "stream ended by the acceptor"));
  }

  #drained(stream: DialledRaftStream | AcceptedRaftStream): void {
    if (stream !== this.#stream) return;
    this.#blocked = false;
    this.#reported = false;
  }

  /** The accepted stream ended or failed: wait for the dialler to open a new one. */
  #lost(call: AcceptedRaftStream, reason: string): void {
    if (call !== this.#stream) return;
    this.#stream = undefined;
    this.#logger.debug("peer stream down", { from_node_id: this.#peerNodeId, err: reason });
    this.#unreachable();
  }

  /** The dialled stream ended or failed: dial again after the backoff. */
  #down(stream: DialledRaftStream, code: number, details: string): void {
    if (stream !== this.#stream) return;
    this.#stream = undefined;
    stream.cancel();
    this.#retry(
      code,
      details,
      code === grpc.status.FAILED_PRECONDITION ? "peer stream refused" : undefined,
    );
  }

  /**
   * Schedules the next dial. `warning` names a lasting condition (a refusal, an unknown address),
   * logged as a warning once per failure episode rather than at every retry.
   */
  #retry(code: number, details: string, warning: string | undefined): void {
    this.#backoffMs = this.#backoffMs === 0
      ? MIN_BACKOFF_MS
      : Math.min(MAX_BACKOFF_MS, this.#backoffMs * 2);
    const delay = this.#backoffMs * (0.5 + 0.5 * this.#random());
    const fields = {
      to_node_id: this.#peerNodeId,
      code: grpc.status[code],
      err: details,
      backoff_ms: Math.round(delay),
    };
    if (warning !== undefined && !this.#reported) this.#logger.warn(warning, fields);
    else this.#logger.debug("peer stream down", fields);
    this.#cancelBackoff = this.#clock.after(delay, () => this.#dial());
    this.#unreachable();
  }

  #unreachable(): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#onUnreachable();
  }
}
