/**
 * The client side of RangeDB's gRPC services (`rangedb.v1.KV` and `rangedb.v1.Admin`) as one
 * grpc-js service definition with protobuf-es serializers, so that one grpc client (one channel)
 * per endpoint carries both, and a promise wrapper for unary calls with a deadline and an
 * `AbortSignal`.
 *
 * @module
 */
import { fromBinary, type Message, toBinary } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import * as grpc from "@grpc/grpc-js";
import {
  ClusterStatusRequestSchema,
  ClusterStatusResponseSchema,
  GetConfigRequestSchema,
  GetConfigResponseSchema,
  ListNodesRequestSchema,
  ListNodesResponseSchema,
  ListPartitionsRequestSchema,
  ListPartitionsResponseSchema,
  LookupRangeRequestSchema,
  LookupRangeResponseSchema,
  MergePartitionRequestSchema,
  MergePartitionResponseSchema,
  MetaGetRequestSchema,
  MetaGetResponseSchema,
  MetaListRequestSchema,
  MetaListResponseSchema,
  SetConfigRequestSchema,
  SetConfigResponseSchema,
  SplitPartitionRequestSchema,
  SplitPartitionResponseSchema,
} from "../../proto/gen/rangedb/v1/admin_pb.ts";
import {
  BatchRequestSchema,
  BatchResponseSchema,
  CompareAndSwapRequestSchema,
  CompareAndSwapResponseSchema,
  DeleteRequestSchema,
  DeleteResponseSchema,
  GetRequestSchema,
  GetResponseSchema,
  PutRequestSchema,
  PutResponseSchema,
  RangeRequestSchema,
  RangeResponseSchema,
} from "../../proto/gen/rangedb/v1/kv_pb.ts";

function method<I extends Message, O extends Message>(
  path: string,
  input: GenMessage<I>,
  output: GenMessage<O>,
  responseStream = false,
): grpc.MethodDefinition<I, O> {
  return {
    path,
    requestStream: false,
    responseStream,
    requestSerialize: (m: I) => Buffer.from(toBinary(input, m)),
    requestDeserialize: (b: Buffer) => fromBinary(input, b),
    responseSerialize: (m: O) => Buffer.from(toBinary(output, m)),
    responseDeserialize: (b: Buffer) => fromBinary(output, b),
  };
}

const KV = "/rangedb.v1.KV";
const ADMIN = "/rangedb.v1.Admin";

/** Every method the SDK calls, by name; paths name the real services. */
export const RANGEDB_METHODS = {
  Get: method(`${KV}/Get`, GetRequestSchema, GetResponseSchema),
  Put: method(`${KV}/Put`, PutRequestSchema, PutResponseSchema),
  Delete: method(`${KV}/Delete`, DeleteRequestSchema, DeleteResponseSchema),
  Range: method(`${KV}/Range`, RangeRequestSchema, RangeResponseSchema, true),
  Batch: method(`${KV}/Batch`, BatchRequestSchema, BatchResponseSchema),
  CompareAndSwap: method(
    `${KV}/CompareAndSwap`,
    CompareAndSwapRequestSchema,
    CompareAndSwapResponseSchema,
  ),
  ClusterStatus: method(
    `${ADMIN}/ClusterStatus`,
    ClusterStatusRequestSchema,
    ClusterStatusResponseSchema,
  ),
  ListNodes: method(`${ADMIN}/ListNodes`, ListNodesRequestSchema, ListNodesResponseSchema),
  ListPartitions: method(
    `${ADMIN}/ListPartitions`,
    ListPartitionsRequestSchema,
    ListPartitionsResponseSchema,
  ),
  SplitPartition: method(
    `${ADMIN}/SplitPartition`,
    SplitPartitionRequestSchema,
    SplitPartitionResponseSchema,
  ),
  MergePartition: method(
    `${ADMIN}/MergePartition`,
    MergePartitionRequestSchema,
    MergePartitionResponseSchema,
  ),
  MetaList: method(`${ADMIN}/MetaList`, MetaListRequestSchema, MetaListResponseSchema),
  MetaGet: method(`${ADMIN}/MetaGet`, MetaGetRequestSchema, MetaGetResponseSchema),
  GetConfig: method(`${ADMIN}/GetConfig`, GetConfigRequestSchema, GetConfigResponseSchema),
  SetConfig: method(`${ADMIN}/SetConfig`, SetConfigRequestSchema, SetConfigResponseSchema),
  LookupRange: method(`${ADMIN}/LookupRange`, LookupRangeRequestSchema, LookupRangeResponseSchema),
} as const;

/** The grpc-js client constructor for {@linkcode RANGEDB_METHODS}. */
export const RangeDbGrpcClient = grpc.makeGenericClientConstructor(RANGEDB_METHODS, "RangeDb");

/**
 * Channel options of every endpoint: values up to the 8 MiB limit fit in one message, a
 * restarted node is reconnected within a second instead of grpc's default minutes of backoff, and
 * keepalive pings every 30 s (also between calls) find a dead server under an open Range stream.
 */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
  "grpc.max_send_message_length": 64 * 1024 * 1024,
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1_000,
};

/** A unary method of {@linkcode RANGEDB_METHODS}. */
export type UnaryMethod<I, O> = grpc.MethodDefinition<I, O>;

/**
 * Makes one unary call.
 *
 * @param client the endpoint's grpc client
 * @param def the method
 * @param request the request message
 * @param deadline when the attempt gives up (ms since the epoch)
 * @param signal cancels the call
 * @returns the response
 * @throws {grpc.ServiceError} the status of a failed call (CANCELLED after an abort)
 */
export function callUnary<I, O>(
  client: grpc.Client,
  def: UnaryMethod<I, O>,
  request: I,
  deadline: number,
  signal?: AbortSignal,
): Promise<O> {
  return new Promise<O>((resolve, reject) => {
    const call = client.makeUnaryRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      request,
      new grpc.Metadata(),
      { deadline },
      (err, response) => {
        signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(response as O);
      },
    );
    function onAbort() {
      call.cancel();
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
