/**
 * Node-level routing (docs/design/0009, "Requests reach the right range"): where the range that
 * holds a key lives, and sending a request to the nodes holding it through Peer.Forward.
 *
 * - {@linkcode RangeLocator.lookup} answers from this node's store (its replica's descriptor, or
 *   its copy of range 1's meta records); a node that knows neither asks range 1's nodes (Forward
 *   "LookupRange", answered from the receiver's own store).
 * - {@linkcode RangeLocator.onRange1} answers a request that reads range 1 from this node's
 *   replica, else from one of range 1's nodes.
 * - {@linkcode RangeLocator.forwardToNodes} tries nodes in order (the leader first) and follows a
 *   NOT_LEADER answer that names another leader (carried in the error's details metadata).
 *   Every request it sends is marked as forwarded by its method: the receiver runs it on its own
 *   store and never forwards it again, so a request crosses at most one hop per attempt.
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
import { keyText } from "../base/key_text.ts";
import type { Logger } from "../base/logger.ts";
import type { KvStore, RangeInfo } from "../kv/kv_store.ts";
import {
  LookupRangeRequestSchema,
  LookupRangeResponseSchema,
} from "../../proto/gen/rangedb/v1/admin_pb.ts";
import type { PeerCaller } from "./forwarder.ts";
import { type CallContext, storeDeadline } from "./kv_request_routing.ts";
import { rangeInfoOf } from "./range_codec.ts";

/** The outcome of {@linkcode RangeLocator.forwardToNodes}. */
export type ForwardOutcome =
  | { ok: true; response: Uint8Array; nodeId: number }
  | {
    ok: false;
    /** The last retryable failure, or why no node could be tried. */
    error: RangeDbError;
    /** How many nodes were sent the request. */
    tried: number;
  };

/** A forward with less time left than this is not started (it could only time out). */
export const MIN_FORWARD_MS = 10;

/** Decides whether a failure of one node lets the next one be tried. */
export type MayRetry = (err: RangeDbError) => boolean;

/**
 * Retry policy of requests that change nothing (reads, lookups, waits): every routing answer and
 * every UNAVAILABLE (the node may be down, partitioned or without quorum).
 */
export const retryReads: MayRetry = (err) =>
  err.code === ErrorCode.NOT_LEADER || err.code === ErrorCode.RANGE_NOT_FOUND ||
  err.code === ErrorCode.RANGE_MOVED || err.code === ErrorCode.UNAVAILABLE;

/**
 * Retry policy of writes: answers that say nothing was applied (NOT_LEADER, RANGE_NOT_FOUND,
 * RANGE_MOVED); a transport failure may have applied the write, so it is retried only when the
 * write carries a request id (the store then applies it at most once).
 *
 * @param requestId the write's idempotency key ("" when none)
 * @returns the policy
 */
export function retryWrites(requestId: string): MayRetry {
  return (err) =>
    err.code === ErrorCode.NOT_LEADER || err.code === ErrorCode.RANGE_NOT_FOUND ||
    err.code === ErrorCode.RANGE_MOVED ||
    (err.code === ErrorCode.UNAVAILABLE && err.details.transport === true && requestId !== "");
}

/** Dependencies of {@linkcode RangeLocator}. */
export interface RangeLocatorDeps {
  store: KvStore;
  peers: PeerCaller;
  clock: Clock;
  logger: Logger;
}

/**
 * Finds ranges and reaches their nodes.
 *
 * @example
 * ```ts ignore
 * const locator = new RangeLocator({ store, peers: forwarder, clock, logger });
 * const range = await locator.lookup(key, Date.now() + 1000);
 * const out = await locator.forwardToNodes(locator.replicaNodes(range), "Get", bytes, deadline);
 * ```
 */
export class RangeLocator {
  readonly #store: KvStore;
  readonly #peers: PeerCaller;
  readonly #clock: Clock;
  readonly #logger: Logger;

  /** @param deps store, peer caller, clock and logger */
  constructor(deps: RangeLocatorDeps) {
    this.#store = deps.store;
    this.#peers = deps.peers;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
  }

  /**
   * The range holding `key`: this node's view, else the answer of one of range 1's nodes.
   *
   * @param key any key
   * @param deadline absolute deadline, ms since the epoch
   * @returns the range (`local` false when described by another node)
   * @throws {RangeDbError} RANGE_NOT_FOUND when no node could say; UNAVAILABLE/TIMEOUT
   */
  async lookup(key: Uint8Array, deadline: number): Promise<RangeInfo> {
    try {
      return this.#store.lookupRange(key);
    } catch (err) {
      if (!isRangeDbError(err, ErrorCode.RANGE_NOT_FOUND)) throw err;
    }
    const request = toBinary(LookupRangeRequestSchema, create(LookupRangeRequestSchema, { key }));
    const out = await this.forwardToNodes(this.range1Nodes(), "LookupRange", request, deadline);
    if (!out.ok) {
      throw new RangeDbError(
        ErrorCode.RANGE_NOT_FOUND,
        `Cannot find the range of key ${keyText(key)} as this node holds no copy of range 1 ` +
          `and none of its nodes answered: ${out.error.message}`,
        { cause: out.error },
      );
    }
    const range = fromBinary(LookupRangeResponseSchema, out.response).range;
    if (range === undefined) {
      throw new RangeDbError(
        ErrorCode.RANGE_NOT_FOUND,
        `Cannot find the range of key ${keyText(key)} as node ${out.nodeId} described none`,
      );
    }
    return rangeInfoOf(range);
  }

