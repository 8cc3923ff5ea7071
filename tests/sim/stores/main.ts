/**
 * `deno task sim --stores`: runs seeds of the store simulation (tests/sim/main.ts hands every
 * argument but `--stores` to {@linkcode storesMain}).
 *
 * Usage: `deno task sim --stores [--seeds N] [--seconds S] [--nodes K] [--seed X] [--bug NAME]
 * [--verbose]`
 * - `--seed X` alone replays one seed (its plan and fault log are printed);
 * - `--seeds N` runs N consecutive seeds from `--seed` (random when absent), stopping at the
 *   first failure.
 *
 * Exit codes as the Raft simulation's: 0 all passed, 10 safety violation, 11 liveness failure,
 * 12 crash (an exception, a failed store, an error no client expects), 2 bad usage.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { PLANTED_BUGS, type PlantedBug } from "../../../src/kv/planted_bugs.ts";
import { seedsOf } from "../seeds_arg.ts";
import { EXIT_CODES } from "../failure.ts";
import { formatStorePlan } from "./plan.ts";
import { runStoreSimulation, type StoreSimResult } from "./simulation.ts";

/** Bugs the store simulation can plant (stale-reads is the fault suite's). */
export const STORE_SIM_BUGS: readonly PlantedBug[] = PLANTED_BUGS;

/** The one-line command that replays a run. */
export function storeReplayCommand(r: StoreSimResult, nodesGiven: boolean): string {
  const parts = [
    "deno task sim --stores",
    `--seed ${r.plan.seed}`,
    `--seconds ${r.plan.safetyMs / 1000}`,
  ];
  if (nodesGiven) parts.push(`--nodes ${r.plan.nodes}`);
  if (r.bug !== undefined) parts.push(`--bug ${r.bug}`);
  return parts.join(" ");
}

/** One line about a run. */
export function storeSummary(r: StoreSimResult): string {
  const s = r.stats, f = s.faults, c = s.registers;
  return `seed ${r.plan.seed}: ${
    r.failure === undefined ? "ok" : r.failure.kind
  } at ${s.endMs}ms, stores=${r.plan.nodes} ops=${c.ok} maybe=${c.maybe} scans=${c.scans} batches=${c.batches} (cross-range ${c.crossRangeBatches}) transfers=${s.bank.transfers} ranges created=${s.rangesCreated} merged=${s.rangesMerged} max=${s.maxRanges} splits=${f.splitsDone}/${f.splits} merges=${f.mergesDone}/${f.merges} partitions=${f.partitions} crashes=${f.crashes} transfers=${f.transfers} msgs=${s.network.sent} snaps=${s.network.snapshotsInstalled}/${s.network.snapshots} lin=${s.linearizability} trace=${r.traceHash}`;
}

function usage(msg: string): never {
  console.error(
    `${msg}\nUsage: deno task sim --stores [--seeds N] [--seconds S] [--nodes K] [--seed X] [--bug ${
      STORE_SIM_BUGS.join("|")
    }] [--verbose]`,
  );
  Deno.exit(2);
}

/** Prints a failed run: plan, last fault-log and store log lines, summary, replay command. */
export function formatFailure(r: StoreSimResult, nodesGiven: boolean): string {
  const f = r.failure!;
  return [
    formatStorePlan(r.plan),
    "last faults:",
    ...r.faultLog.slice(-25).map((l) => `  ${l}`),
    "last store warnings:",
    ...r.logTail.slice(-10).map((l) => `  ${l.slice(0, 400)}`),
    ...(r.replicaDump === undefined
      ? []
      : ["replicas (node:gen role term applied commit last lead):", r.replicaDump]),
    storeSummary(r),
    `FAILED (${f.kind}, checker ${f.checker}) at ${f.atMs}ms: ${f.message}`,
    `replay: ${storeReplayCommand(r, nodesGiven)}`,
  ].join("\n");
}

/** Runs the store simulation from command-line arguments. */
export async function storesMain(args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        seeds: { type: "string" },
        seconds: { type: "string", default: "10" },
        nodes: { type: "string" },
        seed: { type: "string" },
        bug: { type: "string" },
        verbose: { type: "boolean", default: false },
      },
    });
  } catch (err) {
    usage(`Cannot parse flags: ${err instanceof Error ? err.message : err}`);
  }
  const { values } = parsed;
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) usage(`Cannot run the simulation as --seconds is invalid: ${values.seconds}`);
  const nodes = values.nodes === undefined ? undefined : Number(values.nodes);
  if (nodes !== undefined && !(Number.isInteger(nodes) && nodes >= 3 && nodes <= 5)) {
    usage(`Cannot run the store simulation as --nodes must be 3 to 5: ${values.nodes}`);
  }
  const bug = values.bug as PlantedBug | undefined;
  if (bug !== undefined && !STORE_SIM_BUGS.includes(bug)) {
    usage(`Cannot plant bug as it is unknown: ${bug}`);
  }
  const { first, seeds } = seedsOf(values, usage);
  const single = seeds === 1;
  const started = performance.now();
  for (let i = 0; i < seeds; i++) {
    const r = await runStoreSimulation({ seed: first + i, seconds, nodes, bug });
    if (r.failure !== undefined) {
      if (values.verbose) { for (const line of r.faultLog) console.log(`  ${line}`); }
      console.log(formatFailure(r, nodes !== undefined));
      Deno.exit(EXIT_CODES[r.failure.kind]);
    }
    if (single || values.verbose) {
      console.log(formatStorePlan(r.plan));
      if (values.verbose) { for (const line of r.faultLog) console.log(`  ${line}`); }
    }
    console.log(`${storeSummary(r)}${single ? "" : ` [${i + 1}/${seeds}]`}`);
  }
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${seeds} seed(s) from ${first} passed in ${secs}s`);
}

if (import.meta.main) await storesMain(Deno.args);
