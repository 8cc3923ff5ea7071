import assert from "node:assert/strict";
import type { PlantedBug } from "../../../src/kv/planted_bugs.ts";
import { APPLIED_STATE_CHECK, TOMBSTONE_CHECK } from "./checks/applied_state.ts";
import { REPLICA_CONTENT_CHECK } from "./checks/replicas.ts";
import { BANK_CHECK } from "./checks/end_state.ts";
import { churnMix } from "./plan.ts";
import { runStoreSimulation } from "./simulation.ts";

/** Seeds a planted bug may take at most before the simulation must have caught it. */
const MAX_SEEDS = 20;
const SECONDS = 5;

/**
 * The checkers that may catch each bug. A failed store (its turn threw: Raft or apply found
 * the state inconsistent) counts too: the run fails, as a server would crash.
 */
const CATCHERS: Record<PlantedBug, readonly string[]> = {
  // Linearizable reads served from the local state: a lagging replica answers stale values.
  "stale-reads": ["linearizability", BANK_CHECK],
  // A write proposed before a split or merge lands in the range that lost the key: stats that
  // do not match the data, histories that are not linearizable, or negative counters.
  "apply-span-unchecked": [
    REPLICA_CONTENT_CHECK,
    APPLIED_STATE_CHECK,
    "linearizability",
    "store_failed",
  ],
  // Writes applied after the freeze index: replicas destroyed at different points of the frozen
  // range's log differ (the absorbing range's intent count or stats), or the merge finds its
  // replica past the freeze.
  "frozen-applies-writes": [
    REPLICA_CONTENT_CHECK,
    APPLIED_STATE_CHECK,
    "linearizability",
    "store_failed",
  ],
  // Late messages recreate a merged range on a node that holds its tombstone.
  "tombstone-ignored": [TOMBSTONE_CHECK, "store_failed"],
};

Deno.test("runStoreSimulation() passes the churn mix without planted bugs", async () => {
  for (let seed = 1; seed <= 3; seed++) {
    const r = await runStoreSimulation({ seed, seconds: SECONDS, override: churnMix });
    assert.equal(r.failure, undefined, `seed ${seed}: ${r.failure?.message}`);
  }
});

for (const bug of Object.keys(CATCHERS) as PlantedBug[]) {
  Deno.test(`runStoreSimulation() catches the planted bug ${bug} within ${MAX_SEEDS} seeds`, async () => {
    for (let seed = 1; seed <= MAX_SEEDS; seed++) {
      const r = await runStoreSimulation({ seed, seconds: SECONDS, bug, override: churnMix });
      if (r.failure === undefined) continue;
      assert.ok(
        CATCHERS[bug].includes(r.failure.checker),
        `bug ${bug} was caught by ${r.failure.checker} (${r.failure.kind}), not by one of ${
          CATCHERS[bug].join(", ")
        }, at seed ${seed}: ${r.failure.message}`,
      );
      console.log(`${bug}: caught by ${r.failure.checker} at seed ${seed} (${r.failure.atMs}ms)`);
      return;
    }
    assert.fail(`bug ${bug} went unnoticed for ${MAX_SEEDS} seeds`);
  });
}
