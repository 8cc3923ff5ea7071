import assert from "node:assert/strict";
import { formatFailure } from "./main.ts";
import { STORE_REGRESSION_SEEDS } from "./regression_seeds.ts";
import { runStoreSimulation, type StoreSimResult } from "./simulation.ts";
import { churnMix } from "./plan.ts";

/**
 * Seeds run by the CI test: about 15 s alone on one core (each seed starts 3–5 stores, runs 8
 * simulated seconds of faults and up to 40 of healing).
 */
const CI_SEEDS = 16;
const CI_SECONDS = 8;
const FIRST_SEED = 5000;

function assertPassed(r: StoreSimResult, nodesGiven = false): void {
  if (r.failure !== undefined) assert.fail(formatFailure(r, nodesGiven));
}

Deno.test(`runStoreSimulation() passes ${CI_SEEDS} seeds of ${CI_SECONDS}s with splits, merges, crashes and partitions`, async () => {
  const sum = {
    ops: 0,
    crossRange: 0,
    transfers: 0,
    splits: 0,
    merges: 0,
    crashes: 0,
    partitions: 0,
    snapshots: 0,
    autoSplits: 0,
  };
  for (let seed = FIRST_SEED; seed < FIRST_SEED + CI_SEEDS; seed++) {
    const r = await runStoreSimulation({ seed, seconds: CI_SECONDS });
    assertPassed(r);
    const s = r.stats;
    sum.ops += s.registers.ok;
    sum.crossRange += s.registers.crossRangeBatches;
    sum.transfers += s.bank.transfers;
    sum.splits += s.rangesCreated;
    sum.merges += s.rangesMerged;
    sum.crashes += s.faults.crashes;
    sum.partitions += s.faults.partitions;
    sum.snapshots += s.network.snapshotsInstalled;
    // Ranges created beyond the bootstrap split and the operator's splits: the split queue's.
    sum.autoSplits += Math.max(0, s.rangesCreated - 1 - s.faults.splitsDone);
  }
  // The seeds must exercise what they exist for, or passing proves nothing.
  assert.ok(sum.ops > CI_SEEDS * 50, `too few client operations: ${JSON.stringify(sum)}`);
  for (const [what, n] of Object.entries(sum)) {
    assert.ok(n > 0, `no ${what} happened in ${CI_SEEDS} seeds: ${JSON.stringify(sum)}`);
  }
});

Deno.test("runStoreSimulation() replays a seed with an identical trace hash", async () => {
  const a = await runStoreSimulation({ seed: 4242, seconds: 3, nodes: 4 });
  const b = await runStoreSimulation({ seed: 4242, seconds: 3, nodes: 4 });
  assertPassed(a, true);
  assert.equal(a.traceHash, b.traceHash);
  assert.deepEqual(a.stats, b.stats);
  assert.deepEqual(a.faultLog, b.faultLog);
  const c = await runStoreSimulation({ seed: 4243, seconds: 3, nodes: 4 });
  assert.notEqual(a.traceHash, c.traceHash);
});

Deno.test("runStoreSimulation() passes every regression seed", async () => {
  for (const s of STORE_REGRESSION_SEEDS) {
    assertPassed(
      await runStoreSimulation({
        seed: s.seed,
        seconds: s.seconds,
        nodes: s.nodes,
        override: s.churn ? churnMix : undefined,
      }),
      s.nodes !== undefined,
    );
  }
});
