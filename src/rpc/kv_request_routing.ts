/**
 * How one KV request reaches its range (docs/design/0009): the store of this node first, then,
 * by the store's answer, the range's leader (NOT_LEADER naming it), the nodes of the key's range
 * (RANGE_NOT_FOUND: no replica here), this node's store again (RANGE_MOVED: the store resolves
 * the key's range anew), or a pause while no leader is known, until the deadline. A request
 * another node forwarded is never forwarded again: its routing errors go back to that node.
 *
 * @module
 */

import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Clock } from "../base/clock.ts";
import { ErrorCode, isRangeDbError, RangeDbError } from "../base/errors.ts";
import type { Logger } from "../base/logger.ts";
import type { KvStore } from "../kv/kv_store.ts";
import { validateRequestId } from "./kv_validation.ts";
import { type RangeLocator, retryReads, retryWrites } from "./range_locator.ts";

/** The request context of one call. */
export interface CallContext {
  /** Absolute deadline, ms since the epoch. */
  deadline: number;
  /** Whether another node forwarded this request (it is then never forwarded again). */
  forwarded: boolean;
  /**
   * Whether `deadline` is a default because the call set none (a Range stream then renews its
   * budget with each part it reads). @default false
   */
  defaultDeadline?: boolean;
}

/** What a read that may be forwarded needs: the key, and how to send and decode it. */
export interface ForwardableRead<Res> {
  /** The Peer.Forward method. */
  method: string;
  key: Uint8Array;
  request: () => Uint8Array;
  decode: (bytes: Uint8Array) => Res;
}

/** Dependencies of {@linkcode KvRequestRouting}. */
export interface KvRequestRoutingDeps {
  store: KvStore;
  locator: RangeLocator;
  clock: Clock;
  logger: Logger;
  /** Pause between attempts while the leader is unknown. */
  retryIntervalMs: number;
}

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
 * import { storeDeadline } from "./kv_request_routing.ts";
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

/**
 * Routes KV reads and writes.
 *
 * @example
 * ```ts ignore
 * const routing = new KvRequestRouting({ store, locator, clock, logger, retryIntervalMs: 50 });
 * const res = await routing.write("Put", PutRequestSchema, req, PutResponseSchema, ctx, key, run);
 * ```
 */
export class KvRequestRouting {
  readonly #store: KvStore;
  readonly #locator: RangeLocator;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #retryMs: number;

  /** @param deps store, locator, clock, logger and retry interval */
  constructor(deps: KvRequestRoutingDeps) {
    this.#store = deps.store;
    this.#locator = deps.locator;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#retryMs = deps.retryIntervalMs;
  }

