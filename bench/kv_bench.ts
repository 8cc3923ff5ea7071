/**
 * `deno task bench:kv`: closed-loop put/get throughput and latency of a local RangeDB cluster of
 * real server processes, optionally against a local etcd 3.4 cluster driven by the same load
 * generator (`--compare etcd`), with the ratios printed first.
 *
 * Options: `--nodes N` (default 3; etcd gets as many members), `--clients C` concurrent
 * workers (default 64), `--connections K` gRPC channels shared by the workers (default 4),
 * `--seconds S` measured (default 10) after `--warmup W` (default 2), `--workload
 * put|get|mixed` (default put; mixed is 50% each), `--value-size B` (default 100), `--keys K`
 * (default 10000; preloaded for get and mixed), `--compare etcd` (both systems, RangeDB
 * first), `--system rangedb|etcd` (only one), `--etcd PATH` (default /usr/bin/etcd),
 * `--data-root DIR` (parent of both systems' temp data dirs; default the OS temp dir), `--json` (also print a JSON
 * object).
 *
 * Requests go to each system's leader (RangeDB: `Admin.ClusterStatus`; etcd: `etcdctl endpoint
 * status`), as raw unary gRPC with the same client code for both (`bench/_kv_target.ts`). Gets
 * are linearizable on both: RangeDB's default Get, etcd's Range with serializable=false.
 * The load generator's own CPU is printed: on a small machine it competes with the servers.
 *
 * Exits 0 after a run (failed requests are counted, not fatal), 1 when a cluster cannot be set
 * up, 2 on bad flags.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ETCD_PROTOCOL, type EtcdCluster, startEtcdCluster } from "./_etcd.ts";
import { KvTarget } from "./_kv_target.ts";
import { type LoadResult, preload, runLoad, type Workload } from "./_load.ts";
import {
  RANGEDB_PROTOCOL,
  type RangeDbCluster,
  rangeDbLeaderAddress,
  startRangeDbCluster,
} from "./_rangedb.ts";
import { printJson, printTables, type SystemResult } from "./_report.ts";

/** Per-request deadline: long enough to count slow requests as latency, not errors. */
const DEADLINE_MS = 10_000;
/** Time allowed for a cluster to start and elect a leader. */
const READY_TIMEOUT_MS = 60_000;

type SystemName = "rangedb" | "etcd";

interface BenchArgs {
  nodes: number;
  clients: number;
  connections: number;
  seconds: number;
  warmup: number;
  workload: Workload;
  valueSize: number;
  keys: number;
  systems: SystemName[];
  etcd: string;
  dataRoot: string | undefined;
  json: boolean;
}

function parseBenchArgs(args: string[]): BenchArgs {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      nodes: { type: "string", default: "3" },
      clients: { type: "string", default: "64" },
      connections: { type: "string", default: "4" },
      seconds: { type: "string", default: "10" },
      warmup: { type: "string", default: "2" },
      workload: { type: "string", default: "put" },
      "value-size": { type: "string", default: "100" },
      keys: { type: "string", default: "10000" },
      compare: { type: "string" },
      system: { type: "string" },
      etcd: { type: "string", default: "/usr/bin/etcd" },
      "data-root": { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const workload = values.workload;
  if (workload !== "put" && workload !== "get" && workload !== "mixed") {
    throw new Error(`Cannot run benchmark as --workload is not put, get or mixed: ${workload}`);
  }
  if (values.compare !== undefined && values.compare !== "etcd") {
    throw new Error(`Cannot run benchmark as --compare only knows etcd: ${values.compare}`);
  }
  if (values.system !== undefined && values.system !== "rangedb" && values.system !== "etcd") {
    throw new Error(`Cannot run benchmark as --system is not rangedb or etcd: ${values.system}`);
  }
  if (values.system !== undefined && values.compare !== undefined) {
    throw new Error("Cannot run benchmark as --system and --compare exclude each other");
  }
  const systems: SystemName[] = values.compare !== undefined
    ? ["rangedb", "etcd"]
    : [(values.system as SystemName | undefined) ?? "rangedb"];
  return {
    nodes: positiveInt("nodes", values.nodes),
    clients: positiveInt("clients", values.clients),
    connections: positiveInt("connections", values.connections),
    seconds: positiveInt("seconds", values.seconds),
    warmup: nonNegativeInt("warmup", values.warmup),
    workload,
    valueSize: nonNegativeInt("value-size", values["value-size"]),
    keys: positiveInt("keys", values.keys),
    systems,
    etcd: values.etcd,
    dataRoot: values["data-root"],
    json: values.json,
  };
}

function positiveInt(name: string, text: string): number {
  const n = nonNegativeInt(name, text);
  if (n < 1) throw new Error(`Cannot run benchmark as --${name} is not positive: ${text}`);
  return n;
}

function nonNegativeInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new Error(`Cannot run benchmark as --${name} is not a whole number: ${text}`);
  }
  return n;
}

