/**
 * The parameters of one run, all drawn from its seed (swarm testing: each seed enables its own
 * mix of faults at its own rates) and printed before the run starts.
 *
 * @module
 */

import { type PlantedBug, ReadOnlyOption } from "../../src/raft/mod.ts";
import type { ClientParams } from "./clients.ts";
import type { NetworkParams } from "./network.ts";
import type { NodeParams } from "./node.ts";
import { Rng } from "./rng.ts";

/** The partition shapes the fault injector builds. */
export const PARTITION_SHAPES = [
  /** One node cut off both ways. */
  "isolate",
  /** A random minority against the majority. */
  "split",
  /** The leader with a minority of followers against the rest. */
  "leader-minority",
  /** Overlapping majorities: each node reaches only its ring neighbours. */
  "ring",
  /** Two halves connected by a single node. */
  "bridge",
  /** One node can receive but not send. */
  "oneway",
] as const;

/** One of {@linkcode PARTITION_SHAPES}. */
export type PartitionShape = typeof PARTITION_SHAPES[number];

/** Rates (per 10 ms tick) and durations of cluster-level faults. */
export interface FaultParams {
  partitionRate: number;
  partitionShapes: readonly PartitionShape[];
  partitionMs: [number, number];
  crashRate: number;
  /** Probability that a node crashes right after granting a vote (crashes at the worst time). */
  crashAfterVoteRate: number;
  downMs: [number, number];
  confChangeRate: number;
  transferRate: number;
  /**
   * The smallest voter count that membership changes shrink the cluster to. 1 and 2 reach the
   * single-voter and two-voter paths (fast-path reads, quorum of two) that bigger clusters skip.
   */
  minVoters: number;
}

/** Everything that determines a run besides the Raft code itself. */
export interface SimPlan {
  seed: number;
  /** Founding members. */
  nodes: number;
  /** Length of the safety phase (faults on), in ms. */
  safetyMs: number;
  /** Bound of the liveness phase (faults healed), in ms. */
  livenessMs: number;
  /** Simulated ms between two ticks of a node, on average. */
  tickMs: number;
  /** Each node's tick period is drawn once in `tickMs ± clockDriftMs` (clocks run at different rates). */
  clockDriftMs: number;
  node: NodeParams;
  network: NetworkParams;
  clients: ClientParams;
  faults: FaultParams;
}

/** What the caller chooses; everything else comes from the seed. */
export interface PlanOptions {
  seed: number;
  /** Safety phase length in simulated seconds. */
  seconds: number;
  /** Founding members (3–7); drawn from the seed when undefined. */
  nodes?: number;
  /** Bugs planted in every node's Raft. */
  bugs?: ReadonlySet<PlantedBug>;
  /**
   * Serve ReadIndex from the leader lease (ReadOnlyOption.LeaseBased, CheckQuorum on, clocks
   * without drift, most reads through ReadIndex). Off by default: etcd-style leases are not safe
   * (a cut-off leader keeps serving until its next CheckQuorum round, up to two election
   * timeouts, while the others may elect a new leader after one).
   */
  leaseReads?: boolean;
  /** Overrides applied after drawing (tests use them to focus fault mixes). */
  override?: (plan: SimPlan) => void;
}

/** A rate that is zero in a share of seeds and otherwise uniform in [0, max]. */
function rate(rng: Rng, off: number, max: number): number {
  return rng.chance(off) ? 0 : rng.next() * max;
}

/**
 * Draws the plan of a run from its seed. The draws happen in a fixed order whatever the options,
 * so `--nodes` changes only the node count, not the other parameters.
 */
