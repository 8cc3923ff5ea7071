/**
 * {@linkcode TimestampSource}: where a store's writes get their timestamps. The timestamp oracle
 * lives with range 1's leader (docs/design/0007); a node that leads other ranges asks it for
 * blocks of timestamps through the {@linkcode ClusterRouter}, one request for all the writes that
 * wait in the same event-loop turn, so that a busy node costs the oracle one round trip per
 * batch, not per write (docs/design/0009).
 *
 * @module
 */

import type { ClusterRouter } from "./cluster_router.ts";
import type { TimestampOracle } from "./tso.ts";

interface Pending {
  resolve(v: bigint): void;
  reject(e: unknown): void;
  deadline: number;
}

/** The timestamps of one store's writes. */
export class TimestampSource {
  readonly #tso: TimestampOracle;
  readonly #router: () => ClusterRouter;
  readonly #leadsRangeOne: () => boolean;
  #pending: Pending[] = [];
  #flushing = false;

  /**
   * @param tso this node's oracle (serves while it leads range 1)
   * @param router reaches the oracle on another node
   * @param leadsRangeOne whether this node leads range 1 now
   */
  constructor(tso: TimestampOracle, router: () => ClusterRouter, leadsRangeOne: () => boolean) {
    this.#tso = tso;
    this.#router = router;
    this.#leadsRangeOne = leadsRangeOne;
  }

  /**
   * A timestamp for a write: from the local oracle when this node leads range 1, else from a
   * block fetched from the oracle's node.
   *
   * @throws {RangeDbError} UNAVAILABLE/TIMEOUT when no oracle answered before `deadline`
   */
  timestamp(deadline: number): Promise<bigint> {
    const local = this.#tso.next();
    if (local !== undefined) return Promise.resolve(local);
    if (this.#leadsRangeOne()) return this.#tso.timestamp(deadline);
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject, deadline });
      if (!this.#flushing) {
        this.#flushing = true;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      const deadline = Math.min(...batch.map((p) => p.deadline));
      try {
        const first = await this.#router().timestamps(batch.length, deadline);
        batch.forEach((p, i) => p.resolve(first + BigInt(i)));
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.#flushing = false;
  }
}
