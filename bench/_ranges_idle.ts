/**
 * Part 1 of `bench/ranges_bench.ts`: the idle CPU of a cluster holding many ranges. The ranges
 * are created through the product (`Admin.SplitPartition` over the SDK, a bounded number at a
 * time), then the bench waits until the schedulers report no awake replica, lets the last
 * quiesce messages land, and samples each server process's CPU time from `/proc` while sending
 * the cluster nothing.
 *
 * @module
 */

import { loadavg } from "node:os";
import type { Key } from "../src/client/mod.ts";
import { CpuMeter } from "./_latency.ts";
import { type BenchCluster, type SchedulerSample, sleep } from "./_ranges_cluster.ts";

const decoder = new TextDecoder();

/** Options of {@linkcode runIdle}. */
export interface IdleOptions {
  /** Ranges in the cluster after creation, range 1 (the system keys) included. */
  ranges: number;
  /** Splits in flight at once. */
  concurrency: number;
  /** Seconds between quiescence and sampling (the creation's garbage is collected meanwhile). */
  settleSeconds: number;
  /** Seconds of CPU sampling. */
  sampleSeconds: number;
  /** How long the ranges may take to quiesce. */
  quiesceTimeoutMs: number;
}

/** The outcome of {@linkcode runIdle}. */
export interface IdleResult {
  /** Ranges in the cluster (meta copy) when sampling started. */
  ranges: number;
  splits: number;
  createSeconds: number;
  splitsPerSecond: number;
  /** Seconds from the last split to every scheduler reporting no awake replica. */
  quiesceSeconds: number;
  /** Whether every replica quiesced; false when the wait timed out (the sample still ran). */
  quiesced: boolean;
  /** Awake replicas per node when sampling started. */
  awakeAtStart: number[];
  /** Replicas per node. */
  replicas: number[];
  /** Ranges each node leads (meta copy), in node order. */
  leaders: number[];
  /** Mean CPU per node over the sample, in percent of one core. */
  cpuPercent: number[];
  /** The median one-second sample per node (a garbage collection weighs less than in the mean). */
  cpuMedianPercent: number[];
  /** The busiest one-second sample per node, in percent of one core. */
  cpuMaxPercent: number[];
  /** Scheduler turns and replica ticks per node per second over the settling and the sample. */
  turnsPerSecond: number[];
  replicaTicksPerSecond: number[];
  /** Resident memory per node in MiB. */
  rssMiB: number[];
  /** Machine CPU during the sample (all processes, percent of one core) and the load average. */
  machinePercent: number;
  loadAverage: number;
}

/** One split of a {@linkcode splitPlan}: its key, and the splits (by position) it waits for. */
export interface PlannedSplit {
  key: Key;
  after: number[];
}

/**
 * The split keys that cut a keyspace into `count` ranges at `key(1)` … `key(count - 1)` (in
 * ascending order), in the order to split them: breadth first through the halves, so that the
 * splits in flight at once mostly have different parents; each names the earlier splits that
 * bound its parent range (it waits for them, instead of racing them for the same parent).
 *
 * @param count the number of ranges to cut the span into
 * @param key the `i`-th boundary (default `/ranges/` and `i` zero-padded)
 */
export function splitPlan(
  count: number,
  key: (i: number) => Key = rangeKey(count),
): PlannedSplit[] {
  const plan: PlannedSplit[] = [];
  const position = new Map<number, number>();
  // Boundaries 1..count-1; an interval (lo, hi) of boundaries holds the ones strictly inside.
  const queue: [number, number][] = [[0, count]];
  for (let q = 0; q < queue.length; q++) {
    const [lo, hi] = queue[q];
    if (hi - lo < 2) continue;
    const mid = Math.floor((lo + hi) / 2);
    const after = [lo, hi].filter((i) => position.has(i)).map((i) => position.get(i)!);
    position.set(mid, plan.length);
    plan.push({ key: key(mid), after });
    queue.push([lo, mid], [mid, hi]);
  }
  return plan;
}

/** `/ranges/` and `i`, zero-padded to the width of `count`. */
export function rangeKey(count: number): (i: number) => string {
  const width = String(count).length;
  return (i) => `/ranges/${String(i).padStart(width, "0")}`;
}

/**
 * Runs the splits of `plan` with `concurrency` in flight, each after the splits it depends on.
 *
 * @returns the number of splits done
 * @throws {Error} on the first split that failed for good
 */
