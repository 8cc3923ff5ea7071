/**
 * Part 2 of `bench/ranges_bench.ts`: put throughput with the key space in one range versus spread
 * over many. Each run starts a fresh cluster, splits bench:kv's key space (`/bench/…`) into the
 * run's number of ranges through the product (leaders stay where the product puts them), writes
 * every key once (so that every measured put overwrites, in every run), and drives bench:kv's
 * closed-loop load through the SDK, which sends each put to its range's leader. Runs alternate
 * between the layouts so that drift on a shared machine weighs on both.
 *
 * @module
 */

import type { LatencySummary } from "./_latency.ts";
import { benchKey, preload, runLoad } from "./_load.ts";
import { BenchCluster, type SchedulerSample } from "./_ranges_cluster.ts";
import { runSplits, splitPlan } from "./_ranges_idle.ts";
import { SdkTarget } from "./_sdk_target.ts";

/** Options of {@linkcode runSpread}. */
export interface SpreadOptions {
  nodes: number;
  dataRoot?: string;
  /** Environment of the server processes (e.g. `DENO_V8_FLAGS` to profile them). */
  serverEnv?: Record<string, string>;
  /** The layouts compared, e.g. [1, 64]: the number of ranges bench keys are split into. */
  layouts: number[];
  /** How many times each layout runs (alternating). */
  rounds: number;
  clients: number;
  connections: number;
  seconds: number;
  warmup: number;
  keys: number;
  valueSize: number;
}

/** One measured run. */
export interface SpreadRun {
  ranges: number;
  round: number;
  /** Ranges holding bench keys that each node leads, in node order. */
  leaders: number[];
  /** The node (index) leading range 1, the timestamp oracle. */
  rangeOneLeader: number;
  /** Seconds the splits of this layout took. */
  splitSeconds: number;
  opsPerSecond: number;
  latencyMs: LatencySummary;
  errors: Record<string, number>;
  /** CPU of each server process during the measured seconds, percent of one core. */
  serverCpuPercent: number[];
  /** The load generator's CPU, and the machine's (all processes, percent of one core). */
  benchCpuPercent: number;
  machinePercent: number;
  /** Scheduler turns and leader quiesces per second on each node (warm-up included). */
  turnsPerSecond: number[];
  quiescesPerSecond: number[];
  /** Raft messages each node sent per second (warm-up included). */
  messagesPerSecond: number[];
}

/** A layout's runs summarised. */
export interface SpreadLayout {
  ranges: number;
  /** Mean over the rounds. */
  opsPerSecond: number;
  /** Median of the rounds' percentiles. */
  p50Ms: number;
  p99Ms: number;
  /** Server CPU milliseconds per put, summed over the nodes (mean over the rounds). */
  serverCpuMsPerPut: number;
  /** Raft messages between nodes per put, all nodes (mean over the rounds). */
  messagesPerPut: number;
}

/** The outcome of {@linkcode runSpread}. */
export interface SpreadResult {
  runs: SpreadRun[];
  layouts: SpreadLayout[];
  /** The last layout's throughput over the first's (1.0: no loss). */
  ratio: number;
}

/** Runs every layout `rounds` times. */
export async function runSpread(
  options: SpreadOptions,
  log: (line: string) => void,
): Promise<SpreadResult> {
  const runs: SpreadRun[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    // 1, 64, 64, 1, 1, 64 …: each layout runs as often first as second.
    const order = round % 2 === 1 ? options.layouts : [...options.layouts].reverse();
    for (const ranges of order) runs.push(await runOne(ranges, round, options, log));
  }
  const layouts = options.layouts.map((ranges) => summarize(ranges, runs));
  const ratio = layouts[layouts.length - 1].opsPerSecond / layouts[0].opsPerSecond;
  return { runs, layouts, ratio };
}

