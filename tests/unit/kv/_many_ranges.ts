/**
 * Helpers for tests of many ranges: a 3-node cluster formed with N ranges at once, and what its
 * schedulers report (leaders per range, awake replicas, counters).
 *
 * @module
 */

import type { SchedulerCounters } from "../../../src/kv/raft_scheduler.ts";
import type { Store } from "../../../src/kv/mod.ts";
import { TestCluster, waitFor } from "./_cluster.ts";

/**
 * Forms a cluster of `nodes` nodes holding ranges `1..ranges` and waits until every range has a
 * leader; closes the cluster when that fails.
 */
export async function formRanges(ranges: number, nodes = 3): Promise<TestCluster> {
  const c = await TestCluster.create(nodes, { ranges });
  try {
    await c.startAll();
    c.campaignSpread(ranges);
    await waitFor(() => leaderless(c, ranges).length === 0, 30_000, "a leader for every range");
    return c;
  } catch (err) {
    await c.close();
    throw err;
  }
}

/** The store whose replica leads `rangeId`, among `stores` (default: every running store). */
export function leaderStore(
  c: TestCluster,
  rangeId: number,
  stores: Iterable<Store> = c.stores.values(),
): Store | undefined {
  for (const st of stores) if (st.replicas.get(rangeId)?.isLeader) return st;
  return undefined;
}

/** The ranges of `1..ranges` that no replica of `stores` leads. */
export function leaderless(
  c: TestCluster,
  ranges: number,
  stores: Store[] = [...c.stores.values()],
): number[] {
  const out: number[] = [];
  for (let id = 1; id <= ranges; id++) {
    if (leaderStore(c, id, stores) === undefined) out.push(id);
  }
  return out;
}

/** The ranges of `1..ranges` that more than one running store believes it leads. */
export function multiLed(c: TestCluster, ranges: number): number[] {
  const out: number[] = [];
  for (let id = 1; id <= ranges; id++) {
    let n = 0;
    for (const st of c.stores.values()) if (st.replicas.get(id)?.isLeader) n++;
    if (n > 1) out.push(id);
  }
  return out;
}

/** Awake (ticking) replicas over every running store. */
export function awake(c: TestCluster): number {
  let n = 0;
  for (const st of c.stores.values()) n += st.scheduler.awakeCount;
  return n;
}

/** The schedulers' counters summed over `stores` (default: every running store). */
export function totals(
  c: TestCluster,
  stores: Iterable<Store> = c.stores.values(),
): SchedulerCounters {
  const sum: SchedulerCounters = {
    ticks: 0,
    replicaTicks: 0,
    turns: 0,
    replicasInTurns: 0,
    readies: 0,
    leaderQuiesces: 0,
    messagesSent: 0,
    orphansWoken: 0,
  };
  for (const st of stores) {
    for (const k of Object.keys(sum) as (keyof SchedulerCounters)[]) {
      sum[k] += st.scheduler.counters[k];
    }
  }
  return sum;
}

/** `after - before`, field by field. */
export function delta(before: SchedulerCounters, after: SchedulerCounters): SchedulerCounters {
  const out = { ...after };
  for (const k of Object.keys(out) as (keyof SchedulerCounters)[]) out[k] -= before[k];
  return out;
}

/** Waits until no replica of any running store is awake. */
export function waitQuiesced(c: TestCluster, timeoutMs = 10_000): Promise<void> {
  return waitFor(() => awake(c) === 0, timeoutMs, "every range quiesced");
}