export function drawPlan(opts: PlanOptions): SimPlan {
  const rng = new Rng(opts.seed);
  const drawnNodes = rng.pick([3, 3, 4, 5, 5, 7]);
  const electionTick = rng.range(8, 15);
  const plan: SimPlan = {
    seed: opts.seed,
    nodes: opts.nodes ?? drawnNodes,
    safetyMs: Math.round(opts.seconds * 1000),
    livenessMs: 10_000,
    tickMs: 10,
    clockDriftMs: rng.pick([0, 0, 1, 2]),
    node: {
      electionTick,
      heartbeatTick: rng.range(1, 3),
      checkQuorum: rng.chance(0.8),
      preVote: rng.chance(0.8),
      disableProposalForwarding: rng.chance(0.15),
      // Lease reads assume bounded clock drift and no forced elections: opt-in only.
      readOnlyOption: ReadOnlyOption.Safe,
      maxSizePerMsg: rng.pick([256, 1024, 4096, 65536]),
      maxInflightMsgs: rng.pick([2, 8, 64, 256]),
      fsyncDelayMs: rng.chance(0.5) ? 0 : rng.range(1, 8),
      snapshotEvery: rng.pick([5, 10, 20, 50, 100]),
      snapshotUnavailableRate: rng.pick([0, 0, 0.2, 0.5]),
      compactionLag: rng.pick([0, 2, 5, 20]),
      plantedBugs: opts.bugs ?? new Set(),
    },
    network: {
      dropRate: rate(rng, 0.3, 0.1),
      dupRate: rate(rng, 0.4, 0.05),
      minDelayMs: rng.range(1, 3),
      maxDelayMs: rng.range(3, 30),
      longDelayRate: rate(rng, 0.5, 0.02),
      longDelayMs: rng.range(100, 1000),
    },
    clients: {
      clients: rng.range(2, 5),
      keys: rng.range(1, 4),
      readIndexRate: rng.pick([0, 0.5, 0.9]),
      attemptTimeoutMs: rng.range(200, 800),
      giveUpMs: rng.range(1000, 4000),
      thinkMaxMs: rng.pick([5, 20, 60]),
    },
    faults: {
      partitionRate: rate(rng, 0.25, 0.02),
      partitionShapes: PARTITION_SHAPES,
      partitionMs: [100, rng.range(300, 3000)],
      crashRate: rate(rng, 0.25, 0.015),
      crashAfterVoteRate: rate(rng, 0.7, 0.3),
      downMs: [20, rng.range(200, 3000)],
      confChangeRate: rate(rng, 0.4, 0.02),
      transferRate: rate(rng, 0.5, 0.01),
      minVoters: 3,
    },
  };
  // Drawn last so that adding it left every earlier draw of a seed unchanged.
  plan.faults.minVoters = rng.pick([1, 2, 3, 3]);
  if (plan.node.heartbeatTick >= electionTick) plan.node.heartbeatTick = 1;
  // With neither, a node stuck at a higher term that cannot campaign (it applied its own
  // demotion to learner) ignores the leader forever, as in etcd: no liveness to assert.
  if (!plan.node.checkQuorum && !plan.node.preVote) plan.node.checkQuorum = true;
  if (opts.leaseReads) {
    plan.node.readOnlyOption = ReadOnlyOption.LeaseBased;
    plan.node.checkQuorum = true;
    plan.clockDriftMs = 0;
    plan.clients.readIndexRate = 0.9;
  }
  opts.override?.(plan);
  return plan;
}

/** The plan as printable lines (printed first, VOPR style). */
export function formatPlan(plan: SimPlan): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const n = plan.node, w = plan.network, c = plan.clients, f = plan.faults;
  return [
    `seed=${plan.seed} nodes=${plan.nodes} safety=${plan.safetyMs}ms liveness<=${plan.livenessMs}ms tick=${plan.tickMs}±${plan.clockDriftMs}ms`,
    `raft: electionTick=${n.electionTick} heartbeatTick=${n.heartbeatTick} checkQuorum=${n.checkQuorum} preVote=${n.preVote} noForwarding=${n.disableProposalForwarding} leaseReads=${
      n.readOnlyOption === ReadOnlyOption.LeaseBased
    } maxSizePerMsg=${n.maxSizePerMsg} maxInflightMsgs=${n.maxInflightMsgs} bugs=[${
      [...n.plantedBugs].join(",")
    }]`,
    `disk: fsyncDelay~${n.fsyncDelayMs}ms snapshotUnavailable=${
      pct(n.snapshotUnavailableRate)
    } snapshotEvery=${n.snapshotEvery} compactionLag=${n.compactionLag}`,
    `network: drop=${pct(w.dropRate)} dup=${
      pct(w.dupRate)
    } delay=${w.minDelayMs}-${w.maxDelayMs}ms long=${
      pct(w.longDelayRate)
    } up to ${w.longDelayMs}ms`,
    `faults/tick: partition=${pct(f.partitionRate)} [${f.partitionShapes.join(",")}] (${
      f.partitionMs[0]
    }-${f.partitionMs[1]}ms) crash=${pct(f.crashRate)} crashAfterVote=${
      pct(f.crashAfterVoteRate)
    } (down ${f.downMs[0]}-${f.downMs[1]}ms) confChange=${
      pct(f.confChangeRate)
    } (down to ${f.minVoters} voters) transfer=${pct(f.transferRate)}`,
    `clients: ${c.clients} on ${c.keys} keys readIndex=${
      pct(c.readIndexRate)
    } attemptTimeout=${c.attemptTimeoutMs}ms giveUp=${c.giveUpMs}ms think<=${c.thinkMaxMs}ms`,
  ].join("\n");
}
