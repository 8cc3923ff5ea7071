/**
 * The gRPC {@linkcode ClusterRouter}: how the store's split, merge and meta coordinators reach the
 * leaders and replicas of ranges on other nodes (docs/design/0009).
 *
 * `propose` tries this node's store first (`proposeCommand`), then follows its answer:
 * - NOT_LEADER naming a leader: Peer.Forward "Propose" to that node; without a leader: wait
 *   {@linkcode GrpcClusterRouterDeps.retryIntervalMs} and try again;
 * - RANGE_NOT_FOUND (no local replica of the range): look the range up (this node's meta copy,
 *   else range 1's nodes) and forward to its leader, else its voters;
 * - RANGE_MOVED: try again at once (the store re-resolves the key's range), then after a pause;
 * - UNAVAILABLE (no quorum, a dropped proposal): wait and try again;
 * until the deadline. It then fails with UNAVAILABLE, or TIMEOUT when a store's deadline passed;
 * `details.ambiguous` is true when a proposal may have been made (a dropped proposal, a forward
 * whose answer was lost). Retrying an internal command is safe: each carries the generation it
 * expects or is idempotent (docs/design/0009).
 *
 * The receiving node runs a forwarded "Propose" or "WaitApplied" on its own store only
 * (`forwarded_requests.ts`): it never forwards again.
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Clock } from "../base/clock.ts";
import { ErrorCode, isRangeDbError, RangeDbError } from "../base/errors.ts";
import { keyText } from "../base/key_text.ts";
import type { Logger } from "../base/logger.ts";
import type { ClusterRouter } from "../kv/cluster_router.ts";
import type { KvStore } from "../kv/kv_store.ts";
import {
  ProposeRequestSchema,
  ProposeResponseSchema,
  TimestampsRequestSchema,
  TimestampsResponseSchema,
  WaitAppliedRequestSchema,
  WaitAppliedResponseSchema,
} from "../../proto/gen/rangedb/v1/peer_pb.ts";
import type { PeerCaller } from "./forwarder.ts";
import { storeDeadline } from "./kv_request_routing.ts";
import { type MayRetry, RangeLocator, retryReads } from "./range_locator.ts";

/** Dependencies of {@linkcode GrpcClusterRouter}. */
export interface GrpcClusterRouterDeps {
  /** This node's store (late-bound in the server: it opens after the router exists). */
  store: KvStore;
  peers: PeerCaller;
  clock: Clock;
  logger: Logger;
  /** Pause between attempts while no leader is known. @default 50 */
  retryIntervalMs?: number;
}

/**
 * Routes the store's internal commands and waits across the cluster.
 *
 * @example
 * ```ts ignore
 * const router = new GrpcClusterRouter({ store: late.store, peers: forwarder, clock, logger });
 * const result = await router.propose(key, command, Date.now() + 5000);
 * ```
 */
export class GrpcClusterRouter implements ClusterRouter {
  readonly #store: KvStore;
  readonly #peers: PeerCaller;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #retryMs: number;
  readonly #locator: RangeLocator;

  /** @param deps store, peer caller, clock, logger and retry interval */
  constructor(deps: GrpcClusterRouterDeps) {
    this.#store = deps.store;
    this.#peers = deps.peers;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#retryMs = deps.retryIntervalMs ?? 50;
    this.#locator = new RangeLocator(deps);
  }

