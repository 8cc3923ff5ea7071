/**
 * What the store reports about itself, as plain callbacks, so that `src/kv` needs no metrics
 * library: the server implements {@linkcode StoreMetrics} with Prometheus collectors
 * (`src/server/metrics.ts`); tests pass {@linkcode NO_METRICS} or a recorder.
 *
 * @module
 */

/** Observations of a store. Every method must be cheap and must not throw. */
export interface StoreMetrics {
  /** A scheduler turn wrote one engine batch; `ms` from write start to durable. */
  batchWritten(ms: number, sync: boolean, bytes: number): void;
  /** Proposals handed to Raft (counted when proposed). */
  proposed(count: number): void;
  /** Entries applied by a range. */
  applied(rangeId: number, count: number): void;
  /** A range saw a new leader (or lost its leader: `leaderNodeId` 0). */
  leaderChanged(rangeId: number, leaderNodeId: number, term: number): void;
  /** The state of a range after a turn, for gauges. */
  rangeState(rangeId: number, state: { term: number; commit: number; applied: number }): void;
  /** A scheduler turn held the event loop for `ms` (its synchronous work, the write excluded). */
  turnBlocked(ms: number): void;
}

/** Metrics that go nowhere. */
export const NO_METRICS: StoreMetrics = {
  batchWritten() {},
  proposed() {},
  applied() {},
  leaderChanged() {},
  rangeState() {},
  turnBlocked() {},
};
