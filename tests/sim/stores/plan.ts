/**
 * The parameters of one run of the store simulation, all drawn from its seed (swarm testing: each
 * seed enables its own mix of faults at its own rates) and printed before the run starts.
 *
 * @module
 */

import type { SplitSettings } from "../../../src/kv/range_queue_deps.ts";
import { Rng } from "../rng.ts";

/** Per-batch network faults and latencies (simulated ms). */
export interface StoreNetworkParams {
  dropRate: number;
  dupRate: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Share of batches held up to `longDelayMs` (they arrive after later ones: reordering). */
  longDelayRate: number;
  longDelayMs: number;
}

/** Rates (per 10 ms fault step) and durations of the node-level faults. */
export interface StoreFaultParams {
  partitionRate: number;
  partitionMs: [number, number];
  crashRate: number;
  downMs: [number, number];
  transferRate: number;
  splitRate: number;
  mergeRate: number;
}

/** The workload. */
export interface StoreClientParams {
  /** Register clients (get / put / compare-and-swap / multi-key batches). */
  registers: number;
  /** Register keys, spread over `/00`…`/99`. */
  keys: number;
  /** Share of register operations that are batches over 2–3 keys (often several ranges). */
  batchRate: number;
  /** Bytes of padding on every register value (makes size splits happen). */
  valuePad: number;
  /** Bank clients; each owns its accounts and moves money between them. */
  bankClients: number;
  accountsPerClient: number;
  attemptTimeoutMs: number;
  giveUpMs: number;
  thinkMaxMs: number;
}

/** Everything that determines a run besides the store code. */
export interface StorePlan {
  seed: number;
  nodes: number;
  safetyMs: number;
  /**
   * Bound of the liveness phase (faults healed). A merge left frozen is aborted 10 s after its
   * freeze, and an abort whose answer was lost before the heal waits out its 30 s deadline first.
   */
  livenessMs: number;
  raft: { tickIntervalMs: number; electionTick: number; heartbeatTick: number };
  logTruncation: { threshold: number; keep: number };
  /**
   * Per node (by id - 1): upper bound of each batch write's duration. A crash loses the write in
   * progress; a slow disk makes its node apply late (it lags behind the others).
   */
  diskDelayMs: number[];
  /** Each node's wall clock is off by up to this many ms. */
  clockSkewMs: number;
  /** Thresholds of the automatic split and merge queues (tiny in many seeds). */
  thresholds: Partial<SplitSettings>;
  network: StoreNetworkParams;
  faults: StoreFaultParams;
  clients: StoreClientParams;
}

/** What the caller chooses; everything else comes from the seed. */
export interface StorePlanOptions {
  seed: number;
  /** Safety phase length in simulated seconds. */
  seconds: number;
  /** 3–5; drawn from the seed when undefined. */
  nodes?: number;
  /** Overrides applied after drawing (tests focus fault mixes with them). */
  override?: (plan: StorePlan) => void;
}

/**
 * A focused mix for tests: splits and merges several times a second and busy clients, so that
 * requests race the ranges changing under them (applied after drawing, like any override).
 */
export function churnMix(p: StorePlan): void {
  p.faults.splitRate = 0.04;
  p.faults.mergeRate = 0.06;
  p.clients.registers = 6;
  p.clients.thinkMaxMs = 5;
  p.clients.batchRate = 0.1;
}

/** A rate that is zero in a share of seeds and otherwise uniform in [lo, hi]. */
function rate(rng: Rng, off: number, lo: number, hi: number): number {
  return rng.chance(off) ? 0 : lo + rng.next() * (hi - lo);
}

/** The thresholds of a seed: the defaults (no automatic splits), or tiny ones. */
function drawThresholds(rng: Rng): Partial<SplitSettings> {
  if (rng.chance(0.3)) return {};
  const maxBytes = rng.pick([300, 600, 1200, 2500]);
  return {
    maxBytes,
    minBytes: Math.floor(maxBytes / rng.pick([3, 4, 8])),
    maxKeys: rng.pick([6, 10, 1_000_000]),
    splitQps: rng.pick([0, 0, 15, 40]),
    mergeDelayMs: rng.pick([1000, 2000, 5000]),
  };
}

/**
 * Draws the plan of a run from its seed, in a fixed order whatever the options, so `--nodes`
 * changes only the node count.
 */
