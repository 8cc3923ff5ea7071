/**
 * Unary calls to other nodes' Peer service (Forward and Join), over one pooled grpc-js client
 * per peer address. Failures come back as {@linkcode RangeDbError}s (see
 * {@linkcode fromServiceError}).
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  ForwardRequestSchema,
  type ForwardResponse,
  type JoinRequest,
  type JoinResponse,
  Peer,
} from "../../proto/gen/rangedb/v1/peer_pb.ts";
import { grpcServiceDefinition, PEER_CHANNEL_OPTIONS } from "./grpc_definition.ts";
import { fromServiceError } from "./status.ts";

/** Metadata key marking a call that one node already forwarded; the receiver never forwards it. */
export const FORWARDED_KEY = "rangedb-forwarded";

/** The generic client constructor of `rangedb.v1.Peer`. */
export const PeerClient = grpc.makeGenericClientConstructor(grpcServiceDefinition(Peer), "Peer");

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, value?: Res) => void,
) => grpc.ClientUnaryCall;

/** What the KV and join handlers need to reach another node. */
export interface PeerCaller {
  /**
   * Runs a serialized client request on the node at `address` (Peer.Forward).
   *
   * @returns the serialized response
   * @throws {RangeDbError} the leader's error, or UNAVAILABLE (transport) when unreachable
   */
  forward(
    address: string,
    method: string,
    request: Uint8Array,
    deadline: number,
  ): Promise<Uint8Array>;
  /**
   * Hands a join to the node at `address`, marked as forwarded (Peer.Join).
   *
   * @throws {RangeDbError} the receiver's error
   */
  join(address: string, request: JoinRequest, deadline: number): Promise<JoinResponse>;
}

/**
 * The pooled {@linkcode PeerCaller}.
 *
 * @example
 * ```ts
 * import { Forwarder } from "./forwarder.ts";
 * const forwarder = new Forwarder(() => "c0ffee");
 * forwarder.close();
 * ```
 */
export class Forwarder implements PeerCaller {
  readonly #clusterId: () => string;
  readonly #clients = new Map<string, grpc.Client>();

  /** @param clusterId this node's cluster id, sent with every forwarded request */
  constructor(clusterId: () => string) {
    this.#clusterId = clusterId;
  }

  #client(address: string): grpc.Client {
    let client = this.#clients.get(address);
    if (client === undefined) {
      client = new PeerClient(address, grpc.credentials.createInsecure(), PEER_CHANNEL_OPTIONS);
      this.#clients.set(address, client);
    }
    return client;
  }

  #unary<Req, Res>(
    address: string,
    name: "Forward" | "Join",
    request: Req,
    deadline: number,
    metadata = new grpc.Metadata(),
  ): Promise<Res> {
    const method = (this.#client(address) as unknown as Record<string, UnaryMethod<Req, Res>>)[
      name
    ];
    return new Promise<Res>((resolve, reject) => {
      method.call(this.#client(address), request, metadata, { deadline }, (err, value) => {
        if (err !== null) reject(fromServiceError(err));
        else resolve(value!);
      });
    });
  }

  /** Runs a serialized client request on `address`. */
  async forward(
    address: string,
    method: string,
    request: Uint8Array,
    deadline: number,
  ): Promise<Uint8Array> {
    const req = create(ForwardRequestSchema, { clusterId: this.#clusterId(), method, request });
    const res = await this.#unary<typeof req, ForwardResponse>(address, "Forward", req, deadline);
    return res.response;
  }

  /**
   * Hands a join to `address`: marked as forwarded (the member answers or refuses, it does not
   * forward again) unless `forwarded` is false, as for a node's own join or start-up check.
   */
  join(
    address: string,
    request: JoinRequest,
    deadline: number,
    forwarded = true,
  ): Promise<JoinResponse> {
    const metadata = new grpc.Metadata();
    if (forwarded) metadata.set(FORWARDED_KEY, "1");
    return this.#unary(address, "Join", request, deadline, metadata);
  }

  /** Closes every pooled client. */
  close(): void {
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }
}