export async function runSplits(
  bench: BenchCluster,
  plan: PlannedSplit[],
  concurrency: number,
  progress: (done: number) => void,
): Promise<number> {
  const done: Promise<void>[] = new Array(plan.length);
  const finished: (() => void)[] = new Array(plan.length);
  for (let i = 0; i < plan.length; i++) {
    done[i] = new Promise<void>((resolve) => finished[i] = resolve);
  }
  let next = 0;
  let count = 0;
  const worker = async () => {
    while (next < plan.length) {
      const i = next++;
      await Promise.all(plan[i].after.map((j) => done[j]));
      try {
        await bench.db.admin.splitPartition(plan[i].key);
      } catch (err) {
        // A retried split whose first attempt applied meets its own boundary.
        if (!String(err).includes("already starts a range")) {
          const key = typeof plan[i].key === "string" ? plan[i].key : decoder.decode(plan[i].key);
          throw new Error(`Cannot create ranges as a split failed: key ${key}: ${err}`, {
            cause: err,
          });
        }
      }
      finished[i]();
      if (++count % 500 === 0) progress(count);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return count;
}

/** Creates the ranges, waits for quiescence and samples CPU. */
export async function runIdle(
  bench: BenchCluster,
  options: IdleOptions,
  log: (line: string) => void,
): Promise<IdleResult> {
  // Range 1 and the user range exist; every split adds one.
  const plan = splitPlan(options.ranges - 1);
  log(
    `idle: creating ${options.ranges} ranges (${plan.length} splits, ${options.concurrency} ` +
      `at a time)`,
  );
  const t0 = performance.now();
  const splits = await runSplits(bench, plan, options.concurrency, (n) => {
    const s = (performance.now() - t0) / 1000;
    log(`idle:   ${n} splits after ${s.toFixed(0)} s (${(n / s).toFixed(0)}/s)`);
  });
  const createSeconds = (performance.now() - t0) / 1000;
  log(`idle: ${splits} splits in ${createSeconds.toFixed(1)} s; waiting for quiescence`);
  const t1 = performance.now();
  let quiesced = false;
  let last: (SchedulerSample | undefined)[] = [];
  while (performance.now() - t1 < options.quiesceTimeoutMs) {
    last = await bench.schedulers();
    if (last.every((s) => s !== undefined && s.awake === 0)) {
      quiesced = true;
      break;
    }
    await sleep(2000);
  }
  const quiesceSeconds = (performance.now() - t1) / 1000;
  log(
    `idle: ${quiesced ? "quiesced" : "NOT quiesced"} after ${quiesceSeconds.toFixed(1)} s ` +
      `(awake per node: ${last.map((s) => s?.awake ?? "?").join(", ")})`,
  );
  const partitions = await bench.partitions();
  const ids = await bench.nodeIds();
  const leaders = ids.map((id) => partitions.filter((p) => Number(p.leaderNodeId) === id).length);
  // The scheduler counters are read before settling: a `/metrics` scrape of a node with 10,000
  // ranges renders 50,000 series and costs it about a second of CPU (and a garbage collection),
  // which must not fall into the sample. Settling also lets the last quiesce messages land and
  // the garbage of creating the ranges be collected.
  const before = await bench.schedulers();
  const beforeAt = performance.now();
  await sleep(options.settleSeconds * 1000);
  const sampled = await sampleCpu(bench, options.sampleSeconds, log);
  const countedSeconds = (performance.now() - beforeAt) / 1000;
  const after = await bench.schedulers();
  const rate = (pick: (s: SchedulerSample) => number) =>
    before.map((b, i) => {
      const a = after[i];
      return a === undefined || b === undefined ? NaN : (pick(a) - pick(b)) / countedSeconds;
    });
  return {
    ranges: partitions.length,
    splits,
    createSeconds,
    splitsPerSecond: splits / createSeconds,
    quiesceSeconds,
    quiesced,
    awakeAtStart: before.map((s) => s?.awake ?? NaN),
    replicas: before.map((s) => s?.replicas ?? NaN),
    leaders,
    cpuPercent: sampled.meanPercent,
    cpuMedianPercent: sampled.medianPercent,
    cpuMaxPercent: sampled.maxPercent,
    turnsPerSecond: rate((s) => s.turns),
    replicaTicksPerSecond: rate((s) => s.replicaTicks),
    rssMiB: bench.rssBytes().map((b) => b / 2 ** 20),
    machinePercent: sampled.machinePercent,
    loadAverage: sampled.loadAverage,
  };
}

/**
 * Samples each server process's CPU time once a second for `seconds`, sending the cluster
 * nothing meanwhile.
 */
export async function sampleCpu(
  bench: BenchCluster,
  seconds: number,
  log: (line: string) => void,
): Promise<{
  seconds: number;
  meanPercent: number[];
  medianPercent: number[];
  maxPercent: number[];
  machinePercent: number;
  loadAverage: number;
}> {
  const machine = new CpuMeter();
  const start = performance.now();
  const first = bench.cpuSeconds();
  let prev = first;
  let prevAt = start;
  const maxPercent = first.map(() => 0);
  const samples: number[][] = first.map(() => []);
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    const now = performance.now();
    const cpu = bench.cpuSeconds();
    const pct = cpu.map((c, n) => ((c - prev[n]) / ((now - prevAt) / 1000)) * 100);
    pct.forEach((p, n) => {
      maxPercent[n] = Math.max(maxPercent[n], p);
      samples[n].push(p);
    });
    log(`idle:   second ${i + 1}: ${pct.map((p) => `${p.toFixed(1)}%`).join(" ")}`);
    prev = cpu;
    prevAt = now;
  }
  const wall = (prevAt - start) / 1000;
  const use = machine.stop();
  return {
    seconds: wall,
    meanPercent: prev.map((c, n) => ((c - first[n]) / wall) * 100),
    medianPercent: samples.map((xs) => {
      const sorted = [...xs].sort((a, b) => a - b);
      const mid = Math.floor(sorted.length / 2);
      return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }),
    maxPercent,
    machinePercent: use.machinePercent,
    loadAverage: loadavg()[0],
  };
}
