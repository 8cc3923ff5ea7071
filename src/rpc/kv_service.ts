/**
 * The client KV service `rangedb.v1.KV` on a grpc-js server: decodes calls, runs them through
 * {@linkcode KvHandlers}, converts errors to statuses (with the leader's client address when
 * known) and reports each call's method, status and latency.
 *
 * A Range stream pins a store snapshot while it runs, so it ends: with DEADLINE_EXCEEDED when its
 * consumer has not drained a chunk for {@linkcode RANGE_IDLE_TIMEOUT_MS} or the call's own deadline
 * passes, and at once when the call is cancelled; the store's scan is closed on every exit.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import type { Clock } from "../base/clock.ts";
import type { Logger } from "../base/logger.ts";
import type { KvStore } from "../kv/kv_store.ts";
import { KV, type RangeRequest, type RangeResponse } from "../../proto/gen/rangedb/v1/kv_pb.ts";
import { grpcServiceDefinition } from "./grpc_definition.ts";
import { ErrorCode, isRangeDbError, RangeDbError } from "../base/errors.ts";
import type { CallContext, KvHandlers, ObserveCall } from "./kv_handlers.ts";
import { toServiceError } from "./status.ts";

/** Deadline of a call that has none. */
export const DEFAULT_DEADLINE_MS = 5_000;

export type { ObserveCall } from "./kv_handlers.ts";

/** How long a Range stream waits for its consumer to drain a chunk before it ends. */
export const RANGE_IDLE_TIMEOUT_MS = 30_000;

/** Dependencies of {@linkcode addKvService}. */
export interface KvServiceDeps {
  handlers: KvHandlers;
  /** For the leader's client address in error metadata. */
  store: KvStore;
  clock: Clock;
  logger: Logger;
  /** Metrics hook. @default no-op */
  observe?: ObserveCall;
  /** See {@linkcode RANGE_IDLE_TIMEOUT_MS}. @default RANGE_IDLE_TIMEOUT_MS */
  rangeIdleTimeoutMs?: number;
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
  const idleMs = deps.rangeIdleTimeoutMs ?? RANGE_IDLE_TIMEOUT_MS;
  const observe = deps.observe ?? (() => {});
  const statusOf = (err: unknown) => {
    let leaderClientAddress: string | undefined;
    try {
      // The leader of the request's range when the error names it, else range 1's.
      const named = isRangeDbError(err) ? Number(err.details.leaderNodeId ?? 0) : 0;
      const leader = named !== 0 ? named : store.leaderNodeId();
      leaderClientAddress = leader === 0 ? undefined : store.clientAddressOf(leader);
    } catch {
      // A store that is not open yet throws on every use: there is no leader to name, and a
      // throw here would escape the call's rejection handler and end the process.
    }
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
    const ctx = {
      deadline: callDeadline(call.getDeadline(), clock.now()),
      forwarded: false,
      defaultDeadline: ownDeadline(call.getDeadline()) === Infinity,
    };
    streamRange(call, handlers, ctx, idleMs, ownDeadline(call.getDeadline())).then(
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

/** The call's own deadline (ms since the epoch), or Infinity without one. */
function ownDeadline(deadline: grpc.Deadline): number {
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : Infinity;
}

type StreamWait = "drained" | "cancelled" | "idle" | "deadline";

/**
 * Writes the chunks of a Range call, honouring backpressure, cancellation, the idle limit and the
 * call's own deadline; returns the store's scan (closing its snapshot) on every exit.
 *
 * @throws {RangeDbError} TIMEOUT when the consumer idles or the deadline passes, else the scan's
 *   errors
 */
async function streamRange(
  call: grpc.ServerWritableStream<RangeRequest, RangeResponse>,
  handlers: KvHandlers,
  ctx: CallContext,
  idleMs: number,
  deadline: number,
): Promise<void> {
  const chunks = handlers.range(call.request, ctx)[Symbol.asyncIterator]();
  let sent = 0;
  try {
    for (;;) {
      if (call.cancelled) return;
      const next = await chunks.next();
      if (next.done) break;
      if (call.cancelled) return;
      if (Date.now() >= deadline) throw rangeTimeout("the call's deadline passed", sent);
      sent++;
      if (call.write(next.value)) continue;
      const wait = await waitForDrain(call, idleMs, deadline);
      if (wait === "cancelled") return;
      if (wait === "idle") {
        throw rangeTimeout(`the client read nothing for ${idleMs} ms`, sent);
      }
      if (wait === "deadline") throw rangeTimeout("the call's deadline passed", sent);
    }
    if (!call.cancelled) call.end();
  } finally {
    await chunks.return?.();
  }
}

function rangeTimeout(reason: string, sent: number): RangeDbError {
  return new RangeDbError(
    ErrorCode.TIMEOUT,
    `Cannot finish range stream as ${reason}: ${sent} chunks sent`,
  );
}

/** Waits until `call` drains, is cancelled, idles for `idleMs` or reaches `deadline`. */
function waitForDrain(
  call: grpc.ServerWritableStream<RangeRequest, RangeResponse>,
  idleMs: number,
  deadline: number,
): Promise<StreamWait> {
  return new Promise((resolve) => {
    const timers: ReturnType<typeof setTimeout>[] = [];
    const finish = (why: StreamWait) => {
      call.off("drain", onDrain);
      call.off("cancelled", onCancel);
      for (const t of timers) clearTimeout(t);
      resolve(why);
    };
    const onDrain = () => finish("drained");
    const onCancel = () => finish("cancelled");
    call.on("drain", onDrain);
    call.on("cancelled", onCancel);
    timers.push(setTimeout(() => finish("idle"), idleMs));
    if (Number.isFinite(deadline)) {
      timers.push(setTimeout(() => finish("deadline"), Math.max(0, deadline - Date.now())));
    }
  });
}
