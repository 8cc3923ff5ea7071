/**
 * `deno task bench:ranges:idle`: the CPU an idle cluster of many ranges costs once its ranges
 * quiesced (docs/design/0009, "Thousands of ranges per node"; issue 7's target: under 5% of one
 * core per node with 10,000 ranges).
 *
 * Forms a 3-store cluster in this process (real LMDB engines in temp dirs, the in-process
 * transport of the kv unit tests, production Raft timing: 100 ms ticks, elections after 1–2 s)
 * holding `--ranges N` ranges (default 10000) at once, spreads their leaders over the stores,
 * waits until every range has a leader and no replica ticks (and 2 s more for the last quiesce
 * heartbeats and their responses), then samples `process.cpuUsage()`
 * every second for `--seconds S` (default 10) and prints the CPU time per second of the process
 * (all three stores), per store, and what the schedulers did meanwhile.
 *
 * Exits 0 after a run, 1 when the cluster does not form or quiesce, 2 on bad flags.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { TestCluster, waitFor } from "../tests/unit/kv/_cluster.ts";
import { awake, delta, leaderless, totals } from "../tests/unit/kv/_many_ranges.ts";

const NODES = 3;
const FORM_TIMEOUT_MS = 300_000;
const SETTLE_MS = 2000;

function parse(args: string[]): { ranges: number; seconds: number } {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      ranges: { type: "string", default: "10000" },
      seconds: { type: "string", default: "10" },
    },
  });
  const int = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < min) {
      throw new Error(`Cannot run benchmark as --${name} is not a whole number >= ${min}: ${text}`);
    }
    return n;
  };
  return { ranges: int("ranges", values.ranges, 2), seconds: int("seconds", values.seconds, 1) };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function main(): Promise<number> {
  let args;
  try {
    args = parse(Deno.args);
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  const { ranges, seconds } = args;
  const t0 = performance.now();
  const c = await TestCluster.create(NODES, { ranges });
  try {
    c.raft = { tickIntervalMs: 100, electionTick: 10, heartbeatTick: 1 };
    await c.startAll();
    c.campaignSpread(ranges);
    await waitFor(() => leaderless(c, ranges).length === 0, FORM_TIMEOUT_MS, "every leader");
    const ledMs = performance.now() - t0;
    await waitFor(() => awake(c) === 0, FORM_TIMEOUT_MS, "every range quiesced");
    const quiescedMs = performance.now() - t0;
    const formed = totals(c);
    const secs = (ms: number) => (ms / 1000).toFixed(1);
    console.log(
      `${ranges} ranges on ${NODES} stores: every range led after ${secs(ledMs)} s, quiesced ` +
        `after ${secs(quiescedMs)} s (${formed.leaderQuiesces} quiesces, ` +
        `${formed.orphansWoken} followers woken by liveness)`,
    );
    // The last quiesce heartbeats and their responses are still being handled: let them land.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const before = totals(c);
    const samples: number[] = [];
    let last = cpuMs();
    for (let i = 0; i < seconds; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const now = cpuMs();
      samples.push(now - last);
      last = now;
      console.log(`  second ${i + 1}: ${samples[i].toFixed(1)} ms CPU`);
    }
    const idle = delta(before, totals(c));
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    const max = Math.max(...samples);
    console.log(
      `CPU per second of the process (3 stores): mean ${mean.toFixed(1)} ms ` +
        `(${(mean / 10).toFixed(2)}% of one core), max ${max.toFixed(1)} ms; ` +
        `per store: ${(mean / NODES / 10).toFixed(2)}% of one core`,
    );
    console.log(
      `Schedulers over ${seconds} s: ${idle.ticks} ticks, ${idle.replicaTicks} replica ticks, ` +
        `${idle.turns} turns over ${idle.replicasInTurns} replicas, ` +
        `${idle.leaderQuiesces} quiesces, ${awake(c)} replicas awake at the end`,
    );
    return 0;
  } catch (err) {
    console.error(`Cannot finish benchmark: ${(err as Error).message}`);
    return 1;
  } finally {
    await c.close();
  }
}

Deno.exit(await main());
