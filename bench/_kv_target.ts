/**
 * The one client code path that `bench/kv_bench.ts` drives against every system: a pool of
 * grpc-js channels to one endpoint, each worker pinned to one channel, and unary calls made with
 * `makeUnaryRequest` and protobuf-es serializers. Only the request and response schemas differ
 * between RangeDB and etcd ({@linkcode KvProtocol}).
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";

/** How a system names and encodes its Put and linearizable Get. */
export interface KvProtocol<PutReq, GetReq> {
  /** The system's name in tables ("RangeDB", "etcd"). */
  name: string;
  /** Full method path of the write, e.g. `/etcdserverpb.KV/Put`. */
  putPath: string;
  /** Full method path of the linearizable point read. */
  getPath: string;
  putRequest(key: Uint8Array, value: Uint8Array): PutReq;
  getRequest(key: Uint8Array): GetReq;
  encodePut(req: PutReq): Uint8Array;
  encodeGet(req: GetReq): Uint8Array;
}

/** A connection pool to one endpoint of one system. */
export class KvTarget {
  readonly protocol: KvProtocol<unknown, unknown>;
  readonly endpoint: string;
  readonly #clients: grpc.Client[];
  readonly #deadlineMs: number;

  /**
   * Opens `connections` channels to `endpoint`, each with its own TCP connection (a local
   * subchannel pool, as grpc-js would otherwise share one connection between them).
   */
  constructor(
    protocol: KvProtocol<unknown, unknown>,
    endpoint: string,
    connections: number,
    deadlineMs: number,
  ) {
    this.protocol = protocol;
    this.endpoint = endpoint;
    this.#deadlineMs = deadlineMs;
    this.#clients = [];
    for (let i = 0; i < connections; i++) {
      this.#clients.push(
        new grpc.Client(endpoint, grpc.credentials.createInsecure(), {
          "grpc.use_local_subchannel_pool": 1,
          "grpc.max_receive_message_length": 64 << 20,
        }),
      );
    }
  }

  /** The number of channels; worker `w` uses channel `w % connections`. */
  get connections(): number {
    return this.#clients.length;
  }

  /** Writes `key` = `value` over channel `channel`; rejects with the grpc-js error. */
  put(channel: number, key: Uint8Array, value: Uint8Array): Promise<void> {
    const p = this.protocol;
    return this.#call(channel, p.putPath, p.encodePut(p.putRequest(key, value)));
  }

  /** Reads `key` linearizably over channel `channel`; rejects with the grpc-js error. */
  get(channel: number, key: Uint8Array): Promise<void> {
    const p = this.protocol;
    return this.#call(channel, p.getPath, p.encodeGet(p.getRequest(key)));
  }

  /** Closes every channel. */
  close(): void {
    for (const c of this.#clients) c.close();
  }

  #call(channel: number, path: string, body: Uint8Array): Promise<void> {
    const client = this.#clients[channel % this.#clients.length];
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        path,
        (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
        // The benchmark only needs to know that an answer arrived: responses are not decoded,
        // for either system, so decoding cost does not weigh on one side.
        (b: Buffer) => b,
        body,
        { deadline: Date.now() + this.#deadlineMs },
        (err: grpc.ServiceError | null) => err === null ? resolve() : reject(err),
      );
    });
  }
}

/**
 * The gRPC status name of a failure ("DEADLINE_EXCEEDED"), RangeDB's error code for an SDK error
 * ("TIMEOUT"), or "UNKNOWN" for other errors.
 */
export function statusName(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && code !== "") return code;
  return typeof code === "number" && grpc.status[code] !== undefined
    ? grpc.status[code]
    : "UNKNOWN";
}
