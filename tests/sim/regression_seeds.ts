/**
 * Seeds that once found a bug or cover a hard fault mix, replayed by `sim_test.ts`. Add a seed
 * here with what broke once the bug is fixed. Plans are drawn from the seed, so a change to
 * `plan.ts` draws changes what a seed covers: re-check the notes then.
 *
 * @module
 */

/** One replayable run. */
export interface RegressionSeed {
  seed: number;
  seconds: number;
  nodes?: number;
  /** What the seed found or covers. */
  note: string;
}

/** The regression seeds, replayed on every test run. */
export const REGRESSION_SEEDS: readonly RegressionSeed[] = [
  {
    seed: 9100,
    seconds: 20,
    note: "25 membership changes committed, 193 snapshots, 25 crashes, 9 partitions",
  },
  { seed: 9047, seconds: 20, note: "33 crashes and 20 partitions on 5 nodes, 511 ReadIndex reads" },
  { seed: 9090, seconds: 20, note: "23 leader transfers and 23 crashes, 28 terms, 1466 ReadIndex" },
  { seed: 9078, seconds: 20, note: "212 snapshots delivered with 29 crashes on 5 nodes" },
  {
    seed: 1369595937,
    seconds: 10,
    note: "liveness: leader of {5,9} removed itself and stepped down; 9 needed its vote but " +
      "the sim had already stopped it (fixed: a removed node runs until the cluster moved on)",
  },
  {
    seed: 3703407717,
    seconds: 10,
    note: "liveness: leader of {1,3} removed itself with an uncommitted tail and stepped down; " +
      "it refused 3 its vote forever (fixed: a removed leader hands leadership over)",
  },
];
