/**
 * grpc-js service definitions derived from protobuf-es service descriptors, so that paths,
 * streaming kinds and serializers come from the generated code rather than being written by hand.
 *
 * @module
 */

import { type DescMessage, type DescService, fromBinary, toBinary } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";

function serializer(schema: DescMessage) {
  // deno-lint-ignore no-explicit-any
  return (m: any) => Buffer.from(toBinary(schema, m));
}

function deserializer(schema: DescMessage) {
  return (b: Buffer) => fromBinary(schema, b);
}

/**
 * Builds the grpc-js definition of a protobuf-es service; methods are keyed by their proto name
 * ("Get", "RaftMessages").
 *
 * @param service a generated service descriptor, e.g. `KV` of kv_pb.ts
 * @param typeName the fully-qualified service name on the wire; defaults to the descriptor's
 *   (reflection serves one descriptor under two package names)
 * @returns the definition for `server.addService` and `makeGenericClientConstructor`
 *
 * @example
 * ```ts
 * import { KV } from "../../proto/gen/rangedb/v1/kv_pb.ts";
 * import { grpcServiceDefinition } from "./grpc_definition.ts";
 * const def = grpcServiceDefinition(KV);
 * def.Get.path; // "/rangedb.v1.KV/Get"
 * ```
 */
export function grpcServiceDefinition(
  service: DescService,
  typeName: string = service.typeName,
): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    out[method.name] = {
      path: `/${typeName}/${method.name}`,
      requestStream: method.methodKind === "client_streaming" ||
        method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" ||
        method.methodKind === "bidi_streaming",
      requestSerialize: serializer(method.input),
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output),
      responseDeserialize: deserializer(method.output),
    };
  }
  return out;
}

/**
 * Channel options of long-lived connections between peers: keepalive pings every 10 s, messages
 * up to 64 MiB, and reconnect backoff aligned with the peer transport's (50 ms to 2 s).
 */
export const PEER_CHANNEL_OPTIONS: grpc.ChannelOptions = Object.freeze({
  "grpc.keepalive_time_ms": 10_000,
  "grpc.keepalive_timeout_ms": 5_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
  "grpc.max_send_message_length": 64 * 1024 * 1024,
  "grpc.initial_reconnect_backoff_ms": 50,
  "grpc.max_reconnect_backoff_ms": 2_000,
});

/**
 * Server options for the peer and client ports: messages up to 64 MiB (a batch may carry
 * 8 MiB values; the default 4 MiB limit would refuse it) and keepalive pings from peers.
 */
export const SERVER_OPTIONS: grpc.ServerOptions = Object.freeze({
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
  "grpc.max_send_message_length": 64 * 1024 * 1024,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.http2.min_ping_interval_without_data_ms": 5_000,
});
