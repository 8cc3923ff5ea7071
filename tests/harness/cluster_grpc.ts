/**
 * Raw gRPC clients of one node for end-to-end tests: the KV and Admin services called exactly as
 * written on the wire, without the SDK's validation, leader routing or retries, so a test sees
 * the server's own status codes and messages and knows which node answered.
 *
 * @module
 */
import {
  create,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Admin } from "../../proto/gen/rangedb/v1/admin_pb.ts";
import { KV } from "../../proto/gen/rangedb/v1/kv_pb.ts";
import { grpcServiceDefinition } from "../../src/rpc/grpc_definition.ts";

/** A gRPC error as grpc-js reports it, with the server's `rangedb-error-code` trailer. */
export interface CallError extends Error {
  code: grpc.status;
  details: string;
  metadata: grpc.Metadata;
}

/** The `rangedb-error-code` trailer of a failed call, if the server sent one. */
export function errorCodeOf(err: CallError): string | undefined {
  const value = err.metadata?.get("rangedb-error-code")[0];
  return value === undefined ? undefined : String(value);
}

/** Whether `err` is a grpc-js call error. */
export function isCallError(err: unknown): err is CallError {
  return err instanceof Error && typeof (err as Partial<CallError>).code === "number" &&
    "metadata" in err;
}

/** One node's KV and Admin services over a dedicated connection. */
export class NodeGrpc {
  readonly #kv: grpc.Client;
  readonly #admin: grpc.Client;

  /** @param address the node's client address (host:port) */
  constructor(readonly address: string) {
    const credentials = grpc.credentials.createInsecure();
    const options = { "grpc.max_receive_message_length": 64 << 20 };
    const KvClient = grpc.makeGenericClientConstructor(grpcServiceDefinition(KV), "KV");
    const AdminClient = grpc.makeGenericClientConstructor(grpcServiceDefinition(Admin), "Admin");
    this.#kv = new KvClient(address, credentials, options);
    this.#admin = new AdminClient(address, credentials, options);
  }

  /**
   * Calls a unary method of KV or Admin.
   *
   * @param method a method descriptor, e.g. `KV.method.put`
   * @param request the request fields
   * @param timeoutMs the call's deadline
   * @returns the response
   * @throws {CallError} the grpc status the server (or the deadline) ended the call with
   */
  unary<M extends DescMethodUnary>(
    method: M,
    request: MessageInitShape<M["input"]>,
    timeoutMs = 10_000,
  ): Promise<MessageShape<M["output"]>> {
    const client = method.parent.typeName === Admin.typeName ? this.#admin : this.#kv;
    const message = create(method.input, request);
    const deadline = new Date(Date.now() + timeoutMs);
    return new Promise((resolve, reject) => {
      // deno-lint-ignore no-explicit-any
      (client as any)[method.name](
        message,
        { deadline },
        (err: CallError | null, res: MessageShape<M["output"]>) => err ? reject(err) : resolve(res),
      );
    });
  }

  /**
   * Calls a server-streaming KV method and collects every response.
   *
   * @param method e.g. `KV.method.range`
   * @param request the request fields
   * @param timeoutMs the call's deadline
   * @returns the responses in order
   * @throws {CallError} the grpc status the call ended with
   */
  stream<M extends DescMethodServerStreaming>(
    method: M,
    request: MessageInitShape<M["input"]>,
    timeoutMs = 30_000,
  ): Promise<MessageShape<M["output"]>[]> {
    const message = create(method.input, request);
    const deadline = new Date(Date.now() + timeoutMs);
    // deno-lint-ignore no-explicit-any
    const call: grpc.ClientReadableStream<any> = (this.#kv as any)[method.name](message, {
      deadline,
    });
    const out: MessageShape<M["output"]>[] = [];
    return new Promise((resolve, reject) => {
      call.on("data", (m) => out.push(m));
      call.on("error", reject);
      call.on("end", () => resolve(out));
    });
  }

  /** Closes both connections. */
  close(): void {
    this.#kv.close();
    this.#admin.close();
  }
}

/**
 * Opens a {@linkcode NodeGrpc}, runs `fn`, and closes it.
 *
 * @param address the node's client address
 * @param fn what to do with the clients
 * @returns what `fn` returned
 */
export async function withNodeGrpc<T>(
  address: string,
  fn: (node: NodeGrpc) => Promise<T>,
): Promise<T> {
  const node = new NodeGrpc(address);
  try {
    return await fn(node);
  } finally {
    node.close();
  }
}

export { Admin, KV };
