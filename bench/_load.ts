/**
 * The closed-loop load of `bench/kv_bench.ts`: `clients` workers, each pinned to one channel of
 * a {@linkcode LoadTarget}, each sending its next request as soon as the previous one answered.
 * Keys are `/bench/` plus 10 decimal digits, drawn uniformly from `[0, keys)`; values are one
 * random buffer of `valueSize` bytes.
 *
 * @module
 */

import { CpuMeter, type CpuUse, LatencyRecorder, type LatencySummary } from "./_latency.ts";
import { statusName } from "./_kv_target.ts";

/**
 * What the load drives: a raw gRPC connection pool ({@linkcode KvTarget}) or the SDK
 * (`bench/_sdk_target.ts`). Worker `w` sends on channel `w`; failures reject.
 */
export interface LoadTarget {
  readonly protocol: { readonly name: string };
  put(channel: number, key: Uint8Array, value: Uint8Array): Promise<void>;
  get(channel: number, key: Uint8Array): Promise<void>;
}

/** What each worker sends: puts, linearizable gets, or 50% of each (YCSB A's mix). */
export type Workload = "put" | "get" | "mixed";

/** Options of {@linkcode runLoad}. */
export interface LoadOptions {
  workload: Workload;
  clients: number;
  /** Measured seconds, after the warm-up. */
  seconds: number;
  /** Seconds of load before measuring (connections, JIT, leader caches). */
  warmupSeconds: number;
  keys: number;
  valueSize: number;
}

/** The outcome of one measured run. */
export interface LoadResult {
  ops: number;
  opsPerSecond: number;
  latencyMs: LatencySummary;
  /** Failed requests by gRPC status name. */
  errors: Record<string, number>;
  cpu: CpuUse;
}

/** Pause after a failed request, so that a down endpoint does not turn into a busy loop. */
const ERROR_BACKOFF_MS = 10;

const KEY_HEAD = new TextEncoder().encode("/bench/");
const KEY_DIGITS = 10;

/** `/bench/` and `i` as 10 decimal digits. */
export function benchKey(i: number): Uint8Array {
  const key = new Uint8Array(KEY_HEAD.length + KEY_DIGITS);
  key.set(KEY_HEAD);
  for (let o = key.length - 1, n = i; o >= KEY_HEAD.length; o--, n = Math.floor(n / 10)) {
    key[o] = 0x30 + (n % 10);
  }
  return key;
}

/** A value of `size` random bytes, the same for every write. */
function benchValue(size: number): Uint8Array {
  const value = new Uint8Array(size);
  for (let o = 0; o < size; o += 65536) crypto.getRandomValues(value.subarray(o, o + 65536));
  return value;
}

/**
 * Writes keys `[0, keys)` once each with `clients` concurrent workers.
 *
 * @throws {Error} on the first failed write (a benchmark over missing keys would mislead)
 */
export async function preload(
  target: LoadTarget,
  options: { keys: number; clients: number; valueSize: number },
): Promise<void> {
  const value = benchValue(options.valueSize);
  let next = 0;
  const worker = async (w: number) => {
    while (next < options.keys) {
      const i = next++;
      try {
        await target.put(w, benchKey(i), value);
      } catch (err) {
        throw new Error(
          `Cannot preload ${target.protocol.name} as a put failed: key ${i}, ${statusName(err)}`,
          { cause: err },
        );
      }
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, w) => worker(w)));
}

/** Runs the load on `target` and measures it. */
export async function runLoad(target: LoadTarget, options: LoadOptions): Promise<LoadResult> {
  const value = benchValue(options.valueSize);
  const keys = Array.from({ length: options.keys }, (_, i) => benchKey(i));
  const latencies = new LatencyRecorder();
  const errors: Record<string, number> = {};
  const start = performance.now();
  const measureFrom = start + options.warmupSeconds * 1000;
  const measureTo = measureFrom + options.seconds * 1000;
  let cpu: CpuMeter | undefined;
  const cpuTimer = setTimeout(() => cpu = new CpuMeter(), options.warmupSeconds * 1000);
  const worker = async (w: number) => {
    let rng = (w + 1) * 0x9e3779b1 >>> 0 || 1;
    for (;;) {
      const t0 = performance.now();
      if (t0 >= measureTo) return;
      rng ^= rng << 13;
      rng ^= rng >>> 17;
      rng ^= rng << 5;
      const r = (rng >>> 0) / 2 ** 32;
      const key = keys[Math.floor(r * keys.length)];
      const isPut = options.workload === "put" ||
        (options.workload === "mixed" && (rng & 0x100) === 0);
      try {
        if (isPut) await target.put(w, key, value);
        else await target.get(w, key);
        const t1 = performance.now();
        if (t0 >= measureFrom && t1 <= measureTo) latencies.record(t1 - t0);
      } catch (err) {
        if (t0 >= measureFrom) {
          const name = statusName(err);
          errors[name] = (errors[name] ?? 0) + 1;
        }
        await new Promise((r) => setTimeout(r, ERROR_BACKOFF_MS));
      }
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, w) => worker(w)));
  clearTimeout(cpuTimer);
  return {
    ops: latencies.count,
    opsPerSecond: latencies.count / options.seconds,
    latencyMs: latencies.summary(),
    errors,
    cpu: (cpu ?? new CpuMeter()).stop(),
  };
}