  /**
   * Proposes `command` on the leader of the range holding `key`, wherever it is.
   *
   * @param key a key of the range
   * @param command a serialized RaftCommand
   * @param callDeadline absolute deadline, ms since the epoch
   * @returns the serialized CommandResult
   * @throws {RangeDbError} UNAVAILABLE or TIMEOUT (details.ambiguous), or the store's own refusal
   */
  async propose(key: Uint8Array, command: Uint8Array, callDeadline: number): Promise<Uint8Array> {
    // Every attempt ends a margin before the caller's deadline, so that the last one's answer
    // (or this router's own verdict) arrives in time.
    const deadline = storeDeadline(callDeadline, this.#clock.now());
    const request = toBinary(ProposeRequestSchema, create(ProposeRequestSchema, { key, command }));
    let ambiguous = false;
    let last: RangeDbError | undefined;
    let moved = 0;
    const mayRetry: MayRetry = (err) => {
      if (err.code === ErrorCode.UNAVAILABLE && (err.details.transport || err.details.ambiguous)) {
        ambiguous = true;
      }
      return retryReads(err);
    };
    const what = () => `Cannot propose on the range of key ${keyText(key)}`;
    for (;;) {
      let targets: number[] = [];
      try {
        return await this.#store.proposeCommand(key, command, { deadline });
      } catch (err) {
        if (!isRangeDbError(err)) throw err;
        // A local refusal that leads to a forward does not replace the last forward's failure.
        if (err.code !== ErrorCode.NOT_LEADER || last === undefined) last = err;
        switch (err.code) {
          case ErrorCode.NOT_LEADER:
            targets = [Number(err.details.leaderNodeId ?? 0)].filter((n) => n !== 0);
            break;
          case ErrorCode.RANGE_NOT_FOUND:
            try {
              targets = this.#locator.replicaNodes(await this.#locator.lookup(key, deadline));
            } catch (lookupErr) {
              if (!isRangeDbError(lookupErr)) throw lookupErr;
              last = lookupErr;
            }
            break;
          case ErrorCode.RANGE_MOVED:
            if (moved++ === 0) continue;
            break;
          case ErrorCode.UNAVAILABLE:
            if (err.details.ambiguous === true) ambiguous = true;
            break;
          case ErrorCode.TIMEOUT:
            throw timedOut(what(), err);
          default:
            throw err;
        }
      }
      if (targets.length > 0) {
        let out;
        try {
          out = await this.#locator.forwardToNodes(targets, "Propose", request, deadline, mayRetry);
        } catch (err) {
          if (isRangeDbError(err, ErrorCode.TIMEOUT)) throw timedOut(what(), err);
          throw err;
        }
        if (out.ok) return fromBinary(ProposeResponseSchema, out.response).result;
        if (out.tried > 0 || last === undefined) last = out.error;
      }
      await this.#pause(deadline, () => giveUp(what(), last, ambiguous));
    }
  }

  /**
   * Waits until node `nodeId`'s replica of `rangeId` has applied `index`: this node's store, else
   * Peer.Forward "WaitApplied" to that node (retried while it cannot be reached).
   *
   * @param nodeId the node
   * @param rangeId the range
   * @param index the log index
   * @param callDeadline absolute deadline, ms since the epoch
   * @returns the replica's applied index
   * @throws {RangeDbError} RANGE_NOT_FOUND (no such replica), UNAVAILABLE (unreachable), TIMEOUT
   */
  async waitApplied(
    nodeId: number,
    rangeId: number,
    index: number,
    callDeadline: number,
  ): Promise<number> {
    const deadline = storeDeadline(callDeadline, this.#clock.now());
    if (nodeId === this.#store.nodeId) {
      return await this.#store.waitApplied(rangeId, index, { deadline });
    }
    const request = toBinary(
      WaitAppliedRequestSchema,
      create(WaitAppliedRequestSchema, { rangeId: BigInt(rangeId), index: BigInt(index) }),
    );
    const what =
      `Cannot wait for node ${nodeId}'s replica of range ${rangeId} to apply index ${index}`;
    let last: RangeDbError | undefined;
    let reason = "";
    for (;;) {
      const address = this.#store.peerAddressOf(nodeId);
      if (address === undefined) {
        reason = "its peer address is unknown";
      } else {
        try {
          const bytes = await this.#peers.forward(address, "WaitApplied", request, deadline);
          return Number(fromBinary(WaitAppliedResponseSchema, bytes).appliedIndex);
        } catch (err) {
          if (!isRangeDbError(err, ErrorCode.UNAVAILABLE)) throw err;
          last = err;
          reason = `last error: ${err.message}`;
          this.#logger.debug("rpc wait applied retry", { node_id: nodeId, range_id: rangeId });
        }
      }
      await this.#pause(
        deadline,
        () =>
          new RangeDbError(
            ErrorCode.UNAVAILABLE,
            `${what} as the node cannot be reached: ${reason}`,
            {
              cause: last,
            },
          ),
      );
    }
  }

  /**
   * A block of `count` timestamps from the timestamp oracle: this node's store when it leads
   * range 1, else Peer.Forward "Timestamps" to range 1's leader (followed while it moves).
   *
   * @returns the first of the block
   * @throws {RangeDbError} UNAVAILABLE when no oracle answered before the deadline
   */
  async timestamps(count: number, callDeadline: number): Promise<bigint> {
    const deadline = storeDeadline(callDeadline, this.#clock.now());
    const request = toBinary(
      TimestampsRequestSchema,
      create(TimestampsRequestSchema, { count }),
    );
    let reason = "range 1 has no leader";
    let last: RangeDbError | undefined;
    for (;;) {
      let leader = 0;
      try {
        return await this.#store.allocateTimestamps(count, { deadline });
      } catch (err) {
        if (!isRangeDbError(err, ErrorCode.NOT_LEADER)) throw err;
        leader = Number(err.details.leaderNodeId ?? 0);
      }
      const address = leader === 0 ? undefined : this.#store.peerAddressOf(leader);
      if (address !== undefined) {
        try {
          const bytes = await this.#peers.forward(address, "Timestamps", request, deadline);
          return fromBinary(TimestampsResponseSchema, bytes).first;
        } catch (err) {
          if (!isRangeDbError(err)) throw err;
          if (err.code !== ErrorCode.NOT_LEADER && err.code !== ErrorCode.UNAVAILABLE) throw err;
          last = err;
          reason = `range 1's leader (node ${leader}) did not answer: ${err.message}`;
        }
      }
      await this.#pause(
        deadline,
        () =>
          new RangeDbError(
            ErrorCode.UNAVAILABLE,
            `Cannot get a timestamp for the write as ${reason}`,
            { cause: last },
          ),
      );
    }
  }

  /** Waits one retry interval, or throws `failure()` when `deadline` would pass first. */
  #pause(deadline: number, failure: () => RangeDbError): Promise<void> {
    if (this.#clock.now() + this.#retryMs >= deadline) throw failure();
    return new Promise((resolve) => this.#clock.after(this.#retryMs, resolve));
  }
}

function timedOut(what: string, cause: RangeDbError): RangeDbError {
  return new RangeDbError(
    ErrorCode.TIMEOUT,
    `${what} as the deadline passed, the outcome is unknown: ${cause.message}`,
    { cause, details: { ...cause.details, ambiguous: true } },
  );
}

function giveUp(what: string, last: RangeDbError | undefined, ambiguous: boolean): RangeDbError {
  const why = last === undefined ? "no leader took it in time" : `last error: ${last.message}`;
  return new RangeDbError(
    ErrorCode.UNAVAILABLE,
    `${what} as no leader took it before the deadline${
      ambiguous ? ", the outcome is unknown" : ""
    }: ${why}`,
    { cause: last, details: { ambiguous, leaderNodeId: Number(last?.details.leaderNodeId ?? 0) } },
  );
}
