/**
 * Latency recording and CPU accounting for `bench/kv_bench.ts`: samples in a growing
 * Float64Array (a run of 10 s at 50k ops/s is 500k samples, 4 MB), percentiles by sorting once,
 * and CPU use of this process and of the whole machine over a run.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import process from "node:process";

/** Latencies of one run in milliseconds. */
export class LatencyRecorder {
  #samples = new Float64Array(1 << 16);
  #count = 0;

  /** Records one latency in milliseconds. */
  record(ms: number): void {
    if (this.#count === this.#samples.length) {
      const bigger = new Float64Array(this.#samples.length * 2);
      bigger.set(this.#samples);
      this.#samples = bigger;
    }
    this.#samples[this.#count++] = ms;
  }

  /** The number of samples recorded. */
  get count(): number {
    return this.#count;
  }

  /** Percentiles and maximum of the samples (all 0 when there are none). */
  summary(): LatencySummary {
    const sorted = this.#samples.slice(0, this.#count).sort();
    const at = (p: number) =>
      sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
    return {
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      max: sorted.length === 0 ? 0 : sorted[sorted.length - 1],
    };
  }
}

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** CPU use over an interval, in percent of one core. */
export interface CpuUse {
  /** This (load generator) process: user + system time. */
  benchPercent: number;
  /** The whole machine (all processes, all cores summed), from /proc/stat; -1 when unreadable. */
  machinePercent: number;
  /** The number of cores; machinePercent is at most cores × 100. */
  cores: number;
}

/** Measures CPU use from now until {@linkcode CpuMeter.stop}. */
export class CpuMeter {
  readonly #startWall = performance.now();
  readonly #startProcess = process.cpuUsage();
  readonly #startMachine = machineTicks();

  /** CPU use since construction. */
  stop(): CpuUse {
    const wallMs = performance.now() - this.#startWall;
    const used = process.cpuUsage(this.#startProcess);
    const benchPercent = ((used.user + used.system) / 1000 / wallMs) * 100;
    const end = machineTicks();
    const cores = cpus().length;
    let machinePercent = -1;
    if (this.#startMachine !== undefined && end !== undefined) {
      const busy = end.busy - this.#startMachine.busy;
      const total = busy + end.idle - this.#startMachine.idle;
      machinePercent = total > 0 ? (busy / total) * cores * 100 : 0;
    }
    return { benchPercent, machinePercent, cores };
  }
}

/** Busy and idle clock ticks of all cores from the first line of /proc/stat. */
function machineTicks(): { busy: number; idle: number } | undefined {
  let text: string;
  try {
    text = readFileSync("/proc/stat", "utf8");
  } catch {
    return undefined;
  }
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const f = text.slice(0, text.indexOf("\n")).trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  const busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
  return { busy, idle };
}
