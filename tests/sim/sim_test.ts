import assert from "node:assert/strict";
import { REGRESSION_SEEDS } from "./regression_seeds.ts";
import { runSimulation, type SimResult } from "./simulation.ts";
import { replayCommand } from "./main.ts";

/** Seeds run by the CI test; about 20 s alone on one core, well under a minute beside others. */
const CI_SEEDS = 300;
const CI_SECONDS = 15;
const FIRST_SEED = 1000;

function assertPassed(r: SimResult, nodesGiven = false): void {
  if (r.failure === undefined) return;
  assert.fail(
    `seed ${r.plan.seed} failed (${r.failure.kind}, checker ${r.failure.checker}) at ${r.failure.atMs}ms: ${r.failure.message}\nreplay: ${
      replayCommand(r, nodesGiven)
    }`,
  );
}

Deno.test(`runSimulation() passes ${CI_SEEDS} seeds of ${CI_SECONDS}s with faults`, () => {
  let ops = 0, crashes = 0, partitions = 0, confChanges = 0;
  for (let seed = FIRST_SEED; seed < FIRST_SEED + CI_SEEDS; seed++) {
    const r = runSimulation({ seed, seconds: CI_SECONDS });
    assertPassed(r);
    ops += r.stats.clients.ok;
    crashes += r.stats.faults.crashes;
    partitions += r.stats.faults.partitions;
    confChanges += r.stats.faults.confChanges;
  }
  // The seeds must actually exercise the cluster, or passing proves nothing.
  assert.ok(ops > CI_SEEDS * 20, `too few client operations: ${ops}`);
  assert.ok(crashes > 0 && partitions > 0 && confChanges > 0, "some fault kind never happened");
});

Deno.test("runSimulation() replays a seed with an identical trace hash", () => {
  const a = runSimulation({ seed: 4242, seconds: 3, nodes: 5 });
  const b = runSimulation({ seed: 4242, seconds: 3, nodes: 5 });
  assertPassed(a, true);
  assert.equal(a.traceHash, b.traceHash);
  assert.deepEqual(a.stats, b.stats);
  assert.deepEqual(a.faultLog, b.faultLog);
  const c = runSimulation({ seed: 4243, seconds: 3, nodes: 5 });
  assert.notEqual(a.traceHash, c.traceHash);
});

Deno.test("runSimulation() passes every regression seed", () => {
  for (const s of REGRESSION_SEEDS) {
    assertPassed(
      runSimulation({ seed: s.seed, seconds: s.seconds, nodes: s.nodes }),
      s.nodes !== undefined,
    );
  }
});
