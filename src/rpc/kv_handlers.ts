/**
 * The request logic of the KV service, one function per method taking the decoded request and a
 * deadline and returning the response message. `kv_service.ts` calls it for client calls and
 * `peer_service.ts` (Peer.Forward) for requests forwarded by another node.
 *
 * Requests are routed per range (docs/design/0009):
 * - writes go to the store; on NOT_LEADER with a known leader (the range's, from the error's
 *   details) they are forwarded to that leader's Peer.Forward; without a known leader they are
 *   retried every 50 ms until the deadline, then fail with UNAVAILABLE;
 * - a write or Get whose range has no replica here (RANGE_NOT_FOUND) is forwarded to the nodes of
 *   the range as the lookup finds it (its leader first, then its voters);
 * - RANGE_MOVED (a split or merge moved the key meanwhile) is retried here at once, where the
 *   store resolves the key's range again, then after a pause;
 * - a Range scan reads what this node's replicas cover and fetches the other parts page by page
 *   (`kv_range_scan.ts`).
 * A forwarded request is never forwarded again: the receiver answers NOT_LEADER or
 * RANGE_NOT_FOUND and the original node tries the next node. Reads run on any replica (the store
 * serves linearizable reads on followers through ReadIndex).
 *
 * The store gets a deadline somewhat before the call's ({@linkcode storeDeadline}), so that a
 * lost quorum is answered with UNAVAILABLE before the client's own deadline fires: a read that
 * found no read point in time, and a write that timed out while no leader is known, fail with
 * UNAVAILABLE (a write's outcome is then unknown: `details.ambiguous`).
 *
 * @module
 */

import type { CrossRangeBatch } from "../txn/batch_committer.ts";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { Clock } from "../base/clock.ts";
import { ErrorCode, isRangeDbError, RangeDbError } from "../base/errors.ts";
import { DEFAULT_KEY_LIMITS, type KeyLimits } from "../base/key_limits.ts";
import type { Logger } from "../base/logger.ts";
import type { KvStore, VersionedValue } from "../kv/kv_store.ts";
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
  RangeRequestSchema,
  type RangeResponse,
  RangeResponseSchema,
} from "../../proto/gen/rangedb/v1/kv_pb.ts";
import { RangePageResponseSchema } from "../../proto/gen/rangedb/v1/peer_pb.ts";
import type { PeerCaller } from "./forwarder.ts";
import { rangePage, scanAcrossRanges } from "./kv_range_scan.ts";
import {
  batchOps,
  scanBounds,
  validateCompareAndSwap,
  validateUserKey,
  validateUserValue,
} from "./kv_validation.ts";
import {
  type CallContext,
  KvRequestRouting,
  readFailure,
  storeDeadline,
} from "./kv_request_routing.ts";
import { RangeLocator } from "./range_locator.ts";
import { grpcStatusOf } from "./status.ts";

export { RANGE_CHUNK_SIZE } from "./kv_range_scan.ts";
export { type CallContext, storeDeadline } from "./kv_request_routing.ts";

const EMPTY = new Uint8Array(0);

/** Receives one finished call: method, gRPC status name ("OK", "UNAVAILABLE"…), seconds. */
export type ObserveCall = (method: string, code: string, seconds: number) => void;

/** Dependencies of {@linkcode KvHandlers}. */
export interface KvHandlerDeps {
  store: KvStore;
  /** Reaches other nodes' Peer.Forward. */
  peers: PeerCaller;
  clock: Clock;
  logger: Logger;
  /** @default DEFAULT_KEY_LIMITS */
  limits?: Readonly<KeyLimits>;
  /** Pause between attempts while the leader is unknown. @default 50 */
  retryIntervalMs?: number;
  /** Metrics hook for requests forwarded by other nodes (Peer.Forward). @default no-op */
  observe?: ObserveCall;
  /**
   * Commits a batch whose keys lie in several ranges (the two-phase commit of src/txn); without
   * it such a batch is refused with the store's INVALID_ARGUMENT.
   */
  crossRangeBatch?: CrossRangeBatch;
}

