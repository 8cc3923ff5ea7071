/**
 * `deno task test:faults`: one fault run against real server processes, with a JSON summary on
 * stdout (progress goes to stderr).
 *
 * ```sh
 * deno task test:faults --workload register --faults partition --nodes 5 --seconds 60 --seed 7
 * deno task test:faults --workload set --faults mixed --splits
 * ```
 *
 * Exit codes: 0 the history checked out and the cluster recovered; 1 an anomaly in the history;
 * 3 a node crashed on its own or could not restart; 4 the cluster did not recover (liveness);
 * 5 the checker ran out of budget (neither proven nor refuted); 2 a usage error.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { FAULT_KINDS, type FaultKind, needsNetns } from "./nemesis.ts";
import { type FaultRunOutcome, runFaults } from "./run.ts";

const USAGE = `Usage: deno task test:faults [options]

  --workload register|set     what the clients do (default register)
  --faults ${FAULT_KINDS.join("|")}
                              what the nemesis injects (default mixed)
  --seconds S                 length of the fault phase (default 60)
  --seed N                    seed of every random choice (default: random, printed)
  --nodes N                   cluster size (default 3)
  --clients N                 concurrent clients (default max(8, 2 x nodes))
  --splits                    also split and merge ranges through the workload's keys
                              (Admin SplitPartition/MergePartition) while it runs
  --out DIR                   where a failed run's history and logs go (default fault-runs)
  --keep-history              write them for a passing run too

Partitions (and mixed) need root, iproute2 and iptables: each node runs in its own network
namespace. Exit codes: 0 ok, 1 anomaly, 3 crash, 4 liveness, 5 checker budget, 6 harness
error (the run could not be done; the summary names it), 130 interrupted, 2 usage.`;

const EXIT: Record<FaultRunOutcome, number> = {
  ok: 0,
  anomaly: 1,
  crash: 3,
  liveness: 4,
  "checker-unknown": 5,
  interrupted: 130,
};

function usage(message: string): never {
  console.error(`test:faults: ${message}\n\n${USAGE}`);
  Deno.exit(2);
}

function wholeNumber(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    usage(`--${name} must be a whole number of at least ${min}, got '${text}'`);
  }
  return n;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      options: {
        workload: { type: "string", default: "register" },
        faults: { type: "string", default: "mixed" },
        seconds: { type: "string" },
        seed: { type: "string" },
        nodes: { type: "string" },
        clients: { type: "string" },
        out: { type: "string" },
        "keep-history": { type: "boolean", default: false },
        splits: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    usage(err instanceof Error ? err.message : String(err));
  }
  const v = parsed.values;
  if (v.help) {
    console.log(USAGE);
    return;
  }
  if (v.workload !== "register" && v.workload !== "set") {
    usage(`--workload must be register or set, got '${v.workload}'`);
  }
  if (!(FAULT_KINDS as readonly string[]).includes(v.faults!)) {
    usage(`--faults must be one of ${FAULT_KINDS.join(", ")}, got '${v.faults}'`);
  }
  const faults = v.faults as FaultKind;
  const nodes = wholeNumber("nodes", v.nodes, 3, needsNetns(faults) ? 3 : 1);
  const seed = wholeNumber("seed", v.seed, Math.floor(Math.random() * 2 ** 31), 0);
  const seconds = wholeNumber("seconds", v.seconds, 60, 1);
  const clients = v.clients === undefined ? undefined : wholeNumber("clients", v.clients, 8, 1);
  const controller = new AbortController();
  const onSignal = () => {
    console.error("test:faults: interrupted; stopping the cluster");
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const summary = await runFaults({
      workload: v.workload,
      faults,
      seconds,
      seed,
      nodes,
      clients,
      splits: v.splits,
      outDir: v.out,
      keepHistory: v["keep-history"],
      signal: controller.signal,
    }).catch((err) => {
      // The harness itself failed (no namespaces, a cluster that never formed, iptables).
      const error = err instanceof Error ? err.message : String(err);
      console.error(`test:faults: the run could not be done: ${error}`);
      return {
        outcome: "harness-error" as const,
        workload: v.workload,
        faults,
        nodes,
        seed,
        error,
      };
    });
    console.log(JSON.stringify(summary, null, 2));
    Deno.exitCode = summary.outcome === "harness-error" ? 6 : EXIT[summary.outcome];
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) await main();