export function drawStorePlan(opts: StorePlanOptions): StorePlan {
  const rng = new Rng(opts.seed ^ 0x2f6b1c3d);
  const drawnNodes = rng.pick([3, 3, 4, 5]);
  const plan: StorePlan = {
    seed: opts.seed,
    nodes: opts.nodes ?? drawnNodes,
    safetyMs: Math.round(opts.seconds * 1000),
    livenessMs: 60_000,
    raft: { tickIntervalMs: 10, electionTick: rng.range(10, 20), heartbeatTick: rng.range(1, 2) },
    logTruncation: rng.pick([
      { threshold: 10_000, keep: 1_000 },
      { threshold: 40, keep: 5 },
      { threshold: 15, keep: 2 },
    ]),
    diskDelayMs: Array.from({ length: 5 }, () => rng.pick([0, 0, 2, 6, 30])),
    clockSkewMs: rng.pick([0, 0, 5, 40]),
    thresholds: drawThresholds(rng),
    network: {
      dropRate: rate(rng, 0.3, 0, 0.08),
      dupRate: rate(rng, 0.4, 0, 0.05),
      minDelayMs: rng.range(1, 2),
      maxDelayMs: rng.range(2, 15),
      longDelayRate: rate(rng, 0.5, 0, 0.02),
      longDelayMs: rng.range(50, 600),
    },
    faults: {
      partitionRate: rate(rng, 0.2, 0.002, 0.015),
      partitionMs: [100, rng.range(300, 2500)],
      crashRate: rate(rng, 0.2, 0.001, 0.008),
      downMs: [20, rng.range(200, 2500)],
      transferRate: rate(rng, 0.4, 0, 0.01),
      splitRate: rate(rng, 0.1, 0.005, 0.03),
      mergeRate: rate(rng, 0.15, 0.004, 0.025),
    },
    clients: {
      registers: rng.range(2, 5),
      keys: rng.range(8, 20),
      batchRate: rng.pick([0, 0.1, 0.25]),
      valuePad: rng.pick([0, 0, 20, 80]),
      bankClients: rng.pick([0, 1, 1, 2]),
      accountsPerClient: rng.range(3, 4),
      attemptTimeoutMs: rng.range(300, 1200),
      giveUpMs: rng.range(2000, 6000),
      thinkMaxMs: rng.pick([5, 20, 60]),
    },
  };
  opts.override?.(plan);
  return plan;
}

/** The plan as printable lines (printed first, VOPR style). */
export function formatStorePlan(plan: StorePlan): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const w = plan.network, f = plan.faults, c = plan.clients, t = plan.thresholds;
  const r = plan.raft;
  return [
    `seed=${plan.seed} stores=${plan.nodes} safety=${plan.safetyMs}ms liveness<=${plan.livenessMs}ms`,
    `raft: tick=${r.tickIntervalMs}ms electionTick=${r.electionTick} heartbeatTick=${r.heartbeatTick} logTruncation=${plan.logTruncation.threshold}/${plan.logTruncation.keep} disk<=${
      plan.diskDelayMs.slice(0, plan.nodes).join("/")
    }ms skew<=${plan.clockSkewMs}ms`,
    `queues: ${
      Object.keys(t).length === 0
        ? "cluster defaults"
        : `maxBytes=${t.maxBytes} minBytes=${t.minBytes} maxKeys=${t.maxKeys} splitQps=${t.splitQps} mergeDelay=${t.mergeDelayMs}ms`
    }`,
    `network: drop=${pct(w.dropRate)} dup=${
      pct(w.dupRate)
    } delay=${w.minDelayMs}-${w.maxDelayMs}ms long=${
      pct(w.longDelayRate)
    } up to ${w.longDelayMs}ms`,
    `faults/10ms: partition=${pct(f.partitionRate)} (${f.partitionMs[0]}-${
      f.partitionMs[1]
    }ms) crash=${pct(f.crashRate)} (down ${f.downMs[0]}-${f.downMs[1]}ms) transfer=${
      pct(f.transferRate)
    } split=${pct(f.splitRate)} merge=${pct(f.mergeRate)}`,
    `clients: ${c.registers} registers on ${c.keys} keys (batches ${
      pct(c.batchRate)
    }, pad ${c.valuePad}B), ${c.bankClients} bank x ${c.accountsPerClient} accounts, attempt=${c.attemptTimeoutMs}ms giveUp=${c.giveUpMs}ms think<=${c.thinkMaxMs}ms`,
  ].join("\n");
}