/** The KV methods a node accepts through Peer.Forward ("RangePage": one page of a scan). */
type ForwardableMethod = "Get" | "Put" | "Delete" | "Batch" | "CompareAndSwap" | "RangePage";

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
  readonly #crossRangeBatch: CrossRangeBatch | undefined;
  readonly #clock: Clock;
  readonly #limits: Readonly<KeyLimits>;
  readonly #retryMs: number;
  readonly #observe: ObserveCall;
  readonly #locator: RangeLocator;
  readonly #routing: KvRequestRouting;

  /** @param deps store, peer caller, clock, logger and limits */
  constructor(deps: KvHandlerDeps) {
    this.#store = deps.store;
    this.#crossRangeBatch = deps.crossRangeBatch;
    this.#clock = deps.clock;
    this.#limits = deps.limits ?? DEFAULT_KEY_LIMITS;
    this.#retryMs = deps.retryIntervalMs ?? 50;
    this.#observe = deps.observe ?? (() => {});
    this.#locator = new RangeLocator(deps);
    this.#routing = new KvRequestRouting({
      store: deps.store,
      locator: this.#locator,
      clock: deps.clock,
      logger: deps.logger,
      retryIntervalMs: this.#retryMs,
    });
  }

  /** Reads one key. */
  async get(req: GetRequest, ctx: CallContext): Promise<GetResponse> {
    validateUserKey(req.key, "read", this.#limits);
    return await this.#routing.read(
      ctx,
      async (deadline) => {
        const found = await this.#store.get(req.key, { deadline, serializable: req.serializable });
        return found === undefined
          ? create(GetResponseSchema)
          : create(GetResponseSchema, { found: true, value: found.value, version: found.version });
      },
      {
        method: "Get",
        key: req.key,
        request: () => toBinary(GetRequestSchema, req),
        decode: (bytes) => fromBinary(GetResponseSchema, bytes),
      },
    );
  }

  /** Writes one key. */
  async put(req: PutRequest, ctx: CallContext): Promise<PutResponse> {
    validateUserKey(req.key, "write", this.#limits);
    validateUserValue(req.value, this.#limits);
    return await this.#routing.write(
      "Put",
      PutRequestSchema,
      req,
      PutResponseSchema,
      ctx,
      req.key,
      async (deadline) => {
        const res = await this.#store.put(req.key, req.value, writeOptions(req, deadline));
        return create(PutResponseSchema, { version: res.version });
      },
    );
  }

  /** Deletes one key. */
  async delete(req: DeleteRequest, ctx: CallContext): Promise<DeleteResponse> {
    validateUserKey(req.key, "write", this.#limits);
    return await this.#routing.write(
      "Delete",
      DeleteRequestSchema,
      req,
      DeleteResponseSchema,
      ctx,
      req.key,
      async (deadline) => {
        const res = await this.#store.delete(req.key, writeOptions(req, deadline));
        return create(DeleteResponseSchema, { deleted: res.deleted, version: res.version });
      },
    );
  }

  /** Writes a batch atomically (the store runs a batch over several ranges as a 2PC). */
  async batch(req: BatchRequest, ctx: CallContext): Promise<BatchResponse> {
    const ops = batchOps(req.ops, this.#limits);
    return await this.#routing.write(
      "Batch",
      BatchRequestSchema,
      req,
      BatchResponseSchema,
      ctx,
      ops[0].key,
      async (deadline) => {
        try {
          const res = await this.#store.batch(ops, writeOptions(req, deadline));
          return create(BatchResponseSchema, { version: res.version });
        } catch (err) {
          const cross = this.#crossRangeBatch;
          if (
            cross === undefined || !isRangeDbError(err, ErrorCode.INVALID_ARGUMENT) ||
            err.details.crossRange !== true
          ) throw err;
          const res = await cross(ops, { deadline, requestId: req.requestId || undefined });
          return create(BatchResponseSchema, { version: res.version });
        }
      },
    );
  }

  /** Compares a key's value and writes when it matches. */
  async compareAndSwap(
    req: CompareAndSwapRequest,
    ctx: CallContext,
  ): Promise<CompareAndSwapResponse> {
    validateCompareAndSwap(req, this.#limits);
    return await this.#routing.write(
      "CompareAndSwap",
      CompareAndSwapRequestSchema,
      req,
      CompareAndSwapResponseSchema,
      ctx,
      req.key,
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
   * Validates a Range request and returns its chunks: this node's parts from its store, the
   * others page by page from the nodes holding them.
   *
   * @throws {RangeDbError} INVALID_ARGUMENT at once for bad bounds
   */
  range(req: RangeRequest, ctx: CallContext): AsyncIterable<RangeResponse> {
    const bounds = scanBounds(req, this.#limits);
    const budget = Math.max(0, ctx.deadline - this.#clock.now());
    const chunks: AsyncIterable<VersionedValue[]> = scanAcrossRanges(
      {
        store: this.#store,
        locator: this.#locator,
        clock: this.#clock,
        limits: this.#limits,
        retryIntervalMs: this.#retryMs,
      },
      req,
      bounds,
      storeDeadline(ctx.deadline, this.#clock.now()),
      ctx.defaultDeadline ?? false,
    );
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
   * @param method the KV method name, or "RangePage"
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
      case "RangePage":
        return toBinary(
          RangePageResponseSchema,
          await rangePage(
            this.#store,
            fromBinary(RangeRequestSchema, request),
            storeDeadline(deadline, this.#clock.now()),
            this.#limits,
          ),
        );
      default:
        throw new RangeDbError(
          ErrorCode.INVALID_ARGUMENT,
          `Cannot run forwarded request as the method is unknown: method is ${method}`,
        );
    }
  }
}

const FORWARDABLE = new Set<string>([
  "Get",
  "Put",
  "Delete",
  "Batch",
  "CompareAndSwap",
  "RangePage",
]);

function writeOptions(req: { requestId: string }, deadline: number) {
  return { deadline, requestId: req.requestId === "" ? undefined : req.requestId };
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
