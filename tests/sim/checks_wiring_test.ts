/**
 * Shows that the simulation feeds its checkers: a replica made to diverge on purpose, inside a
 * running cluster, is caught by the checker written for that divergence. (checks_test.ts tests
 * the checkers on their own; the planted Raft bugs only ever trip leader_per_term and
 * committed_entries, so without this nothing would notice log_matching or applied_state being
 * unhooked.)
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Ready } from "../../src/raft/mod.ts";
import { AppliedStateCheck } from "./checks/applied_state.ts";
import { LogMatchingCheck } from "./checks/log_matching.ts";
import { Cluster } from "./cluster.ts";
import { SimFailure } from "./failure.ts";
import { drawPlan, type SimPlan } from "./plan.ts";
import { Rng } from "./rng.ts";
import type { SimNode } from "./node.ts";

/** A fault-free cluster of three, so that only the tampering can cause a failure. */
function calmCluster(): Cluster {
  const plan = drawPlan({
    seed: 42,
    seconds: 1,
    nodes: 3,
    override: (p: SimPlan) => {
      p.network.dropRate = 0;
      p.network.dupRate = 0;
      p.network.longDelayRate = 0;
      p.faults.partitionRate = 0;
      p.faults.crashRate = 0;
      p.faults.confChangeRate = 0;
      p.faults.transferRate = 0;
    },
  });
  return new Cluster(plan, new Rng(7));
}

/** Steps `cluster` from `from` to `to` ms; returns the first failure, if any. */
function run(cluster: Cluster, from: number, to: number): SimFailure | undefined {
  try {
    for (let now = from; now < to; now++) cluster.step(now);
  } catch (err) {
    if (err instanceof SimFailure) return err;
    throw err;
  }
  return undefined;
}

function follower(cluster: Cluster): SimNode {
  const leader = cluster.leader();
  assert.ok(leader, "the calm cluster elects a leader");
  return cluster.nodeList().find((n) => n !== leader && n.up)!;
}

Deno.test("Cluster feeds log_matching: a follower persisting altered entries is caught", () => {
  const cluster = calmCluster();
  assert.equal(run(cluster, 0, 1500), undefined);
  const raw = follower(cluster).raw!;
  const ready = raw.ready.bind(raw);
  raw.ready = (): Ready => {
    const rd = ready();
    rd.entries = rd.entries.map((e) => ({ ...e, data: Uint8Array.of(...e.data, 0xff) }));
    return rd;
  };
  const failure = run(cluster, 1500, 4000);
  assert.equal(failure?.checker, LogMatchingCheck.NAME, String(failure?.message));
});

Deno.test("Cluster feeds applied_state: a follower whose state machine diverges is caught", () => {
  const cluster = calmCluster();
  assert.equal(run(cluster, 0, 1500), undefined);
  follower(cluster).sm!.apply({ kind: "put", client: 999, seq: 1, key: "stray", value: "x" });
  const failure = run(cluster, 1500, 4000);
  assert.equal(failure?.checker, AppliedStateCheck.NAME, String(failure?.message));
});
