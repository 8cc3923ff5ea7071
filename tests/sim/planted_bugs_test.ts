import assert from "node:assert/strict";
import type { PlantedBug } from "../../src/raft/mod.ts";
import type { SimPlan } from "./plan.ts";
import { CommittedEntriesCheck } from "./checks/committed_entries.ts";
import { LeaderPerTermCheck } from "./checks/leader_per_term.ts";
import { runSimulation } from "./simulation.ts";

/** Seeds a planted bug may take at most before the simulation must have caught it. */
const MAX_SEEDS = 50;
const SECONDS = 3;

/**
 * Fault mixes that make each bug observable: which faults expose it is part of what this test
 * documents.
 */
const FOCUS: Record<PlantedBug, (p: SimPlan) => void> = {
  // Two candidates of one term must both ask a third node: leader crashes and isolations start
  // contested elections; PreVote off so terms collide more often.
  "double-vote": (p) => {
    p.nodes = 3;
    p.node.preVote = false;
    p.node.electionTick = 5;
    p.network.maxDelayMs = Math.max(p.network.maxDelayMs, 10);
    p.faults.crashRate = 0.01;
    p.faults.downMs = [20, 300];
    p.faults.partitionRate = 0.02;
    p.faults.partitionMs = [50, 400];
  },
  // A leader cut off with one follower "commits" alone; the majority side overwrites it.
  "commit-on-minority": (p) => {
    p.nodes = 5;
    p.faults.partitionRate = 0.03;
    p.faults.partitionMs = [100, 800];
    p.clients.thinkMaxMs = 5;
  },
  // A node that forgets its vote across a restart votes twice in one term: voters crash right
  // after granting and come back within milliseconds, while slow links keep a rival candidate's
  // vote request in flight; short timeouts and no PreVote make rival candidates common.
  "vote-not-persisted": (p) => {
    p.nodes = 3;
    p.node.preVote = false;
    p.node.checkQuorum = false;
    p.node.electionTick = 5;
    p.node.heartbeatTick = 1;
    p.node.fsyncDelayMs = 0;
    p.network.minDelayMs = 5;
    p.network.maxDelayMs = 40;
    p.faults.crashRate = 0.01;
    p.faults.crashAfterVoteRate = 0.7;
    p.faults.downMs = [1, 3];
    p.faults.partitionRate = 0.05;
    p.faults.partitionMs = [30, 200];
  },
  // The bug commits a follower's stale suffix when it rejects an append: a leader cut off with a
  // minority keeps appending (no CheckQuorum), the majority commits other entries at those
  // indexes, and the stale follower hears the new leader's commit index after healing.
  "apply-truncated-suffix": (p) => {
    p.nodes = 5;
    p.node.checkQuorum = false;
    p.node.fsyncDelayMs = 2;
    p.network.dropRate = 0;
    p.network.minDelayMs = 1;
    p.network.maxDelayMs = 5;
    p.network.longDelayRate = 0;
    p.clients.clients = 5;
    p.clients.thinkMaxMs = 5;
    p.clients.attemptTimeoutMs = 1000;
    p.faults.partitionRate = 0.05;
    p.faults.partitionMs = [200, 500];
    p.faults.partitionShapes = ["leader-minority"];
    p.faults.crashRate = 0;
    p.faults.confChangeRate = 0;
  },
};

/**
 * The checker that must catch each bug: a different safety failure (Raft's own invariant, say)
 * would not show that the checker written for this class of bug works.
 */
const CATCHER: Record<PlantedBug, string> = {
  "double-vote": LeaderPerTermCheck.NAME,
  "commit-on-minority": CommittedEntriesCheck.NAME,
  "vote-not-persisted": LeaderPerTermCheck.NAME,
  "apply-truncated-suffix": CommittedEntriesCheck.NAME,
};

Deno.test("runSimulation() passes the focused fault mixes without planted bugs", () => {
  for (const bug of Object.keys(FOCUS) as PlantedBug[]) {
    for (let seed = 1; seed <= 5; seed++) {
      const r = runSimulation({ seed, seconds: SECONDS, override: FOCUS[bug] });
      assert.equal(r.failure, undefined, `mix for ${bug}, seed ${seed}: ${r.failure?.message}`);
    }
  }
});

for (const bug of Object.keys(FOCUS) as PlantedBug[]) {
  Deno.test(`runSimulation() catches the planted bug ${bug} within ${MAX_SEEDS} seeds`, () => {
    for (let seed = 1; seed <= MAX_SEEDS; seed++) {
      const r = runSimulation({
        seed,
        seconds: SECONDS,
        bugs: new Set([bug]),
        override: FOCUS[bug],
      });
      // Focused mixes may turn off both PreVote and CheckQuorum, which can cost liveness (see
      // plan.ts); only a safety failure counts as catching the bug.
      if (r.failure === undefined || r.failure.kind === "liveness") continue;
      assert.equal(
        r.failure.kind,
        "safety",
        `bug ${bug} surfaced as ${r.failure.kind} instead of a checker failure at seed ${seed}: ${r.failure.message}`,
      );
      assert.equal(
        r.failure.checker,
        CATCHER[bug],
        `bug ${bug} was caught by ${r.failure.checker}, not ${
          CATCHER[bug]
        }, at seed ${seed}: ${r.failure.message}`,
      );
      console.log(`${bug}: caught by ${r.failure.checker} at seed ${seed} (${r.failure.atMs}ms)`);
      return;
    }
    assert.fail(`bug ${bug} went unnoticed for ${MAX_SEEDS} seeds`);
  });
}
