/**
 * `deno task bench:ranges`: what many ranges cost, measured on real server processes on
 * 127.0.0.1 (issue 7's benchmark; docs/design/0009):
 *
 * 1. **idle** (`_ranges_idle.ts`): creates `--ranges` ranges through the product (Admin
 *    SplitPartition over the SDK, `--concurrency` at a time), waits until every replica quiesced,
 *    and samples each server process's CPU time from `/proc` (target: under 5% of one core per
 *    node with 10,000 ranges).
 * 2. **spread** (`_ranges_spread.ts`): bench:kv's closed-loop put load through the SDK on a
 *    cluster whose bench keys sit in one range, then split into `--spread-ranges` (target:
 *    spreading loses at most 10%).
 * 3. **split** (`_ranges_split.ts`): the time to split a 64 MiB range by hand and by the split
 *    queue, and the event-loop stall of the split's apply on every node.
 *
 * Each part starts its own cluster(s) and stops them. `--help` lists the flags; `--quick` is a
 * short smoke run; `--out FILE` writes the results as JSON. Exits 0 after a run, 1 when a part
 * failed (the others still run and are printed), 2 on bad flags.
 *
 * @module
 */

import { cpus, loadavg } from "node:os";
import { helpText, parseRangesArgs, type RangesBenchArgs, UsageError } from "./_ranges_args.ts";
import { BenchCluster, stopAllClusters } from "./_ranges_cluster.ts";
import { runIdle } from "./_ranges_idle.ts";
import { formatSummary, type RangesBenchResults } from "./_ranges_report.ts";
import { runSplit } from "./_ranges_split.ts";
import { runSpread } from "./_ranges_spread.ts";

/** How long the idle part waits for every replica to quiesce. */
const QUIESCE_TIMEOUT_MS = 120_000;

function logToStderr(line: string): void {
  console.error(line);
}

/**
 * Runs the parts of `args` in order; a failed part is recorded and the next one runs.
 *
 * @param args the parsed command line
 * @param log where progress lines go (stderr by default)
 */
export async function runRangesBench(
  args: RangesBenchArgs,
  log: (line: string) => void = logToStderr,
): Promise<RangesBenchResults> {
  const started = performance.now();
  const results: RangesBenchResults = {
    startedAt: new Date().toISOString(),
    seconds: 0,
    machine: { cores: cpus().length, loadAverageAtStart: loadavg(), loadAverageAtEnd: [] },
    args,
    failures: [],
  };
  const serverEnv = args.serverV8Flags === undefined
    ? undefined
    : { DENO_V8_FLAGS: args.serverV8Flags };
  const common = { nodes: args.nodes, dataRoot: args.dataRoot, serverEnv };
  for (const part of args.parts) {
    log(`--- ${part} (load average ${loadavg()[0].toFixed(1)})`);
    try {
      if (part === "idle") {
        const bench = await BenchCluster.start({ ...common, env: serverEnv });
        try {
          results.idle = await runIdle(bench, {
            ...args.idle,
            quiesceTimeoutMs: QUIESCE_TIMEOUT_MS,
          }, log);
        } finally {
          await bench.stop();
        }
      } else if (part === "spread") {
        results.spread = await runSpread({
          ...common,
          ...args.spread,
          layouts: [1, args.spread.ranges],
        }, log);
      } else {
        results.split = await runSplit({
          ...common,
          bytes: args.split.mib * 2 ** 20,
          valueSize: args.split.valueSize,
          batchOps: Math.max(1, Math.floor((64 * 1024) / args.split.valueSize)),
          concurrency: 8,
          auto: args.split.auto,
        }, log);
      }
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log(`${part} failed: ${error}`);
      results.failures.push({ part, error });
    }
  }
  results.seconds = (performance.now() - started) / 1000;
  results.machine.loadAverageAtEnd = loadavg();
  return results;
}

async function main(argv: string[]): Promise<number> {
  let args: RangesBenchArgs | "help";
  try {
    args = parseRangesArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(err.message);
    return 2;
  }
  if (args === "help") {
    console.log(helpText());
    return 0;
  }
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => void stopAllClusters().then(() => Deno.exit(130)));
  }
  const results = await runRangesBench(args);
  console.log(formatSummary(results));
  if (args.out !== undefined) {
    await Deno.writeTextFile(args.out, JSON.stringify(results, null, 2) + "\n");
    logToStderr(`results written to ${args.out}`);
  }
  return results.failures.length === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
