/**
 * `deno task sim`: runs seeds of the deterministic cluster simulation.
 *
 * Usage: `deno task sim [--seeds N] [--seconds S] [--nodes K] [--seed X] [--bug NAME]
 * [--lease-reads] [--verbose]`; with `--stores`, the store simulation instead (real multi-raft
 * stores with splits and merges: tests/sim/stores/main.ts).
 * - `--seed X` alone replays one seed (its plan and fault log are printed);
 * - `--seeds N` runs N consecutive seeds from `--seed` (random when absent), stopping at the
 *   first failure.
 *
 * Exit codes: 0 all passed, 10 safety violation, 11 liveness failure, 12 crash (exception),
 * 2 bad usage.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type PlantedBug, ReadOnlyOption } from "../../src/raft/mod.ts";
import { seedsOf } from "./seeds_arg.ts";
import { EXIT_CODES } from "./failure.ts";
import { formatPlan } from "./plan.ts";
import { runSimulation, type SimResult } from "./simulation.ts";
import { storesMain } from "./stores/main.ts";

const PLANTED_BUGS: readonly PlantedBug[] = [
  "double-vote",
  "commit-on-minority",
  "vote-not-persisted",
  "apply-truncated-suffix",
];

/** The one-line command that replays a run. */
export function replayCommand(r: SimResult, nodesGiven: boolean): string {
  const p = r.plan;
  const parts = ["deno task sim", `--seed ${p.seed}`, `--seconds ${p.safetyMs / 1000}`];
  if (nodesGiven) parts.push(`--nodes ${p.nodes}`);
  for (const bug of p.node.plantedBugs) parts.push(`--bug ${bug}`);
  if (p.node.readOnlyOption === ReadOnlyOption.LeaseBased) parts.push("--lease-reads");
  return parts.join(" ");
}

function usage(msg: string): never {
  console.error(
    `${msg}\nUsage: deno task sim [--seeds N] [--seconds S] [--nodes K] [--seed X] [--bug ${
      PLANTED_BUGS.join("|")
    }] [--lease-reads] [--verbose]`,
  );
  Deno.exit(2);
}

function summary(r: SimResult): string {
  const s = r.stats;
  return `seed ${r.plan.seed}: ${
    r.failure === undefined ? "ok" : r.failure.kind
  } at ${s.endMs}ms, nodes=${r.plan.nodes} terms=${s.terms} committed=${s.committed} snaps=${s.snapshotsDelivered} ops=${s.clients.ok} (readIndex ${s.clients.readIndexOk}) maybe=${s.clients.maybe} msgs=${s.network.sent} partitions=${s.faults.partitions} crashes=${s.faults.crashes} confChanges=${s.faults.confChanges}/${s.confChangesCommitted} transfers=${s.faults.transfers} lin=${s.linearizability} trace=${r.traceHash}`;
}

function main(): void {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      options: {
        seeds: { type: "string" },
        seconds: { type: "string", default: "10" },
        nodes: { type: "string" },
        seed: { type: "string" },
        bug: { type: "string", multiple: true },
        verbose: { type: "boolean", default: false },
        "lease-reads": { type: "boolean", default: false },
      },
    });
  } catch (err) {
    usage(`Cannot parse flags: ${err instanceof Error ? err.message : err}`);
  }
  const { values } = parsed;
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) usage(`Cannot run the simulation as --seconds is invalid: ${values.seconds}`);
  const nodes = values.nodes === undefined ? undefined : Number(values.nodes);
  if (nodes !== undefined && !(Number.isInteger(nodes) && nodes >= 3 && nodes <= 7)) {
    usage(`Cannot run the simulation as --nodes must be 3 to 7: ${values.nodes}`);
  }
  const bugs = new Set<PlantedBug>();
  for (const b of values.bug ?? []) {
    if (!PLANTED_BUGS.includes(b as PlantedBug)) usage(`Cannot plant bug as it is unknown: ${b}`);
    bugs.add(b as PlantedBug);
  }
  const { first, seeds } = seedsOf(values, usage);
  const single = seeds === 1;
  const started = performance.now();
  for (let i = 0; i < seeds; i++) {
    const seed = first + i;
    const r = runSimulation({ seed, seconds, nodes, bugs, leaseReads: values["lease-reads"] });
    if (single || values.verbose) {
      console.log(formatPlan(r.plan));
      if (values.verbose) { for (const line of r.faultLog) console.log(`  ${line}`); }
    }
    if (r.failure !== undefined) {
      if (!single && !values.verbose) console.log(formatPlan(r.plan));
      console.log(r.faultLog.slice(-20).map((l) => `  ${l}`).join("\n"));
      console.log(summary(r));
      console.log(
        `FAILED (${r.failure.kind}, checker ${r.failure.checker}) at ${r.failure.atMs}ms: ${r.failure.message}`,
      );
      console.log(`replay: ${replayCommand(r, nodes !== undefined)}`);
      Deno.exit(EXIT_CODES[r.failure.kind]);
    }
    if (single || values.verbose || (i + 1) % 100 === 0) {
      console.log(`${summary(r)}${single ? "" : ` [${i + 1}/${seeds}]`}`);
    }
  }
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${seeds} seed(s) from ${first} passed in ${secs}s`);
}

if (import.meta.main) {
  if (Deno.args.includes("--stores")) await storesMain(Deno.args.filter((a) => a !== "--stores"));
  else main();
}
