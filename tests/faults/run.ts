/**
 * One fault run: a cluster of real server processes, a workload recording its history, and a
 * nemesis injecting faults, in phases (TigerBeetle's VOPR has the same shape):
 *
 * 1. **setup**: the seed and every parameter are printed first; the cluster starts (in one
 *    network namespace per node when the faults include partitions);
 * 2. **safety**: the workload and the nemesis (and, with `splits`, the split churner of
 *    `split_churner.ts`, which splits and merges ranges through the workload's keys) run together
 *    for `seconds`;
 * 3. **liveness**: every fault is healed; every node must be ready again within
 *    `recoverySeconds`, and the workload's final reads must succeed;
 * 4. **check**: the workload's checker judges the history.
 *
 * The outcome tells the failures apart: an anomaly in the history, a node that crashed on its
 * own, a cluster that did not recover, or a checker that ran out of budget. On any failure the
 * history, the fault events and every node's log are written to a directory for replay reading.
 *
 * @module
 */
import { TestCluster } from "../harness/cluster.ts";
import { NetnsHosts } from "../harness/netns.ts";
import { Rng } from "../sim/rng.ts";
import { type FaultKind, needsNetns, Nemesis } from "./nemesis.ts";
import { type ChurnCounts, SplitChurner } from "./split_churner.ts";
import { createWorkload, type WorkloadResult } from "./workload.ts";

/** Options of {@linkcode runFaults}. */
export interface FaultRunOptions {
  workload: "register" | "set";
  faults: FaultKind;
  /** Length of the safety phase. */
  seconds: number;
  seed: number;
  /** @default 3 */
  nodes?: number;
  /**
   * Concurrent clients of the workload; half use the SDK, half talk to one node each.
   * @default max(8, 2 × nodes), so every node has a direct client
   */
  clients?: number;
  /** Client deadline of one operation. @default 2000 */
  opTimeoutMs?: number;
  /** Time the cluster gets to recover after the faults heal. @default 60 */
  recoverySeconds?: number;
  /** Split and merge ranges through the workload's keys while it runs. @default false */
  splits?: boolean;
  /** Where a failed run's history and logs go. @default "fault-runs" */
  outDir?: string;
  /** Write the history and logs even when the run passes. @default false */
  keepHistory?: boolean;
  /** Progress lines (stderr by default). */
  log?: (message: string) => void;
  /** Aborts the run early (e.g. on SIGINT); the cluster is still stopped. */
  signal?: AbortSignal;
}

/** The outcome of a run, printed as JSON by `deno task test:faults`. */
export type FaultRunOutcome =
  | "ok"
  | "anomaly"
  | "crash"
  | "liveness"
  | "checker-unknown"
  | "interrupted";

/** The summary of a run. */
export interface FaultRunSummary {
  outcome: FaultRunOutcome;
  ops: number;
  ok: number;
  failed: number;
  unknown: number;
  valid: WorkloadResult["valid"];
  /** How many anomalies the checker found. */
  anomalies: number;
  /** The first few anomalies, each naming the key and operations involved. */
  anomalyDetails: string[];
  workload: string;
  faults: FaultKind;
  nodes: number;
  seed: number;
  seconds: number;
  /** How many times each fault action happened. */
  faultEvents: Record<string, number>;
  /** With `splits`: the splits and merges done and failed, and the most ranges seen. */
  churn?: ChurnCounts;
  /** Nodes that exited on their own, and harness errors (a restart that failed). */
  crashes: string[];
  /** Why the liveness phase failed, if it did. */
  liveness?: string;
  /** How long the cluster took to be ready again after healing. */
  recoveryMs?: number;
  /** Where the history and logs were written. */
  historyDir?: string;
  durationMs: number;
}

/**
 * Runs one fault run; see the module doc.
 *
 * @param options workload, faults, length and seed
 * @returns the summary; never throws for a failure of the system under test
 * @throws {Error} when the harness itself cannot start (e.g. no network namespaces)
 */