  /**
   * The nodes to send a request for `range` to, best first: its leader, then its voters; never
   * this node.
   *
   * @param range the range
   * @returns node ids
   */
  replicaNodes(range: RangeInfo): number[] {
    return this.#others([range.leaderNodeId, ...range.voters]);
  }

  /**
   * The nodes that can answer from range 1 (lookups, the partition list, meta reads), best first:
   * range 1's leader as known here, its voters, then every other known node; never this node.
   *
   * @returns node ids
   */
  range1Nodes(): number[] {
    const nodes = this.#store.nodes();
    return this.#others([
      this.#store.leaderNodeId(),
      ...nodes.filter((n) => n.role === "voter").map((n) => n.nodeId),
      ...nodes.map((n) => n.nodeId),
    ]);
  }

  #others(ids: number[]): number[] {
    const self = this.#store.nodeId;
    return [...new Set(ids)].filter((id) => id !== 0 && id !== self);
  }

  /**
   * Sends a serialized request to `nodes` in turn (Peer.Forward `method`) until one answers; a
   * NOT_LEADER answer naming a leader not tried yet puts that leader next. A failure that
   * `mayRetry` refuses is thrown at once.
   *
   * @param nodes node ids, best first
   * @param method the Forward method
   * @param request the serialized request
   * @param deadline absolute deadline, ms since the epoch
   * @param mayRetry which failures let the next node be tried @default retryReads
   * @returns the answer and the node that gave it, or the last failure (`tried` 0 when the
   *   deadline left no time for any node)
   * @throws {RangeDbError} a failure that `mayRetry` refuses
   */
  async forwardToNodes(
    nodes: readonly number[],
    method: string,
    request: Uint8Array,
    deadline: number,
    mayRetry: MayRetry = retryReads,
  ): Promise<ForwardOutcome> {
    const queue = [...nodes];
    const tried = new Set<number>([this.#store.nodeId, 0]);
    let error: RangeDbError | undefined;
    let sent = 0;
    while (queue.length > 0 && this.#clock.now() + MIN_FORWARD_MS <= deadline) {
      const nodeId = queue.shift()!;
      if (tried.has(nodeId)) continue;
      tried.add(nodeId);
      const address = this.#store.peerAddressOf(nodeId);
      if (address === undefined) {
        error ??= new RangeDbError(
          ErrorCode.UNAVAILABLE,
          `Cannot forward ${method} to node ${nodeId} as its peer address is unknown`,
        );
        continue;
      }
      sent++;
      try {
        const response = await this.#peers.forward(address, method, request, deadline);
        return { ok: true, response, nodeId };
      } catch (raw) {
        const err = isRangeDbError(raw) ? raw : new RangeDbError(
          ErrorCode.UNAVAILABLE,
          `Cannot forward ${method} to node ${nodeId}: ${raw instanceof Error ? raw.message : raw}`,
          { cause: raw, details: { transport: true } },
        );
        if (!mayRetry(err)) throw err;
        error = err;
        const hint = err.code === ErrorCode.NOT_LEADER ? Number(err.details.leaderNodeId ?? 0) : 0;
        if (hint !== 0 && !tried.has(hint)) queue.unshift(hint);
        this.#logger.debug("rpc forward failed", {
          node_id: nodeId,
          method,
          code: err.code,
          leader_node_id: hint,
        });
      }
    }
    return {
      ok: false,
      tried: sent,
      error: error ?? new RangeDbError(
        ErrorCode.UNAVAILABLE,
        nodes.length === 0
          ? `Cannot forward ${method} as no other node is known to hold the range`
          : `Cannot forward ${method} as the deadline passed`,
      ),
    };
  }

  /**
   * Runs `local`, which reads this node's replica of range 1; without one (RANGE_NOT_FOUND) asks
   * range 1's nodes instead (Forward `method`), unless the request was forwarded here.
   *
   * @param call the Forward method, the request and response schemas and the request
   * @param ctx the call's deadline and whether it was forwarded
   * @param what the action, for the error message ("list partitions")
   * @param local answers from this node's store by the given store deadline
   * @returns the answer
   * @throws {RangeDbError} local's failure; UNAVAILABLE when no node of range 1 answered
   */
  async onRange1<Req extends DescMessage, Res extends DescMessage>(
    call: { method: string; reqSchema: Req; req: MessageShape<Req>; resSchema: Res },
    ctx: CallContext,
    what: string,
    local: (deadline: number) => Promise<MessageShape<Res>>,
  ): Promise<MessageShape<Res>> {
    const deadline = storeDeadline(ctx.deadline, this.#clock.now());
    try {
      return await local(deadline);
    } catch (err) {
      if (!isRangeDbError(err, ErrorCode.RANGE_NOT_FOUND) || ctx.forwarded) throw err;
    }
    const out = await this.forwardToNodes(
      this.range1Nodes(),
      call.method,
      toBinary(call.reqSchema, call.req),
      deadline,
    );
    if (out.ok) return fromBinary(call.resSchema, out.response);
    throw new RangeDbError(
      ErrorCode.UNAVAILABLE,
      `Cannot ${what} as this node holds no replica of range 1 and none of its nodes answered: ${out.error.message}`,
      { cause: out.error },
    );
  }
}
