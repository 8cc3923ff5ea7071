/**
 * One run of the store simulation (docs/design/0009, "How it is tested"): K real stores in one
 * process on memory engines, one simulated clock, the simulated network; faults for the safety
 * phase, then a liveness phase in which everything heals, every key is read once, and the cluster
 * must settle; then the end-state checks and the linearizability of every key's history.
 *
 * The run is a loop: advance the clock to the next timer, let every promise continuation run,
 * repeat. Everything the stores do happens inside that loop, so a seed gives one run; the trace
 * hash (network deliveries and client observations) shows it.
 *
 * @module
 */

import { ManualClock } from "../../../src/base/clock.ts";
import { RaftStateKind, rangeIdOfKey } from "../../../src/kv/keys.ts";
import { plantBugForTest, type PlantedBug } from "../../../src/kv/planted_bugs.ts";
import { checkHistory, type LinearizableVerdict } from "../checks/linearizable_history.ts";
import { type FailureKind, SimFailure } from "../failure.ts";
import { Rng } from "../rng.ts";
import { TraceHash } from "../trace.ts";
import { bankAccounts, BankClient, type BankStats } from "./bank.ts";
import { BANK_CHECK, checkEndState } from "./checks/end_state.ts";
import { AppliedStateCheck } from "./checks/applied_state.ts";
import { describeReplicas, notConverged } from "./checks/converged.ts";
import { describe, SimCluster } from "./cluster.ts";
import { readAll } from "./final_reads.ts";
import { StoreFaults, type StoreFaultStats } from "./faults.ts";
import { drawStorePlan, type StorePlan, type StorePlanOptions } from "./plan.ts";
import { RegisterClients, type RegisterStats } from "./registers.ts";
import { CALM_STORE_NETWORK, SimNetwork, type StoreNetworkStats } from "./sim_network.ts";
import { Macrotasks } from "./sim_time.ts";

/** What the caller chooses. */
export interface StoreSimOptions extends StorePlanOptions {
  /** A bug planted in every store for the run (src/kv/planted_bugs.ts). */
  bug?: PlantedBug;
  /** How many of the stores' last warning and error lines the result keeps. @default 40 */
  logLines?: number;
}

/** What a run did, for reports and the determinism check. */
export interface StoreSimStats {
  endMs: number;
  network: StoreNetworkStats;
  faults: StoreFaultStats;
  registers: RegisterStats;
  bank: BankStats;
  /** Ranges created by splits (the bootstrap split included). */
  rangesCreated: number;
  /** Ranges merged away. */
  rangesMerged: number;
  /** The most ranges alive at once. */
  maxRanges: number;
  restarts: number;
  linearizability: LinearizableVerdict | "skipped";
}

/** The outcome of one run. */
export interface StoreSimResult {
  plan: StorePlan;
  bug: PlantedBug | undefined;
  failure?: { kind: FailureKind; checker: string; message: string; atMs: number };
  traceHash: string;
  stats: StoreSimStats;
  faultLog: string[];
  /** The last warning and error lines of the stores. */
  logTail: string[];
  /** Every replica's state when a liveness failure was declared. */
  replicaDump?: string;
}

/** Wall-clock time at the start of every run. */
const EPOCH_MS = 1_767_225_600_000;
/** Simulated ms between two looks at every replica's applied state. */
const OBSERVE_EVERY_MS = 5;
/** Steps at one instant after which time counts as stuck (a busy loop of zero-delay timers). */
const MAX_STEPS_PER_MS = 200_000;
/** Bound of the wait for clients to end their last operation after the heal. */
const DRAIN_MS = 15_000;

/**
 * Runs one seed.
 *
 * @returns the result; failures are reported in it, never thrown
 */
