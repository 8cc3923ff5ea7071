/**
 * Range scans as lazy async iterables. The server streams chunks of pairs; the SDK yields them
 * one by one and asks for the next chunk only as the caller iterates. Until the first chunk
 * arrives the scan fails over like any read; after that it is one consistent cut on one node, so
 * a failure ends the iteration with an error instead of silently resuming elsewhere. A chunk that
 * does not arrive within the idle timeout cancels the stream and fails with a TimeoutError. Leaving
 * the loop early (`break`, `return`, a throw) cancels the stream.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import type { RangeRequest, RangeResponse } from "../../proto/gen/rangedb/v1/kv_pb.ts";
import { ErrorCode } from "../base/errors.ts";
import type { CallBudget, CallRunner, Route } from "./client_call.ts";
import { toClientError } from "./client_call.ts";
import { TimeoutError } from "./client_errors.ts";
import { RANGEDB_METHODS } from "./client_grpc.ts";
import type { KeyValuePair } from "./client_types.ts";

/** Default of `RangeOptions.idleTimeoutMs`. */
export const DEFAULT_RANGE_IDLE_TIMEOUT_MS = 30_000;

interface OpenStream {
  call: grpc.ClientReadableStream<RangeResponse>;
  chunks: AsyncIterator<RangeResponse>;
  first: IteratorResult<RangeResponse>;
  address: string;
  detach: () => void;
}

function openStream(
  client: grpc.Client,
  address: string,
  request: RangeRequest,
  deadline: number,
  signal?: AbortSignal,
): Promise<OpenStream> {
  const def = RANGEDB_METHODS.Range;
  const call = client.makeServerStreamRequest(
    def.path,
    def.requestSerialize,
    def.responseDeserialize,
    request,
    new grpc.Metadata(),
  );
  // The iterator reports errors; this listener keeps a late status after cancel() from throwing.
  call.on("error", () => {});
  const onAbort = () => call.cancel();
  signal?.addEventListener("abort", onAbort, { once: true });
  const detach = () => signal?.removeEventListener("abort", onAbort);
  const chunks = call[Symbol.asyncIterator]() as AsyncIterator<RangeResponse>;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    call.cancel();
  }, Math.max(0, deadline - Date.now()));
  return chunks.next().then(
    (first) => ({ call, chunks, first, address, detach }),
    (err) => {
      detach();
      if (!timedOut) throw err;
      throw new TimeoutError(
        ErrorCode.TIMEOUT,
        `Cannot read range as its first chunk did not arrive in time: endpoint is ${address}`,
        { endpoint: address, grpcCode: grpc.status.DEADLINE_EXCEEDED, cause: err },
      );
    },
  ).finally(() => clearTimeout(timer));
}

/** The next chunk of `stream`, or a TimeoutError (the stream cancelled) after `idleMs`. */
function nextChunk(stream: OpenStream, idleMs: number): Promise<IteratorResult<RangeResponse>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idle = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      stream.call.cancel();
      reject(
        new TimeoutError(
          ErrorCode.TIMEOUT,
          `Cannot read range as no chunk arrived for ${idleMs} ms: endpoint is ${stream.address}`,
          { endpoint: stream.address, grpcCode: grpc.status.DEADLINE_EXCEEDED },
        ),
      );
    }, idleMs);
  });
  return Promise.race([stream.chunks.next(), idle]).finally(() => clearTimeout(timer));
}

/**
 * Streams the pairs of a range request.
 *
 * @param runner runs the opening attempt with failover
 * @param request the request
 * @param route the leader, or any endpoint for serializable scans
 * @param budget deadline (of the first chunk) and signal
 * @param idleMs how long to wait for each later chunk
 * @returns the pairs, lazily
 * @throws {RangeDbClientError} when the scan cannot start, or fails mid-stream
 */
export async function* streamRange(
  runner: CallRunner,
  request: RangeRequest,
  route: Route,
  budget: CallBudget,
  idleMs: number = DEFAULT_RANGE_IDLE_TIMEOUT_MS,
): AsyncGenerator<KeyValuePair, void, undefined> {
  const stream = await runner.run(
    "Range",
    route,
    budget,
    (client, address, deadline, signal) => openStream(client, address, request, deadline, signal),
  );
  let done = stream.first.done ?? false;
  try {
    let chunk = stream.first;
    while (!chunk.done) {
      for (const kv of chunk.value.kvs) {
        yield { key: kv.key, value: kv.value, version: kv.version };
      }
      try {
        chunk = await nextChunk(stream, idleMs);
      } catch (err) {
        done = true;
        throw toClientError(err, "Range", stream.address, budget.signal);
      }
    }
    done = true;
  } finally {
    stream.detach();
    if (!done) {
      stream.call.cancel();
      await stream.chunks.return?.().catch(() => undefined);
    }
  }
}
