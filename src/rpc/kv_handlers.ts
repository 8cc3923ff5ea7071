/**
 * The request logic of the KV service, one function per method taking the decoded request and a
 * deadline and returning the response message. `kv_service.ts` calls it for client calls and
 * `peer_service.ts` (Peer.Forward) for requests forwarded by another node.
 *
 * Writes go to the store; on NOT_LEADER with a known leader they are forwarded once to that
 * leader's Peer.Forward; without a known leader they are retried every 50 ms until the deadline,
 * then fail with UNAVAILABLE. A forwarded request is never forwarded again: the receiver answers
 * NOT_LEADER and the original node retries. Reads run on this node (the store serves
 * linearizable reads on followers through ReadIndex).
 *
 * The store gets a deadline somewhat before the call's ({@linkcode storeDeadline}), so that a
 * lost quorum is answered with UNAVAILABLE before the client's own deadline fires: a read that
 * found no read point in time, and a write that timed out while no leader is known, fail with
 * UNAVAILABLE (a write's outcome is then unknown: `details.ambiguous`).
 *
 * @module
 */

import {
  create,
  type DescMessage,
  fromBinary,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { Clock } from "../base/clock.ts";
import { ErrorCode, isRangeDbError, RangeDbError } from "../base/errors.ts";
import { DEFAULT_KEY_LIMITS, type KeyLimits } from "../base/key_limits.ts";
import type { Logger } from "../base/logger.ts";
import type { KvStore, VersionedValue } from "../kv/kv_store.ts";
import { grpcStatusOf } from "./status.ts";
import * as grpc from "@grpc/grpc-js";
import {
  type BatchRequest,
  BatchRequestSchema,
  type BatchResponse,
  BatchResponseSchema,
  type CompareAndSwapRequest,
  CompareAndSwapRequestSchema,
  type CompareAndSwapResponse,
  CompareAndSwapResponseSchema,
  type DeleteRequest,
  DeleteRequestSchema,
  type DeleteResponse,
  DeleteResponseSchema,
  type GetRequest,
  GetRequestSchema,
  type GetResponse,
  GetResponseSchema,
  KeyValueSchema,
  type PutRequest,
  PutRequestSchema,
  type PutResponse,
  PutResponseSchema,
  type RangeRequest,
  type RangeResponse,
  RangeResponseSchema,
} from "../../proto/gen/rangedb/v1/kv_pb.ts";
import type { PeerCaller } from "./forwarder.ts";
import {
  batchOps,
  scanBounds,
  validateCompareAndSwap,
  validateRequestId,
  validateUserKey,
  validateUserValue,
} from "./kv_validation.ts";

/** Keys per chunk of a Range stream. */
export const RANGE_CHUNK_SIZE = 256;

const EMPTY = new Uint8Array(0);

/** The least time the store's deadline leaves before the call's. */
const MIN_DEADLINE_MARGIN_MS = 100;

/** The share of a call's budget that the store's deadline leaves before the call's. */
const DEADLINE_MARGIN_SHARE = 0.1;

/**
 * The deadline handed to the store: 10% of the budget (at least 100 ms, at most half of it)
 * before the call's own, so that the node answers with its own status before the client gives up.
 *
 * @param deadline the call's absolute deadline, ms since the epoch
 * @param now the current time, ms since the epoch
 * @returns the store's absolute deadline
 *
 * @example
 * ```ts
 * import { storeDeadline } from "./kv_handlers.ts";
 * storeDeadline(10_000, 5_000); // 9_500
 * ```
 */
export function storeDeadline(deadline: number, now: number): number {
  const budget = Math.max(0, deadline - now);
  const margin = Math.min(
    Math.max(MIN_DEADLINE_MARGIN_MS, budget * DEADLINE_MARGIN_SHARE),
    budget / 2,
  );
  return deadline - margin;
}

/** Receives one finished call: method, gRPC status name ("OK", "UNAVAILABLE"…), seconds. */
export type ObserveCall = (method: string, code: string, seconds: number) => void;

/** The request context of one call. */
export interface CallContext {
  /** Absolute deadline, ms since the epoch. */
  deadline: number;
  /** Whether another node forwarded this request (it is then never forwarded again). */
  forwarded: boolean;
}

/** Dependencies of {@linkcode KvHandlers}. */
export interface KvHandlerDeps {
  store: KvStore;
  /** Reaches the leader's Peer.Forward. */
  peers: PeerCaller;
  clock: Clock;
  logger: Logger;
  /** @default DEFAULT_KEY_LIMITS */
  limits?: Readonly<KeyLimits>;
  /** Pause between attempts while the leader is unknown. @default 50 */
  retryIntervalMs?: number;
  /** Metrics hook for requests forwarded by other nodes (Peer.Forward). @default no-op */
  observe?: ObserveCall;
}

/** The KV methods a node accepts through Peer.Forward. */
type ForwardableMethod = "Get" | "Put" | "Delete" | "Batch" | "CompareAndSwap";

/**
 * The KV request logic.
 *
 * @example
 * ```ts ignore
 * const handlers = new KvHandlers({ store, peers: forwarder, clock, logger });
 * const res = await handlers.put(req, { deadline: Date.now() + 5000, forwarded: false });
 * ```
 */
export class KvHandlers {
  readonly #store: KvStore;
  readonly #peers: PeerCaller;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #limits: Readonly<KeyLimits>;
  readonly #retryMs: number;
  readonly #observe: ObserveCall;

  /** @param deps store, peer caller, clock, logger and limits */
  constructor(deps: KvHandlerDeps) {
    this.#store = deps.store;
    this.#peers = deps.peers;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#limits = deps.limits ?? DEFAULT_KEY_LIMITS;
    this.#retryMs = deps.retryIntervalMs ?? 50;
    this.#observe = deps.observe ?? (() => {});
  }

  /** Reads one key. */
  async get(req: GetRequest, ctx: CallContext): Promise<GetResponse> {
    validateUserKey(req.key, "read", this.#limits);
    const found = await this.#read(
      ctx,
      (deadline) => this.#store.get(req.key, { deadline, serializable: req.serializable }),
    );
    return found === undefined
      ? create(GetResponseSchema)
      : create(GetResponseSchema, { found: true, value: found.value, version: found.version });
  }

  /** Writes one key. */
  async put(req: PutRequest, ctx: CallContext): Promise<PutResponse> {
    validateUserKey(req.key, "write", this.#limits);
    validateUserValue(req.value, this.#limits);
    return await this.#write(
      "Put",
      PutRequestSchema,
      req,
      PutResponseSchema,
      ctx,
      async (deadline) => {
        const res = await this.#store.put(req.key, req.value, writeOptions(req, deadline));
        return create(PutResponseSchema, { version: res.version });
      },
    );
  }

  /** Deletes one key. */
  async delete(req: DeleteRequest, ctx: CallContext): Promise<DeleteResponse> {
    validateUserKey(req.key, "write", this.#limits);
    return await this.#write(
      "Delete",
      DeleteRequestSchema,
      req,
      DeleteResponseSchema,
      ctx,
      async (deadline) => {
        const res = await this.#store.delete(req.key, writeOptions(req, deadline));
        return create(DeleteResponseSchema, { deleted: res.deleted, version: res.version });
      },
    );
  }

  /** Writes a batch atomically. */
  async batch(req: BatchRequest, ctx: CallContext): Promise<BatchResponse> {
    const ops = batchOps(req.ops, this.#limits);
    return await this.#write(
      "Batch",
      BatchRequestSchema,
      req,
      BatchResponseSchema,
      ctx,
      async (deadline) => {
        const res = await this.#store.batch(ops, writeOptions(req, deadline));
        return create(BatchResponseSchema, { version: res.version });
      },
    );
  }

  /** Compares a key's value and writes when it matches. */
  async compareAndSwap(
    req: CompareAndSwapRequest,
    ctx: CallContext,
  ): Promise<CompareAndSwapResponse> {
    validateCompareAndSwap(req, this.#limits);
    return await this.#write(
      "CompareAndSwap",
      CompareAndSwapRequestSchema,
      req,
      CompareAndSwapResponseSchema,
      ctx,
      async (deadline) => {
        const res = await this.#store.compareAndSwap(
          { key: req.key, expected: req.expectAbsent ? undefined : req.expected, value: req.value },
          writeOptions(req, deadline),
        );
        return create(CompareAndSwapResponseSchema, {
          succeeded: res.succeeded,
          found: res.found,
          actual: res.actual ?? EMPTY,
          version: res.version,
        });
      },
    );
  }

  /**
   * Validates a Range request and returns its chunks (one consistent snapshot).
   *
   * @throws {RangeDbError} INVALID_ARGUMENT at once for bad bounds
   */
  range(req: RangeRequest, ctx: CallContext): AsyncIterable<RangeResponse> {
    const { start, end } = scanBounds(req, this.#limits);
    const budget = Math.max(0, ctx.deadline - this.#clock.now());
    const chunks = this.#store.scan(start, end, {
      deadline: storeDeadline(ctx.deadline, this.#clock.now()),
      serializable: req.serializable,
      limit: req.limit,
      reverse: req.reverse,
      keysOnly: req.keysOnly,
      chunkSize: RANGE_CHUNK_SIZE,
    });
    const store = this.#store;
    return (async function* () {
      const it = chunks[Symbol.asyncIterator]();
      try {
        for (;;) {
          let next: IteratorResult<VersionedValue[]>;
          try {
            next = await it.next();
          } catch (err) {
            throw readFailure(err, budget, store.leaderNodeId());
          }
          if (next.done) return;
          yield toRangeResponse(next.value, req.keysOnly);
        }
      } finally {
        await it.return?.();
      }
    })();
  }

  /**
   * Runs a request forwarded by another node (Peer.Forward); never forwards it again.
   *
   * @param method the KV method name
   * @param request the serialized request
   * @param deadline absolute deadline, ms since the epoch
   * @returns the serialized response
   * @throws {RangeDbError} INVALID_ARGUMENT for an unknown method, else the method's errors
   */
  async runForwarded(method: string, request: Uint8Array, deadline: number): Promise<Uint8Array> {
    const started = this.#clock.monotonic();
    try {
      const res = await this.#runForwarded(method, request, deadline);
      this.#observeForwarded(method, started, grpc.status.OK);
      return res;
    } catch (err) {
      const code = isRangeDbError(err) ? grpcStatusOf(err.code) : grpc.status.INTERNAL;
      this.#observeForwarded(method, started, code);
      throw err;
    }
  }

  #observeForwarded(method: string, started: number, code: grpc.status): void {
    const name = FORWARDABLE.has(method) ? method : "Unknown";
    this.#observe(name, grpc.status[code], (this.#clock.monotonic() - started) / 1000);
  }

  async #runForwarded(method: string, request: Uint8Array, deadline: number): Promise<Uint8Array> {
    const ctx: CallContext = { deadline, forwarded: true };
    switch (method as ForwardableMethod) {
      case "Get":
        return toBinary(
          GetResponseSchema,
          await this.get(fromBinary(GetRequestSchema, request), ctx),
        );
      case "Put":
        return toBinary(
          PutResponseSchema,
          await this.put(fromBinary(PutRequestSchema, request), ctx),
        );
      case "Delete":
        return toBinary(
          DeleteResponseSchema,
          await this.delete(fromBinary(DeleteRequestSchema, request), ctx),
        );
      case "Batch":
        return toBinary(
          BatchResponseSchema,
          await this.batch(fromBinary(BatchRequestSchema, request), ctx),
        );
      case "CompareAndSwap":
        return toBinary(
          CompareAndSwapResponseSchema,
          await this.compareAndSwap(fromBinary(CompareAndSwapRequestSchema, request), ctx),
        );
      default:
        throw new RangeDbError(
          ErrorCode.INVALID_ARGUMENT,
          `Cannot run forwarded request as the method is unknown: method is ${method}`,
        );
    }
  }

  /**
   * Runs `local` with the store's deadline; on NOT_LEADER forwards to the known leader (unless
   * already forwarded) or waits for one, until the deadline.
   */
  async #write<Req extends DescMessage, Res extends DescMessage>(
    method: ForwardableMethod,
    reqSchema: Req,
    req: MessageShape<Req> & { requestId: string },
    resSchema: Res,
    ctx: CallContext,
    local: (deadline: number) => Promise<MessageShape<Res>>,
  ): Promise<MessageShape<Res>> {
    validateRequestId(req.requestId);
    const budget = Math.max(0, ctx.deadline - this.#clock.now());
    const deadline = storeDeadline(ctx.deadline, this.#clock.now());
    let lastFailure = `range 1 has no leader: no quorum reachable within ${budget} ms`;
    for (;;) {
      let leader: number;
      try {
        return await local(deadline);
      } catch (err) {
        if (isRangeDbError(err, ErrorCode.TIMEOUT) && this.#store.leaderNodeId() === 0) {
          throw new RangeDbError(
            ErrorCode.UNAVAILABLE,
            `Cannot write as range 1 has no leader: no quorum reachable within ${budget} ms, the outcome is unknown`,
            { cause: err, details: { ambiguous: true, leaderNodeId: 0 } },
          );
        }
        if (!isRangeDbError(err, ErrorCode.NOT_LEADER) || ctx.forwarded) throw err;
        leader = Number(err.details.leaderNodeId ?? 0);
      }
      const address = leader !== 0 && leader !== this.#store.nodeId
        ? this.#store.peerAddressOf(leader)
        : undefined;
      if (address !== undefined) {
        try {
          const bytes = await this.#peers.forward(
            address,
            method,
            toBinary(reqSchema, req),
            deadline,
          );
          return fromBinary(resSchema, bytes);
        } catch (err) {
          if (!this.#mayRetryForward(err, req.requestId)) throw err;
          lastFailure =
            `the leader did not take the request: leader is node ${leader} at ${address}, last error is ${
              (err as Error).message
            }, waited ${budget} ms`;
          this.#logger.debug("rpc forward retry", { node_id: leader, address, method });
        }
      }
      await this.#pause(deadline, () => `Cannot write as ${lastFailure}`);
    }
  }

  /** NOT_LEADER was not applied; a transport failure may have been, so only dedup makes it safe. */
  #mayRetryForward(err: unknown, requestId: string): boolean {
    if (isRangeDbError(err, ErrorCode.NOT_LEADER)) return true;
    return isRangeDbError(err, ErrorCode.UNAVAILABLE) && err.details.transport === true &&
      requestId !== "";
  }

  /**
   * Runs a read with the store's deadline, retrying NOT_LEADER until then; a read that found no
   * read point in time fails with UNAVAILABLE.
   */
  async #read<T>(ctx: CallContext, run: (deadline: number) => Promise<T>): Promise<T> {
    const budget = Math.max(0, ctx.deadline - this.#clock.now());
    const deadline = storeDeadline(ctx.deadline, this.#clock.now());
    for (;;) {
      try {
        return await run(deadline);
      } catch (err) {
        if (!isRangeDbError(err, ErrorCode.NOT_LEADER)) {
          throw readFailure(err, budget, this.#store.leaderNodeId());
        }
      }
      await this.#pause(
        deadline,
        () => `Cannot read as range 1 has no leader: no quorum reachable within ${budget} ms`,
      );
    }
  }

  /** Waits one retry interval, or throws UNAVAILABLE when `deadline` would pass first. */
  #pause(deadline: number, message: () => string): Promise<void> {
    if (this.#clock.now() + this.#retryMs >= deadline) {
      throw new RangeDbError(ErrorCode.UNAVAILABLE, message());
    }
    return new Promise((resolve) => this.#clock.after(this.#retryMs, resolve));
  }
}

const FORWARDABLE = new Set<string>(["Get", "Put", "Delete", "Batch", "CompareAndSwap"]);

function writeOptions(req: { requestId: string }, deadline: number) {
  return { deadline, requestId: req.requestId === "" ? undefined : req.requestId };
}

/**
 * The error of a failed read: a TIMEOUT (no linearizable read point in time) becomes UNAVAILABLE,
 * since the client's own deadline has not passed yet; anything else is returned unchanged.
 *
 * @param err what the store threw
 * @param budget the call's budget, ms
 * @param leader range 1's leader as known here (0: none)
 */
function readFailure(err: unknown, budget: number, leader: number): unknown {
  if (!isRangeDbError(err, ErrorCode.TIMEOUT)) return err;
  const message = leader === 0
    ? `Cannot read as range 1 has no leader: no quorum reachable within ${budget} ms`
    : `Cannot read as no quorum confirmed a read point within ${budget} ms: leader is node ${leader}`;
  return new RangeDbError(ErrorCode.UNAVAILABLE, message, {
    cause: err,
    details: { leaderNodeId: leader },
  });
}

function toRangeResponse(chunk: VersionedValue[], keysOnly: boolean): RangeResponse {
  return create(RangeResponseSchema, {
    kvs: chunk.map((kv) =>
      create(KeyValueSchema, {
        key: kv.key,
        value: keysOnly ? EMPTY : kv.value,
        version: kv.version,
      })
    ),
  });
}