async function runOne(
  ranges: number,
  round: number,
  options: SpreadOptions,
  log: (line: string) => void,
): Promise<SpreadRun> {
  const bench = await BenchCluster.start({
    nodes: options.nodes,
    dataRoot: options.dataRoot,
    env: options.serverEnv,
  });
  let target: SdkTarget | undefined;
  try {
    const t0 = performance.now();
    if (ranges > 1) {
      const key = (i: number) => benchKey(Math.floor((i * options.keys) / ranges));
      await runSplits(bench, splitPlan(ranges, key), 16, () => {});
    }
    const splitSeconds = (performance.now() - t0) / 1000;
    const head = new TextEncoder().encode("/bench/");
    const spread = await bench.leaderSpread((r) => r.rangeId !== 1n && !isBefore(r.end, head));
    log(
      `spread: ${ranges} range${ranges === 1 ? "" : "s"} (round ${round}), leaders per node ` +
        `${spread.perNode.join("/")}${spread.unknown > 0 ? `, ${spread.unknown} unknown` : ""}, ` +
        `range 1 on node ${spread.rangeOneLeader}`,
    );
    target = await SdkTarget.connect(bench.cluster.clientAddresses(), options.connections, 10_000);
    await preload(target, options);
    // Server CPU over the measured seconds only, as runLoad measures them after its warm-up.
    let cpuFrom: number[] | undefined;
    let cpuTo: number[] | undefined;
    const from = setTimeout(() => cpuFrom = bench.cpuSeconds(), options.warmup * 1000);
    const to = setTimeout(
      () => cpuTo = bench.cpuSeconds(),
      (options.warmup + options.seconds) * 1000,
    );
    const schedBefore = await bench.schedulers();
    const result = await runLoad(target, {
      ...options,
      workload: "put",
      warmupSeconds: options.warmup,
    });
    clearTimeout(from);
    clearTimeout(to);
    const schedAfter = await bench.schedulers();
    const perSecond = (pick: (s: SchedulerSample) => number) =>
      schedAfter.map((a, i) => {
        const b = schedBefore[i];
        const secs = options.warmup + options.seconds;
        return a === undefined || b === undefined ? NaN : (pick(a) - pick(b)) / secs;
      });
    const turnsPerSecond = perSecond((s) => s.turns);
    const quiescesPerSecond = perSecond((s) => s.leaderQuiesces);
    const messagesPerSecond = perSecond((s) => s.messagesSent);
    const end = cpuTo ?? bench.cpuSeconds();
    const serverCpuPercent = end.map((c, i) => ((c - (cpuFrom?.[i] ?? c)) / options.seconds) * 100);
    log(
      `spread:   ${result.opsPerSecond.toFixed(0)} puts/s, p50 ${
        result.latencyMs.p50.toFixed(1)
      } ms, ` +
        `p99 ${result.latencyMs.p99.toFixed(1)} ms, server CPU ` +
        `${serverCpuPercent.map((p) => `${p.toFixed(0)}%`).join("/")}, machine ` +
        `${result.cpu.machinePercent.toFixed(0)}%, turns/s ` +
        `${turnsPerSecond.map((t) => t.toFixed(0)).join("/")}, quiesces/s ` +
        `${quiescesPerSecond.map((t) => t.toFixed(0)).join("/")}, raft msgs/s ` +
        `${messagesPerSecond.map((t) => t.toFixed(0)).join("/")}`,
    );
    return {
      ranges,
      round,
      leaders: spread.perNode,
      rangeOneLeader: spread.rangeOneLeader,
      splitSeconds,
      opsPerSecond: result.opsPerSecond,
      latencyMs: result.latencyMs,
      errors: result.errors,
      serverCpuPercent,
      benchCpuPercent: result.cpu.benchPercent,
      machinePercent: result.cpu.machinePercent,
      turnsPerSecond,
      quiescesPerSecond,
      messagesPerSecond,
    };
  } finally {
    target?.close();
    await bench.stop();
  }
}

/** Whether a range end lies at or before `key` (the range holds no key from `key` on). */
function isBefore(end: Uint8Array, key: Uint8Array): boolean {
  if (end.length === 0) return false;
  for (let i = 0; i < Math.min(end.length, key.length); i++) {
    if (end[i] !== key[i]) return end[i] < key[i];
  }
  return end.length <= key.length;
}

function summarize(ranges: number, runs: SpreadRun[]): SpreadLayout {
  const mine = runs.filter((r) => r.ranges === ranges);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  return {
    ranges,
    opsPerSecond: mean(mine.map((r) => r.opsPerSecond)),
    p50Ms: median(mine.map((r) => r.latencyMs.p50)),
    p99Ms: median(mine.map((r) => r.latencyMs.p99)),
    serverCpuMsPerPut: mean(
      mine.map((r) =>
        (r.serverCpuPercent.reduce((a, b) => a + b, 0) * 10) / Math.max(1, r.opsPerSecond)
      ),
    ),
    messagesPerPut: mean(
      mine.map((r) => r.messagesPerSecond.reduce((a, b) => a + b, 0) / Math.max(1, r.opsPerSecond)),
    ),
  };
}
