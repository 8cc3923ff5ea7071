/**
 * The dialling side of one destination node: a grpc-js client for its peer address and the
 * long-lived `Peer.RaftMessages` stream to it, opened lazily by the first send and again, after
 * a jittered backoff (50 ms doubling to 2 s), by the first send after a failure.
 *
 * States: `idle` (no stream; the next send opens one), `open` (writes go to the stream),
 * `backoff` (the stream failed; sends are dropped until the backoff timer returns to `idle`),
 * `closed`. While `open`, a full write buffer (write() returned false) drops sends until
 * 'drain'. Each failure episode (from the first drop to the next healthy stream) is reported
 * once through `onUnreachable`.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import type { Cancel, Clock } from "../base/clock.ts";
import type { Logger } from "../base/logger.ts";
import type { RaftMessagesRequest } from "../../proto/gen/rangedb/v1/peer_pb.ts";
import { PeerClient } from "./forwarder.ts";
import { PEER_CHANNEL_OPTIONS } from "./grpc_definition.ts";

/** First reconnect delay. */
export const MIN_BACKOFF_MS = 50;
/** Largest reconnect delay. */
export const MAX_BACKOFF_MS = 2_000;

/** Options of {@linkcode PeerConnection}. */
export interface PeerConnectionOptions {
  toNodeId: number;
  address: string;
  clock: Clock;
  logger: Logger;
  /** Random source in [0, 1) for the jitter. */
  random: () => number;
  /** Called once per failure episode. */
  onUnreachable: () => void;
}

type State = "idle" | "open" | "backoff" | "closed";

/** One destination node's client and Raft message stream. */
export class PeerConnection {
  /** The peer address dialled. */
  readonly address: string;
  /** The grpc-js client of `address` (shared by the snapshot stream). */
  readonly client: grpc.Client;
  readonly #toNodeId: number;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #random: () => number;
  readonly #onUnreachable: () => void;
  #state: State = "idle";
  #stream: grpc.ClientDuplexStream<RaftMessagesRequest, unknown> | undefined;
  #blocked = false;
  #reported = false;
  #backoffMs = 0;
  #cancelBackoff: Cancel | undefined;

  /** @param options destination, clock, logger, jitter source and unreachable callback */
  constructor(options: PeerConnectionOptions) {
    this.address = options.address;
    this.#toNodeId = options.toNodeId;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#random = options.random;
    this.#onUnreachable = options.onUnreachable;
    this.client = new PeerClient(
      options.address,
      grpc.credentials.createInsecure(),
      PEER_CHANNEL_OPTIONS,
    );
  }

  /** Writes one batch, or drops it (and reports the episode) while the stream cannot take it. */
  send(request: RaftMessagesRequest): void {
    if (this.#state === "closed") return;
    if (this.#state === "idle") this.#open();
    if (this.#state !== "open" || this.#blocked || this.#stream === undefined) {
      this.#unreachable();
      return;
    }
    if (!this.#stream.write(request)) this.#blocked = true;
  }

  /** Ends the stream and the client; later sends do nothing. */
  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#cancelBackoff?.();
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.cancel();
    this.client.close();
  }

  #open(): void {
    const stream = (this.client as unknown as {
      RaftMessages(metadata: grpc.Metadata): grpc.ClientDuplexStream<RaftMessagesRequest, unknown>;
    }).RaftMessages(new grpc.Metadata());
    this.#stream = stream;
    this.#state = "open";
    this.#blocked = false;
    // The server sends headers as soon as it accepts the stream: the connection is healthy.
    stream.on("metadata", () => {
      if (stream !== this.#stream) return;
      if (this.#backoffMs > 0 || this.#reported) {
        this.#logger.info("peer stream connected", {
          to_node_id: this.#toNodeId,
          address: this.address,
        });
      }
      this.#backoffMs = 0;
      this.#reported = false;
    });
    stream.on("drain", () => {
      if (stream !== this.#stream) return;
      this.#blocked = false;
      this.#reported = false;
    });
    stream.on("data", () => {});
    stream.on("error", (err: grpc.ServiceError) => this.#down(stream, err.code, err.details));
    stream.on("end", () => this.#down(stream, grpc.status.OK, "stream ended by the receiver"));
  }

  #down(
    stream: grpc.ClientDuplexStream<RaftMessagesRequest, unknown>,
    code: number,
    details: string,
  ) {
    if (stream !== this.#stream || this.#state !== "open") return;
    this.#stream = undefined;
    stream.cancel();
    this.#backoffMs = this.#backoffMs === 0
      ? MIN_BACKOFF_MS
      : Math.min(MAX_BACKOFF_MS, this.#backoffMs * 2);
    const delay = this.#backoffMs * (0.5 + 0.5 * this.#random());
    const fields = {
      to_node_id: this.#toNodeId,
      address: this.address,
      code: grpc.status[code],
      err: details,
      backoff_ms: Math.round(delay),
    };
    if (code === grpc.status.FAILED_PRECONDITION) this.#logger.warn("peer stream refused", fields);
    else this.#logger.debug("peer stream down", fields);
    this.#state = "backoff";
    this.#cancelBackoff = this.#clock.after(delay, () => {
      this.#cancelBackoff = undefined;
      if (this.#state === "backoff") this.#state = "idle";
    });
    this.#unreachable();
  }

  #unreachable(): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#onUnreachable();
  }
}
