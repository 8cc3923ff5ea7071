/**
 * The output of `bench/ranges_bench.ts`: one summary table (metric, result, target) for the parts
 * that ran, the failures of those that did not finish, and the machine's load, which on a small
 * shared machine says how far to trust the numbers.
 *
 * @module
 */

import type { RangesBenchArgs } from "./_ranges_args.ts";
import type { IdleResult } from "./_ranges_idle.ts";
import type { SplitResult, SplitTiming } from "./_ranges_split.ts";
import type { SpreadResult } from "./_ranges_spread.ts";

/** Issue 7's targets. */
export const TARGETS = {
  /** Idle CPU per node with 10,000 ranges, percent of one core. */
  idleCpuPercent: 5,
  /** Put throughput spread over many ranges over that on one range. */
  spreadRatio: 0.9,
};

/** Everything a run found; also the JSON of `--out`. */
export interface RangesBenchResults {
  startedAt: string;
  seconds: number;
  machine: { cores: number; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  args: RangesBenchArgs;
  idle?: IdleResult;
  spread?: SpreadResult;
  split?: SplitResult;
  /** Parts that failed, with their error. */
  failures: { part: string; error: string }[];
}

const pct = (x: number) => `${x.toFixed(1)}%`;
const list = (xs: number[], f: (x: number) => string) => xs.map(f).join(" / ");
const ms = (x: number) => `${x.toFixed(0)} ms`;

/** Formats the summary table. */
export function formatSummary(r: RangesBenchResults): string {
  const rows: [string, string, string][] = [];
  const { idle, spread, split } = r;
  if (idle !== undefined) {
    const worst = Math.max(...idle.cpuPercent);
    rows.push(
      [
        `idle: ${idle.ranges} ranges created by ${idle.splits} splits`,
        `${idle.createSeconds.toFixed(0)} s (${idle.splitsPerSecond.toFixed(0)} splits/s)`,
        "",
      ],
      [
        "idle: every replica quiesced",
        idle.quiesced ? `${idle.quiesceSeconds.toFixed(0)} s after the last split` : "NO",
        "",
      ],
      [
        `idle: CPU per node, mean of ${r.args.idle.sampleSeconds} s`,
        list(idle.cpuPercent, pct),
        `< ${TARGETS.idleCpuPercent}% per node: ${
          worst < TARGETS.idleCpuPercent ? "met" : "MISSED"
        }`,
      ],
      ["idle: CPU per node, median second", list(idle.cpuMedianPercent, pct), ""],
      ["idle: CPU per node, busiest second", list(idle.cpuMaxPercent, pct), ""],
      ["idle: ranges led per node", list(idle.leaders, String), ""],
      ["idle: resident memory per node", list(idle.rssMiB, (x) => `${x.toFixed(0)} MiB`), ""],
      [
        "idle: machine while sampling",
        `${idle.machinePercent.toFixed(0)}% of ${r.machine.cores * 100}%, load ${
          idle.loadAverage.toFixed(1)
        }`,
        "",
      ],
    );
  }
  if (spread !== undefined) {
    for (const l of spread.layouts) {
      const runs = spread.runs.filter((x) => x.ranges === l.ranges);
      rows.push([
        `spread: puts on ${l.ranges} range${l.ranges === 1 ? "" : "s"} (${runs.length} runs)`,
        `${l.opsPerSecond.toFixed(0)}/s, p50 ${l.p50Ms.toFixed(1)} ms, p99 ${
          l.p99Ms.toFixed(1)
        } ms, ${l.serverCpuMsPerPut.toFixed(2)} ms server CPU/put, ${
          l.messagesPerPut.toFixed(1)
        } raft msgs/put`,
        "",
      ]);
      rows.push([
        `spread: leaders per node, range 1's (${l.ranges} range${l.ranges === 1 ? "" : "s"})`,
        runs.map((x) => `${x.leaders.join("/")} (${x.rangeOneLeader})`).join(", "),
        "",
      ]);
    }
    const last = spread.layouts[spread.layouts.length - 1];
    rows.push([
      `spread: ${last.ranges} ranges / 1 range`,
      `${spread.ratio.toFixed(2)}x`,
      `>= ${TARGETS.spreadRatio}x: ${spread.ratio >= TARGETS.spreadRatio ? "met" : "MISSED"}`,
    ]);
    const machine = spread.runs.map((x) => x.machinePercent);
    rows.push([
      "spread: machine during the runs",
      `${Math.min(...machine).toFixed(0)}-${Math.max(...machine).toFixed(0)}% of ${
        r.machine.cores * 100
      }%`,
      "",
    ]);
  }
  if (split !== undefined) {
    rows.push([
      "split: load",
      `${split.loadMiBPerSecond.toFixed(1)} MiB/s (${r.args.split.valueSize}-byte values)`,
      "",
    ]);
    rows.push(...splitRows("manual", split.manual));
    if (split.auto !== undefined) rows.push(...splitRows("automatic", split.auto));
  }
  for (const f of r.failures) rows.push([`${f.part}: FAILED`, f.error.split("\n")[0], ""]);
  const header: [string, string, string] = ["metric", "result", "target"];
  const widths = [0, 1].map((i) => Math.max(header[i].length, ...rows.map((row) => row[i].length)));
  const fmt = (row: [string, string, string]) =>
    `${row[0].padEnd(widths[0])}  ${row[1].padEnd(widths[1])}  ${row[2]}`.trimEnd();
  return [
    `bench:ranges, ${r.args.nodes} nodes, ${r.seconds.toFixed(0)} s, load average ${
      r.machine.loadAverageAtStart[0].toFixed(1)
    } at the start and ${
      r.machine.loadAverageAtEnd[0].toFixed(1)
    } at the end (${r.machine.cores} cores)`,
    fmt(header),
    ...rows.map(fmt),
  ].join("\n");
}

function splitRows(kind: string, t: SplitTiming): [string, string, string][] {
  const size = `${(t.rangeBytes / 2 ** 20).toFixed(1)} MiB, ${t.rangeKeys} keys`;
  return [
    [
      `split: ${kind} split of ${size}`,
      `${ms(t.splitMs)}; both sides serving after ${ms(t.servingMs)}`,
      "",
    ],
    [
      `split: ${kind}, slowest turn per node`,
      list(t.slowTurnMs, (x) => x === 0 ? "<100" : ms(x)),
      "",
    ],
    [`split: ${kind}, slowest /healthz per node`, list(t.probeMaxMs, ms), ""],
  ];
}