export async function runStoreSimulation(opts: StoreSimOptions): Promise<StoreSimResult> {
  const plan = drawStorePlan(opts);
  const rng = new Rng(plan.seed ^ 0x5bd1e995);
  const base = new ManualClock({ now: EPOCH_MS });
  const trace = new TraceHash();
  const tasks = new Macrotasks();
  const logTail: string[] = [];
  let failure: StoreSimResult["failure"];
  const fail = (kind: FailureKind, checker: string, message: string) => {
    failure ??= { kind, checker, message, atMs: base.monotonic() };
  };
  const net = new SimNetwork(base, rng.fork(), plan.network, trace);
  const cluster = new SimCluster(plan, base, net, rng.fork(), {
    fail: (checker, message) => fail("crash", checker, message),
    hung: (message) => fail("liveness", "deadline", message),
    log: (line) => {
      logTail.push(`${base.monotonic()}ms ${line}`);
      if (logTail.length > (opts.logLines ?? 40)) logTail.shift();
    },
  });
  const splitRng = rng.fork();
  const faults = new StoreFaults(cluster, rng.fork(), plan.faults, () => {
    const d = String(splitRng.int(100)).padStart(2, "0");
    return splitRng.chance(0.5) ? `/${d}` : `/${d}${"abcdefghij"[splitRng.int(10)]}`;
  });
  let logical = 0;
  const clock = { tick: () => ++logical };
  const clientFail = (message: string) => fail("crash", "client_error", message);
  const registers = new RegisterClients(
    cluster,
    rng.fork(),
    plan.clients,
    trace,
    clock,
    clientFail,
  );
  const bankStats: BankStats = { transfers: 0, unknownTransfers: 0, reads: 0 };
  const banks = Array.from({ length: plan.clients.bankClients }, (_, i) =>
    new BankClient(
      i,
      bankAccounts(i, plan.clients.bankClients, plan.clients.accountsPerClient),
      cluster,
      rng.fork(),
      plan.clients,
      trace,
      bankStats,
      clientFail,
      (message) => fail("safety", BANK_CHECK, message),
    ));
  const applied = new AppliedStateCheck();
  let maxRanges = 0;
  let linearizability: StoreSimStats["linearizability"] = "skipped";
  let replicaDump: string | undefined;
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    fail("crash", "unhandled_rejection", describe(e.reason));
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  plantBugForTest(opts.bug);

  let nextObserve = 0;
  const runUntil = async (done: () => boolean, limitMs: number) => {
    let steps = 0;
    let at = -1;
    while (failure === undefined && !done()) {
      const now = base.monotonic();
      if (now >= limitMs) return;
      const next = Math.min(base.nextDue() ?? limitMs, limitMs);
      steps = next === at ? steps + 1 : 0;
      at = next;
      if (steps > MAX_STEPS_PER_MS) {
        fail("liveness", "time", `Cannot advance time as timers keep firing at ${now}ms`);
        return;
      }
      try {
        base.advance(Math.max(0, next - now));
      } catch (err) {
        if (err instanceof SimFailure) throw err;
        fail("crash", "exception", describe(err));
      }
      await tasks.yield();
      if (base.monotonic() >= nextObserve) {
        nextObserve = base.monotonic() + OBSERVE_EVERY_MS;
        applied.observe(cluster);
        let live = 0;
        for (const n of cluster.nodes) {
          live = Math.max(live, n.running?.store.rangeSet.inOrder().length ?? 0);
        }
        maxRanges = Math.max(maxRanges, live);
      }
    }
  };

  const end = plan.safetyMs + plan.livenessMs;
  try {
    await cluster.startAll();
    faults.start();
    registers.start();
    const bankRuns = banks.map((b) => b.run());
    let banksDone = 0;
    for (const run of bankRuns) void run.finally(() => banksDone++);
    await runUntil(() => false, plan.safetyMs);
    // Liveness: heal, let the clients end, read every key, then the cluster must settle.
    registers.stop();
    for (const b of banks) b.stop();
    await faults.healAll();
    net.params = CALM_STORE_NETWORK;
    // Register clients give up in time; a bank client ends its transfer (or opening deposit)
    // first: the final reads must not race a batch still being written.
    await runUntil(() => registers.idle && banksDone === banks.length, plan.safetyMs + DRAIN_MS);
    registers.abandonAll();
    await runUntil(() => banksDone === banks.length, end);
    if (failure === undefined && banksDone < banks.length) {
      fail(
        "liveness",
        "liveness",
        `Cannot end the bank's transfers within ${plan.livenessMs}ms of healing: ${
          banks.map((b) => `client ${b.id} is ${b.status}`).join("; ")
        }`,
      );
      replicaDump = describeReplicas(cluster);
    }
    // The bank's writes are not in the register history: its final reads stay out of it too.
    const accounts = banks.flatMap((b) => b.accounts.map((a) => a.key));
    let finalValues: Map<string, string | null> | undefined;
    const readRng = rng.fork();
    readAll(cluster, readRng, registers.keys, registers.history, clock, trace, clientFail)
      .then((regs) =>
        readAll(cluster, readRng, accounts, [], clock, trace, clientFail).then((acc) =>
          finalValues = new Map([...regs, ...acc])
        )
      );
    await runUntil(() => finalValues !== undefined, end);
    let waiting: string | undefined = "not checked";
    let nextCheck = base.monotonic();
    await runUntil(() => {
      if (base.monotonic() < nextCheck) return false;
      nextCheck = base.monotonic() + 100;
      waiting = notConverged(cluster);
      return waiting === undefined;
    }, end);
    if (failure === undefined && (finalValues === undefined || waiting !== undefined)) {
      replicaDump = describeReplicas(cluster);
      fail(
        "liveness",
        "liveness",
        finalValues === undefined
          ? `Cannot read every key after healing within ${plan.livenessMs}ms`
          : `Cannot settle after healing within ${plan.livenessMs}ms: ${waiting}`,
      );
    }
    if (failure === undefined) {
      checkEndState(cluster, banks, finalValues!);
      linearizability = checkHistory(registers.history);
    }
  } catch (err) {
    if (err instanceof SimFailure) fail(err.kind, err.checker, err.message);
    else fail("crash", "exception", describe(err));
  } finally {
    cluster.killAll();
    tasks.close();
    plantBugForTest(undefined);
    globalThis.removeEventListener("unhandledrejection", onRejection);
  }
  const tombstoned = new Set<number>();
  let maxId = 1;
  for (const n of cluster.nodes) {
    for (const { key } of n.engine.scan("raft_state")) {
      const id = rangeIdOfKey(key);
      maxId = Math.max(maxId, id);
      if (
        key.length >= 16 &&
        Number(new DataView(key.buffer, key.byteOffset + 8, 8).getBigUint64(0)) ===
          RaftStateKind.Tombstone
      ) {
        tombstoned.add(id);
      }
    }
  }
  return {
    plan,
    bug: opts.bug,
    failure,
    traceHash: trace.hex(),
    faultLog: faults.log,
    logTail,
    replicaDump,
    stats: {
      endMs: base.monotonic(),
      network: net.stats,
      faults: faults.stats,
      registers: registers.stats,
      bank: bankStats,
      rangesCreated: maxId - 1,
      rangesMerged: tombstoned.size,
      maxRanges,
      restarts: cluster.nodes.reduce((s, n) => s + n.starts - 1, 0),
      linearizability,
    },
  };
}
