/**
 * The simulation's {@linkcode ClusterRouter}, one per node incarnation, modelled on the gRPC one
 * (src/rpc/cluster_router.ts) and on tests/unit/kv/_cluster.ts's InProcessRouter: a command goes
 * to a store whose replica leads the key's range (found by looking at the stores this node can
 * reach, where the real router follows NOT_LEADER hints and the meta copy), over the simulated
 * network; NOT_LEADER, RANGE_NOT_FOUND, RANGE_MOVED and UNAVAILABLE are retried after a pause until
 * the deadline; a store's TIMEOUT, or an answer lost on the way, ends the call as ambiguous.
 *
 * @module
 */

import { ErrorCode, isRangeDbError, RangeDbError } from "../../../src/base/errors.ts";
import type { ClusterRouter } from "../../../src/kv/cluster_router.ts";
import type { Store } from "../../../src/kv/mod.ts";
import { peerCall, type RpcWorld, type Running } from "./sim_rpc.ts";

/** Pause between attempts while no leader is known (the gRPC router's default). */
const RETRY_MS = 50;
/** Each attempt ends this long before the caller's deadline, so that its answer arrives. */
const MARGIN_MS = 20;

const RETRYABLE = new Set<string>([
  ErrorCode.UNAVAILABLE,
  ErrorCode.NOT_LEADER,
  ErrorCode.RANGE_MOVED,
  ErrorCode.RANGE_NOT_FOUND,
]);

/** A wait for a replica retries only while its node cannot be reached (as the gRPC router). */
const UNREACHABLE_ONLY = new Set<string>([ErrorCode.UNAVAILABLE]);

/** The router of one node incarnation. */
export class SimRouter implements ClusterRouter {
  /**
   * @param world the cluster and network
   * @param self this node's incarnation (the router dies with it)
   * @param leaderOf the reachable store whose replica of the range holding `key` leads, if any
   */
  constructor(
    private readonly world: RpcWorld,
    private readonly self: () => Running,
    private readonly leaderOf: (key: Uint8Array | "oracle", from: number) => number | undefined,
  ) {}

  #pause(): Promise<void> {
    return new Promise((resolve) => this.self().clock.after(RETRY_MS, resolve));
  }

  async #retry<T>(
    what: string,
    deadline: number,
    target: () => number | undefined,
    fn: (store: Store, deadline: number) => Promise<T>,
    retryable: ReadonlySet<string> = RETRYABLE,
  ): Promise<T> {
    const self = this.self();
    let ambiguous = false;
    let last: unknown;
    for (;;) {
      const to = target();
      const attemptDeadline = deadline - MARGIN_MS;
      if (to !== undefined && self.clock.now() < attemptDeadline) {
        try {
          return await peerCall(
            this.world,
            self,
            to,
            deadline,
            what,
            (st) => fn(st, attemptDeadline),
          );
        } catch (err) {
          if (isRangeDbError(err, ErrorCode.TIMEOUT)) throw err;
          if (!isRangeDbError(err) || !retryable.has(err.code)) throw err;
          if (err.details.ambiguous === true) ambiguous = true;
          last = err;
        }
      }
      if (self.clock.now() + RETRY_MS >= deadline) {
        throw new RangeDbError(
          ErrorCode.UNAVAILABLE,
          `Cannot ${what} as no attempt succeeded before the deadline: last error is ${last}`,
          { details: { ambiguous } },
        );
      }
      await this.#pause();
    }
  }

  propose(key: Uint8Array, command: Uint8Array, deadline: number): Promise<Uint8Array> {
    const from = this.self().id;
    return this.#retry(
      "propose",
      deadline,
      () => this.leaderOf(key, from),
      (st, d) => st.proposeCommand(key, command, { deadline: d }),
    );
  }

  waitApplied(nodeId: number, rangeId: number, index: number, deadline: number): Promise<number> {
    return this.#retry(
      `wait for range ${rangeId} on node ${nodeId}`,
      deadline,
      () => nodeId,
      (st, d) => st.waitApplied(rangeId, index, { deadline: d }),
      UNREACHABLE_ONLY,
    );
  }

  timestamps(count: number, deadline: number): Promise<bigint> {
    const from = this.self().id;
    return this.#retry(
      "get timestamps",
      deadline,
      () => this.leaderOf("oracle", from),
      (st, d) => st.allocateTimestamps(count, { deadline: d }),
    );
  }
}