  /**
   * Runs a write: `local` with the store's deadline; on NOT_LEADER forwards to the range's known
   * leader, on RANGE_NOT_FOUND to the nodes of the key's range, on RANGE_MOVED runs it again
   * (unless already forwarded: then the error goes back to the forwarding node), until the
   * deadline.
   *
   * @param method the Peer.Forward method
   * @param reqSchema the request's schema
   * @param req the request
   * @param resSchema the response's schema
   * @param ctx deadline and whether forwarded
   * @param key the key that picks the range (a batch's first key)
   * @param local runs the write on this node's store
   * @returns the response
   * @throws {RangeDbError} the store's or the leader's refusal; UNAVAILABLE at the deadline
   */
  async write<Req extends DescMessage, Res extends DescMessage>(
    method: string,
    reqSchema: Req,
    req: MessageShape<Req> & { requestId: string },
    resSchema: Res,
    ctx: CallContext,
    key: Uint8Array,
    local: (deadline: number) => Promise<MessageShape<Res>>,
  ): Promise<MessageShape<Res>> {
    validateRequestId(req.requestId);
    const budget = Math.max(0, ctx.deadline - this.#clock.now());
    const deadline = storeDeadline(ctx.deadline, this.#clock.now());
    let lastFailure = `range 1 has no leader: no quorum reachable within ${budget} ms`;
    let moved = 0;
    for (;;) {
      let targets: number[] = [];
      try {
        return await local(deadline);
      } catch (err) {
        if (isRangeDbError(err, ErrorCode.TIMEOUT) && this.#leaderOf(err) === 0) {
          throw new RangeDbError(
            ErrorCode.UNAVAILABLE,
            `Cannot write as ${
              rangeName(err)
            } has no leader: no quorum reachable within ${budget} ms, the outcome is unknown`,
            { cause: err, details: { ambiguous: true, leaderNodeId: 0 } },
          );
        }
        if (!isRangeDbError(err) || ctx.forwarded) throw err;
        switch (err.code) {
          case ErrorCode.NOT_LEADER:
            targets = [Number(err.details.leaderNodeId ?? 0)].filter((n) => n !== 0);
            lastFailure = `${
              rangeName(err)
            } has no leader: no quorum reachable within ${budget} ms`;
            break;
          case ErrorCode.RANGE_NOT_FOUND:
            try {
              targets = this.#locator.replicaNodes(await this.#locator.lookup(key, deadline));
            } catch (lookupErr) {
              if (!isRangeDbError(lookupErr)) throw lookupErr;
              lastFailure = `the range of the key could not be found: ${lookupErr.message}`;
            }
            break;
          case ErrorCode.RANGE_MOVED:
            lastFailure = `the key's range kept moving: ${err.message}`;
            if (moved++ === 0) continue;
            break;
          default:
            throw err;
        }
      }
      if (targets.length > 0) {
        const out = await this.#locator.forwardToNodes(
          targets,
          method,
          toBinary(reqSchema, req),
          deadline,
          retryWrites(req.requestId),
        );
        if (out.ok) return fromBinary(resSchema, out.response);
        // A round that reached no node before the deadline keeps the last real failure.
        if (out.tried > 0) {
          lastFailure = `no node of the range took the request: tried ${out.tried} of nodes ${
            targets.join(",")
          }, last error is ${out.error.message}, waited ${budget} ms`;
        }
        this.#logger.debug("rpc forward retry", { method, nodes: targets.join(",") });
      }
      await this.#pause(deadline, () => `Cannot write as ${lastFailure}`);
    }
  }

  /** The leader named by a store error, else range 1's leader as known here. */
  #leaderOf(err: RangeDbError): number {
    return Number(err.details.leaderNodeId ?? this.#store.leaderNodeId());
  }

  /**
   * Runs a read with the store's deadline, retrying NOT_LEADER and RANGE_MOVED until then; a read
   * whose range has no replica here is forwarded to the range's nodes (unless already
   * forwarded); a read that found no read point in time fails with UNAVAILABLE.
   *
   * @param ctx deadline and whether forwarded
   * @param run runs the read on this node's store
   * @param forward how to send it to another node
   * @returns the response
   * @throws {RangeDbError} UNAVAILABLE at the deadline, else the store's errors
   */
  async read<T>(
    ctx: CallContext,
    run: (deadline: number) => Promise<T>,
    forward: ForwardableRead<T>,
  ): Promise<T> {
    const budget = Math.max(0, ctx.deadline - this.#clock.now());
    const deadline = storeDeadline(ctx.deadline, this.#clock.now());
    let lastFailure = `range 1 has no leader: no quorum reachable within ${budget} ms`;
    let moved = 0;
    for (;;) {
      try {
        return await run(deadline);
      } catch (err) {
        if (isRangeDbError(err, ErrorCode.NOT_LEADER)) {
          lastFailure = `${rangeName(err)} has no leader: no quorum reachable within ${budget} ms`;
        } else if (isRangeDbError(err, ErrorCode.RANGE_MOVED)) {
          lastFailure = `the key's range kept moving: ${err.message}`;
          if (moved++ === 0) continue;
        } else if (isRangeDbError(err, ErrorCode.RANGE_NOT_FOUND) && !ctx.forwarded) {
          const answer = await this.#readElsewhere(forward, deadline);
          if (answer.ok) return answer.value;
          lastFailure = answer.failure ?? lastFailure;
        } else {
          throw readFailure(err, budget, this.#store.leaderNodeId());
        }
      }
      await this.#pause(deadline, () => `Cannot read as ${lastFailure}`);
    }
  }

  /** Sends a read to the nodes of its key's range. */
  async #readElsewhere<T>(
    forward: ForwardableRead<T>,
    deadline: number,
  ): Promise<{ ok: true; value: T } | { ok: false; failure?: string }> {
    let range;
    try {
      range = await this.#locator.lookup(forward.key, deadline);
    } catch (err) {
      if (!isRangeDbError(err)) throw err;
      return { ok: false, failure: `the range of the key could not be found: ${err.message}` };
    }
    const nodes = this.#locator.replicaNodes(range);
    const out = await this.#locator.forwardToNodes(
      nodes,
      forward.method,
      forward.request(),
      deadline,
      retryReads,
    ).catch((err) => {
      // A read cut by the deadline: the caller answers UNAVAILABLE, naming it.
      if (!isRangeDbError(err, ErrorCode.TIMEOUT)) throw err;
      return { ok: false as const, error: err, tried: 1 };
    });
    if (out.ok) return { ok: true, value: forward.decode(out.response) };
    if (out.tried === 0) return { ok: false };
    return {
      ok: false,
      failure: `no node of range ${range.rangeId} served it: tried ${out.tried} of nodes ${
        nodes.join(",")
      }, last error is ${out.error.message}`,
    };
  }

  /** Waits one retry interval, or throws UNAVAILABLE when `deadline` would pass first. */
  #pause(deadline: number, message: () => string): Promise<void> {
    if (this.#clock.now() + this.#retryMs >= deadline) {
      throw new RangeDbError(ErrorCode.UNAVAILABLE, message());
    }
    return new Promise((resolve) => this.#clock.after(this.#retryMs, resolve));
  }
}

/** "range N" of a store error (range 1 when the error does not say). */
function rangeName(err: RangeDbError): string {
  return `range ${Number(err.details.rangeId ?? 1)}`;
}

/**
 * The error of a failed read: a TIMEOUT (no linearizable read point in time) becomes UNAVAILABLE,
 * since the client's own deadline has not passed yet; anything else is returned unchanged.
 *
 * @param err what the store threw
 * @param budget the call's budget, ms
 * @param leader range 1's leader as known here (0: none)
 */
export function readFailure(err: unknown, budget: number, leader: number): unknown {
  if (!isRangeDbError(err, ErrorCode.TIMEOUT)) return err;
  const named = Number(err.details.leaderNodeId ?? leader);
  const message = named === 0
    ? `Cannot read as ${rangeName(err)} has no leader: no quorum reachable within ${budget} ms`
    : `Cannot read as no quorum confirmed a read point within ${budget} ms: leader is node ${named}`;
  return new RangeDbError(ErrorCode.UNAVAILABLE, message, {
    cause: err,
    details: { leaderNodeId: named },
  });
}
