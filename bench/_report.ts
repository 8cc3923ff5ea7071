/**
 * The output of `bench/kv_bench.ts`: ratio lines first (RangeDB over etcd) when both systems
 * ran, then one table row per system, then optionally a JSON object.
 *
 * @module
 */

import type { LoadResult } from "./_load.ts";

/** The result of one system's run. */
export interface SystemResult extends LoadResult {
  system: string;
  /** The endpoint the load went to (the leader). */
  endpoint: string;
}

/** The run parameters that the report repeats. */
export interface ReportParams {
  nodes: number;
  clients: number;
  connections: number;
  seconds: number;
  warmup: number;
  workload: string;
  valueSize: number;
  keys: number;
}

/**
 * Ratio lines of `a` over `b`: throughput (higher is better) and latency percentiles (lower is
 * better).
 */
export function ratioLines(a: SystemResult, b: SystemResult, workload: string): string[] {
  const r = (x: number, y: number) => y === 0 ? "n/a" : `${(x / y).toFixed(2)}x`;
  const name = `${a.system}/${b.system}`;
  return [
    `${name} ${workload} ops/s = ${r(a.opsPerSecond, b.opsPerSecond)} (higher is better)`,
    `${name} ${workload} p99 = ${r(a.latencyMs.p99, b.latencyMs.p99)}; p50 = ${
      r(a.latencyMs.p50, b.latencyMs.p50)
    }; p90 = ${r(a.latencyMs.p90, b.latencyMs.p90)} (lower is better)`,
  ];
}

/** Formats the results as text: ratios (when two systems ran), parameters, table. */
export function formatTables(params: ReportParams, results: readonly SystemResult[]): string {
  const lines: string[] = [];
  if (results.length === 2) {
    lines.push(...ratioLines(results[0], results[1], params.workload), "");
  }
  lines.push(
    `workload ${params.workload}, ${params.nodes} nodes, ${params.clients} clients over ` +
      `${params.connections} connections, ${params.valueSize}-byte values, ${params.keys} keys, ` +
      `${params.seconds} s measured after ${params.warmup} s warm-up`,
  );
  const header = [
    "system",
    "ops/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
    "errors",
    "bench CPU",
    "machine CPU",
  ];
  const rows = results.map((r) => [
    r.system,
    r.opsPerSecond.toFixed(0),
    r.latencyMs.p50.toFixed(2),
    r.latencyMs.p90.toFixed(2),
    r.latencyMs.p99.toFixed(2),
    r.latencyMs.max.toFixed(2),
    formatErrors(r.errors),
    `${r.cpu.benchPercent.toFixed(0)}%`,
    r.cpu.machinePercent < 0
      ? "n/a"
      : `${r.cpu.machinePercent.toFixed(0)}% of ${r.cpu.cores * 100}%`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join("  ");
  lines.push(fmt(header), ...rows.map(fmt));
  lines.push(
    "bench CPU: the load generator process (100% = one core); machine CPU: all processes",
  );
  return lines.join("\n");
}

function formatErrors(errors: Record<string, number>): string {
  const entries = Object.entries(errors);
  if (entries.length === 0) return "0";
  return entries.map(([code, n]) => `${n} ${code}`).join(", ");
}

/** Prints {@linkcode formatTables} to stdout. */
export function printTables(params: ReportParams, results: readonly SystemResult[]): void {
  console.log(formatTables(params, results));
}

/** Prints the parameters and results as one JSON object on one line. */
export function printJson(params: ReportParams, results: readonly SystemResult[]): void {
  const { nodes, clients, connections, seconds, warmup, workload, valueSize, keys } = params;
  console.log(JSON.stringify({
    params: { nodes, clients, connections, seconds, warmup, workload, valueSize, keys },
    results,
    ratios: results.length === 2
      ? {
        opsPerSecond: results[0].opsPerSecond / results[1].opsPerSecond,
        p50: results[0].latencyMs.p50 / results[1].latencyMs.p50,
        p99: results[0].latencyMs.p99 / results[1].latencyMs.p99,
      }
      : undefined,
  }));
}
