/**
 * The client KV service `rangedb.v1.KV` on a grpc-js server: decodes calls, runs them through
 * {@linkcode KvHandlers}, converts errors to statuses (with the leader's client address when
 * known) and reports each call's method, status and latency.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import type { Clock } from "../base/clock.ts";
import type { Logger } from "../base/logger.ts";
import type { KvStore } from "../kv/kv_store.ts";
import { KV, type RangeRequest, type RangeResponse } from "../../proto/gen/rangedb/v1/kv_pb.ts";
import { grpcServiceDefinition } from "./grpc_definition.ts";
import type { CallContext, KvHandlers } from "./kv_handlers.ts";
import { toServiceError } from "./status.ts";

/** Deadline of a call that has none. */
export const DEFAULT_DEADLINE_MS = 5_000;

/** Receives one finished call: method, gRPC status name ("OK", "UNAVAILABLE"…), seconds. */
export type ObserveCall = (method: string, code: string, seconds: number) => void;

/** Dependencies of {@linkcode addKvService}. */
export interface KvServiceDeps {
  handlers: KvHandlers;
  /** For the leader's client address in error metadata. */
  store: KvStore;
  clock: Clock;
  logger: Logger;
  /** Metrics hook. @default no-op */
  observe?: ObserveCall;
}

/** The grpc-js definition of `rangedb.v1.KV`. */
export const KV_SERVICE_DEFINITION: grpc.ServiceDefinition = grpcServiceDefinition(KV);

/**
 * The absolute deadline of a call: its own, or now + {@linkcode DEFAULT_DEADLINE_MS}.
 *
 * @param deadline the call's deadline (`call.getDeadline()`)
 * @param now the current time, ms since the epoch
 */
export function callDeadline(deadline: grpc.Deadline, now: number): number {
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : now + DEFAULT_DEADLINE_MS;
}

type UnaryName = "Get" | "Put" | "Delete" | "Batch" | "CompareAndSwap";

/**
 * Registers `rangedb.v1.KV` on `server`.
 *
 * @param server the client-facing grpc-js server
 * @param deps handlers, store, clock, logger and the metrics hook
 */
export function addKvService(server: grpc.Server, deps: KvServiceDeps): void {
  const { handlers, store, clock, logger } = deps;
  const observe = deps.observe ?? (() => {});
  const statusOf = (err: unknown) => {
    const leader = store.leaderNodeId();
    const leaderClientAddress = leader === 0 ? undefined : store.clientAddressOf(leader);
    return toServiceError(err, { leaderClientAddress, logger });
  };
  const finish = (method: string, started: number, code: grpc.status) =>
    observe(method, grpc.status[code], (clock.monotonic() - started) / 1000);

  const unary = <Req, Res>(
    method: UnaryName,
    run: (req: Req, ctx: CallContext) => Promise<Res>,
  ) =>
  (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
    const started = clock.monotonic();
    const ctx = { deadline: callDeadline(call.getDeadline(), clock.now()), forwarded: false };
    run(call.request, ctx).then(
      (res) => {
        finish(method, started, grpc.status.OK);
        callback(null, res);
      },
      (err) => {
        const status = statusOf(err);
        finish(method, started, status.code);
        callback(status);
      },
    );
  };

  const range = (call: grpc.ServerWritableStream<RangeRequest, RangeResponse>) => {
    const started = clock.monotonic();
    const ctx = { deadline: callDeadline(call.getDeadline(), clock.now()), forwarded: false };
    streamRange(call, handlers, ctx).then(
      () => finish("Range", started, call.cancelled ? grpc.status.CANCELLED : grpc.status.OK),
      (err) => {
        const status = statusOf(err);
        finish("Range", started, status.code);
        if (!call.cancelled) call.emit("error", status);
      },
    );
  };

  server.addService(KV_SERVICE_DEFINITION, {
    Get: unary("Get", handlers.get.bind(handlers)),
    Put: unary("Put", handlers.put.bind(handlers)),
    Delete: unary("Delete", handlers.delete.bind(handlers)),
    Batch: unary("Batch", handlers.batch.bind(handlers)),
    CompareAndSwap: unary("CompareAndSwap", handlers.compareAndSwap.bind(handlers)),
    Range: range,
  });
}

/** Writes the chunks of a Range call, honouring backpressure and cancellation. */
async function streamRange(
  call: grpc.ServerWritableStream<RangeRequest, RangeResponse>,
  handlers: KvHandlers,
  ctx: CallContext,
): Promise<void> {
  const chunks = handlers.range(call.request, ctx);
  let cancelled = call.cancelled;
  const onCancel = () => cancelled = true;
  call.once("cancelled", onCancel);
  try {
    for await (const chunk of chunks) {
      if (cancelled) return;
      if (!call.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            call.off("drain", done);
            call.off("cancelled", done);
            resolve();
          };
          call.on("drain", done);
          call.on("cancelled", done);
        });
      }
    }
    if (!cancelled) call.end();
  } finally {
    call.off("cancelled", onCancel);
  }
}