export async function runFaults(options: FaultRunOptions): Promise<FaultRunSummary> {
  const started = Date.now();
  const log = options.log ?? ((m: string) => console.error(m));
  const nodes = options.nodes ?? 3;
  const rng = new Rng(options.seed);
  const runId = `${options.seed}-${Date.now().toString(36)}`;
  log(
    `fault run: workload=${options.workload} faults=${options.faults} nodes=${nodes} ` +
      `seconds=${options.seconds} seed=${options.seed}${options.splits ? " splits" : ""}`,
  );
  const net = needsNetns(options.faults) ? await NetnsHosts.create(nodes) : undefined;
  let cluster: TestCluster | undefined;
  try {
    cluster = await TestCluster.start({
      nodes,
      hosts: net,
      logLevel: "info",
      readyTimeoutMs: 60_000,
    });
    await cluster.waitAllReady(60_000);
    const endpoints = cluster.clientAddresses();
    const workload = createWorkload(options.workload, {
      clients: options.clients ?? Math.max(8, 2 * nodes),
    });
    const nemesis = new Nemesis(cluster, net, options.faults, rng.fork(), log);
    const env = {
      endpoints,
      rng: rng.fork(),
      opTimeoutMs: options.opTimeoutMs ?? 2_000,
      runId,
      log,
    };
    const churner = options.splits
      ? new SplitChurner(endpoints, runId, rng.fork(), log)
      : undefined;

    // Safety phase.
    const phase = new AbortController();
    const stopPhase = () => phase.abort();
    options.signal?.addEventListener("abort", stopPhase);
    const timer = setTimeout(stopPhase, options.seconds * 1000);
    const running = Promise.all([
      workload.run({ ...env, signal: phase.signal }),
      nemesis.run(phase.signal),
      churner?.run(phase.signal),
    ]);
    try {
      await running;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", stopPhase);
    }

    if (options.signal?.aborted) {
      log("interrupted: the run is not judged");
      return interrupted(options, nodes, nemesis.counts(), started);
    }

    // Liveness phase.
    await nemesis.healAll();
    let liveness: string | undefined;
    let recoveryMs: number | undefined;
    const healed = Date.now();
    const recoveryMsMax = (options.recoverySeconds ?? 60) * 1000;
    try {
      await cluster.waitAllReady(recoveryMsMax);
      recoveryMs = Date.now() - healed;
      log(`recovered in ${recoveryMs} ms`);
      await workload.finish(env, healed + 2 * recoveryMsMax);
    } catch (err) {
      liveness = err instanceof Error ? err.message.split("\n")[0] : String(err);
      log(`liveness failure: ${liveness}`);
    }
    await nemesis.checkCrashes();

    // Check.
    // Without final reads the checker judges what the run itself observed.
    const result = workload.check();
    const crashes = [
      ...nemesis.crashes.map((c) => `node ${c.node} exited on its own at ${c.at} ms`),
      ...nemesis.errors,
    ];
    const outcome: FaultRunOutcome = result.valid === false
      ? "anomaly"
      : crashes.length > 0
      ? "crash"
      : liveness !== undefined
      ? "liveness"
      : result.valid === "unknown"
      ? "checker-unknown"
      : "ok";
    const summary: FaultRunSummary = {
      outcome,
      workload: options.workload,
      faults: options.faults,
      nodes,
      seed: options.seed,
      seconds: options.seconds,
      ops: result.ops,
      ok: result.ok,
      failed: result.failed,
      unknown: result.unknown,
      valid: result.valid,
      anomalies: result.anomalies.length,
      anomalyDetails: result.anomalies.slice(0, 20),
      faultEvents: nemesis.counts(),
      crashes,
      durationMs: 0,
    };
    if (churner !== undefined) {
      summary.churn = churner.counts;
      log(`churn: ${JSON.stringify(churner.counts)}`);
    }
    if (liveness !== undefined) summary.liveness = liveness;
    if (recoveryMs !== undefined) summary.recoveryMs = recoveryMs;
    if (outcome !== "ok" || options.keepHistory) {
      summary.historyDir = await writeRunFiles(options.outDir ?? "fault-runs", runId, {
        summary,
        history: workload.history(),
        events: nemesis.events,
        crashOutput: nemesis.crashes,
        logs: cluster.nodes.map((n) => cluster!.stderrOf(n.index)),
      });
      log(`history and logs written to ${summary.historyDir}`);
    }
    summary.durationMs = Date.now() - started;
    return summary;
  } finally {
    await cluster?.stop();
    await net?.destroy();
  }
}

/** The summary of a run stopped early: nothing is judged, so it can never count as a pass. */
function interrupted(
  options: FaultRunOptions,
  nodes: number,
  faultEvents: Record<string, number>,
  started: number,
): FaultRunSummary {
  return {
    outcome: "interrupted",
    workload: options.workload,
    faults: options.faults,
    nodes,
    seed: options.seed,
    seconds: options.seconds,
    ops: 0,
    ok: 0,
    failed: 0,
    unknown: 0,
    valid: "unknown",
    anomalies: 0,
    anomalyDetails: [],
    faultEvents,
    crashes: [],
    durationMs: Date.now() - started,
  };
}

/** Writes a run's files into `<root>/<runId>/` and returns that directory. */
async function writeRunFiles(
  root: string,
  runId: string,
  files: {
    summary: unknown;
    history: unknown;
    events: unknown;
    crashOutput: unknown;
    logs: string[];
  },
): Promise<string> {
  const dir = `${root}/${runId}`;
  await Deno.mkdir(dir, { recursive: true });
  const json = (v: unknown) => JSON.stringify(v, null, 1);
  await Deno.writeTextFile(`${dir}/summary.json`, json(files.summary));
  await Deno.writeTextFile(`${dir}/history.json`, json(files.history));
  await Deno.writeTextFile(`${dir}/events.json`, json(files.events));
  await Deno.writeTextFile(`${dir}/crashes.json`, json(files.crashOutput));
  for (const [i, text] of files.logs.entries()) {
    await Deno.writeTextFile(`${dir}/node-${i}.log`, text);
  }
  return dir;
}