/** Clusters started and not yet stopped, for the signal and unload handlers. */
const running = new Set<{ stop(): Promise<void>; signalStop?(): void }>();

async function benchSystem(system: SystemName, args: BenchArgs): Promise<SystemResult> {
  let cluster: RangeDbCluster | EtcdCluster;
  let endpoint: string;
  const protocol = system === "etcd" ? ETCD_PROTOCOL : RANGEDB_PROTOCOL;
  const setupStart = performance.now();
  if (system === "etcd") {
    const etcd = await startEtcdCluster({
      members: args.nodes,
      etcd: args.etcd,
      dataRoot: args.dataRoot,
      // Setup, preload, warm-up and run, with a wide margin; see _etcd.ts.
      maxLifetimeSeconds: 600 + args.warmup + args.seconds * 2,
      readyTimeoutMs: READY_TIMEOUT_MS,
    });
    cluster = etcd;
    running.add(etcd);
    endpoint = await etcd.leaderAddress();
  } else {
    const rangedb = await startRangeDbCluster(args.nodes, args.dataRoot);
    cluster = rangedb;
    running.add(rangedb);
    endpoint = await rangeDbLeaderAddress(rangedb.clientAddresses()[0], READY_TIMEOUT_MS);
  }
  const target = new KvTarget(protocol, endpoint, args.connections, DEADLINE_MS);
  try {
    log(`${protocol.name}: ${args.nodes} nodes up in ${ms(setupStart)}, leader ${endpoint}`);
    if (args.workload !== "put") {
      const t = performance.now();
      await preload(target, { keys: args.keys, clients: args.clients, valueSize: args.valueSize });
      log(`${protocol.name}: preloaded ${args.keys} keys in ${ms(t)}`);
    }
    log(`${protocol.name}: ${args.warmup} s warm-up, ${args.seconds} s measured`);
    const result: LoadResult = await runLoad(target, { ...args, warmupSeconds: args.warmup });
    return { system: protocol.name, endpoint, ...result };
  } finally {
    target.close();
    await cluster.stop();
    running.delete(cluster);
  }
}

function log(line: string): void {
  console.error(line);
}

function ms(since: number): string {
  return `${Math.round(performance.now() - since)} ms`;
}

async function stopAllAndExit(code: number): Promise<never> {
  await Promise.all([...running].map((c) => c.stop().catch(() => {})));
  Deno.exit(code);
}

async function main(argv: string[]): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => void stopAllAndExit(130));
  }
  globalThis.addEventListener("unload", () => {
    for (const c of running) c.signalStop?.();
  });
  const results: SystemResult[] = [];
  for (const system of args.systems) {
    try {
      results.push(await benchSystem(system, args));
    } catch (err) {
      console.error(err instanceof Error ? err.message : String(err));
      return 1;
    }
  }
  printTables(args, results);
  if (args.json) printJson(args, results);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
