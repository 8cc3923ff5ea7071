/**
 * One simulation run: a safety phase with faults, then a liveness phase in which every fault is
 * healed and the cluster must elect a leader, commit a final write and bring every member up to
 * it within a bound. Checkers run at every event they watch (persist, role change, commit,
 * apply; cluster.ts wires them, checks_wiring_test.ts shows it), and the client history is
 * checked for linearizability at the end.
 *
 * @module
 */

import { isRaftError } from "../../src/raft/mod.ts";
import { isMember } from "./node.ts";
import { checkHistory, type LinearizableVerdict } from "./checks/linearizable_history.ts";
import { Cluster } from "./cluster.ts";
import { type FailureKind, SimFailure } from "./failure.ts";
import { FaultInjector, type FaultStats } from "./faults.ts";
import { CALM_NETWORK, type NetworkStats } from "./network.ts";
import { drawPlan, type PlanOptions, type SimPlan } from "./plan.ts";
import { Rng } from "./rng.ts";
import type { ClientStats } from "./clients.ts";

/** What a run did, for reports and the determinism check. */
export interface SimStats {
  endMs: number;
  terms: number;
  committed: number;
  snapshotsDelivered: number;
  confChangesCommitted: number;
  network: NetworkStats;
  faults: FaultStats;
  clients: ClientStats;
  linearizability: LinearizableVerdict | "skipped";
}

/** The outcome of one run. */
export interface SimResult {
  plan: SimPlan;
  failure?: { kind: FailureKind; checker: string; message: string; atMs: number };
  traceHash: string;
  stats: SimStats;
  /** One line per injected fault. */
  faultLog: string[];
}

/**
 * Runs one seed.
 *
 * @param opts the seed, the safety phase length and optional overrides
 * @returns the result; failures are reported in it, never thrown
 */
export function runSimulation(opts: PlanOptions): SimResult {
  const plan = drawPlan(opts);
  const rng = new Rng(plan.seed ^ 0x5bd1e995);
  const cluster = new Cluster(plan, rng.fork());
  const faults = new FaultInjector(rng.fork(), plan.faults, cluster);
  cluster.onVoteGranted = (node) => faults.voteGranted(node);
  let failure: SimResult["failure"];
  let linearizability: SimStats["linearizability"] = "skipped";
  let now = 0;
  const end = plan.safetyMs + plan.livenessMs;
  try {
    for (; now <= end; now++) {
      if (now < plan.safetyMs && now % plan.tickMs === 0) faults.step(now);
      if (now === plan.safetyMs) {
        faults.healAll(now);
        cluster.network.params = CALM_NETWORK;
        cluster.clients.startFinalWrite(now);
      }
      cluster.step(now);
      if (now < plan.safetyMs) faults.stepMs(now);
      if (now >= plan.safetyMs && now % plan.tickMs === 0 && converged(cluster)) break;
    }
    if (now > end) {
      throw new SimFailure(
        "liveness",
        "liveness",
        `Cannot converge after healing as the cluster made no progress: ${describe(cluster)}`,
      );
    }
    cluster.clients.abandonAll();
    linearizability = checkHistory(cluster.clients.history);
  } catch (err) {
    if (err instanceof SimFailure) {
      failure = { kind: err.kind, checker: err.checker, message: err.message, atMs: now };
    } else if (isRaftError(err, "ErrInvariant")) {
      // Raft detected a broken invariant itself (etcd would panic): a safety failure.
      failure = { kind: "safety", checker: "raft_invariant", message: err.message, atMs: now };
    } else {
      const e = err as Error;
      failure = { kind: "crash", checker: "exception", message: e.stack ?? String(e), atMs: now };
    }
  }
  return {
    plan,
    failure,
    traceHash: cluster.trace.hex(),
    faultLog: faults.log,
    stats: {
      endMs: now,
      terms: cluster.leaders.terms,
      committed: cluster.commits.maxIndex,
      snapshotsDelivered: cluster.snapshotsDelivered,
      confChangesCommitted: cluster.confChangesCommitted,
      network: cluster.network.stats,
      faults: faults.stats,
      clients: cluster.clients.stats,
      linearizability,
    },
  };
}

/** The final write is acknowledged and every member applied up to it. */
function converged(cluster: Cluster): boolean {
  const cs = cluster.reconcileMembership();
  const index = cluster.clients.finalIndex;
  if (cs === undefined || index === undefined) return false;
  return cluster.nodeList().every((n) => !isMember(cs, n.id) || (n.up && n.applied >= index));
}

function describe(cluster: Cluster): string {
  const final = cluster.clients.finalIndex;
  const nodes = cluster.nodeList().map((n) => {
    const role = ["follower", "candidate", "leader", "precandidate"][n.softState.raftState];
    const st = n.raw?.status();
    const detail = st === undefined
      ? ""
      : ` vote=${st.hardState.vote} commit=${st.hardState.commit} voters=[${
        st.config.voters.join(",")
      }]${
        st.config.votersOutgoing.length ? `&[${st.config.votersOutgoing.join(",")}]` : ""
      } learners=[${st.config.learners.join(",")}]`;
    return `${n.id}:${
      n.up ? role : n.removedSelf ? "removed" : "down"
    } term=${n.term} applied=${n.applied} lead=${n.softState.lead}${detail}`;
  });
  return `final write ${final === undefined ? "not acknowledged" : `at index ${final}`}; nodes ${
    nodes.join(", ")
  }`;
}
