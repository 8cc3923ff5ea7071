/**
 * Seeds of the store simulation that fail with a bug it found put back, each with what it found;
 * `store_sim_test.ts` runs them all. A seed replays a run only with the code and the plan drawing
 * it was checked with: a change to either (a fix elsewhere alters the run) may move the bug out of
 * its way, so each seed was checked again, with its fix reverted, at the last commit touching
 * this list.
 *
 * @module
 */

/** One kept seed. */
export interface StoreRegressionSeed {
  seed: number;
  seconds: number;
  nodes?: number;
  /** Run with `churnMix` (plan.ts). */
  churn?: boolean;
  /** What the seed found. */
  found: string;
}

/** Every kept seed. */
export const STORE_REGRESSION_SEEDS: readonly StoreRegressionSeed[] = [
  {
    seed: 100,
    seconds: 10,
    found: "snapshots lacked the batch decision records (replicas' txn keyspaces differed); " +
      "an operator's split before the bootstrap split left user keys in range 1 for good",
  },
  {
    seed: 140,
    seconds: 10,
    found: "a merge whose coordinator died after it applied left the merged range in the meta copy",
  },
  {
    seed: 45,
    seconds: 10,
    churn: true,
    found:
      "a write that found its range before a merge destroyed it proposed on the closed replica and hung past its deadline",
  },
  {
    seed: 114,
    seconds: 10,
    churn: true,
    found:
      "a split retried with the same range id after an unknown outcome created a range merged away meanwhile again: every replica failed",
  },
  {
    seed: 7046,
    seconds: 20,
    found:
      "a split retried with the same range id after a refusal that hid an applied attempt (the router's own retry) created a merged range again",
  },
  {
    seed: 147,
    seconds: 10,
    found:
      "a replica left frozen after its merge applied elsewhere blocked the snapshots of the ranges holding its keys",
  },
];
