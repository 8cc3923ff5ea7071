/**
 * Test helpers that coordinate splits and merges by hand over a {@linkcode TestCluster}'s
 * in-process router, the way the store's coordinators do (docs/design/0009): range ids from
 * range 1, Split on the parent's leader, Subsume / wait / Merge, UpdateMeta on range 1.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type CommandResult,
  decodeResult,
  encodeCommand,
  newCommand,
  type RangeDescriptor,
} from "../../../src/kv/command.ts";
import type { Store } from "../../../src/kv/mod.ts";
import { b, TestCluster, waitFor } from "./_cluster.ts";

type Body = NonNullable<Parameters<typeof newCommand>[0]>["body"];

const SYSTEM = b("_/");

/** Proposes `body` on the leader of the range holding `key`; returns the result. */
export async function propose(
  c: TestCluster,
  key: Uint8Array,
  body: Body,
  timeoutMs = 10_000,
): Promise<CommandResult> {
  const bytes = await c.router.propose(
    key,
    encodeCommand(newCommand({ body })),
    Date.now() + timeoutMs,
  );
  return decodeResult(bytes);
}

/** The descriptor of the range holding `key`, as `store`'s replica knows it. */
export function descriptorOf(store: Store, key: Uint8Array): RangeDescriptor {
  return store.replicaFor(key).descriptor!;
}

/** Writes `descriptors` (and removes `removed`) in range 1's meta copy. */
export async function updateMeta(
  c: TestCluster,
  descriptors: RangeDescriptor[],
  removed: RangeDescriptor[] = [],
): Promise<void> {
  const r = await propose(c, SYSTEM, { case: "updateMeta", value: { descriptors, removed } });
  assert.equal(r.errorCode, "", r.errorMessage);
}

/**
 * Splits the range holding `key` at `key` as a coordinator would: a new id from range 1, Split
 * on the parent's leader, the meta copy.
 *
 * @returns the split's result (descriptors: parent, new range)
 */
export async function splitAt(c: TestCluster, key: Uint8Array): Promise<CommandResult> {
  const alloc = await propose(c, SYSTEM, { case: "allocateRangeId", value: {} });
  assert.equal(alloc.errorCode, "", alloc.errorMessage);
  const leader = await waitForLeaderOf(c, key);
  const parent = descriptorOf(leader, key);
  const res = await propose(c, key, {
    case: "split",
    value: { splitKey: key, newRangeId: alloc.rangeId, expectedGeneration: parent.generation },
  });
  assert.equal(res.errorCode, "", res.errorMessage);
  await updateMeta(c, res.descriptors);
  return res;
}

/** The bootstrap split at `_/`: range 2 = ["", "_/") takes every user key. */
export function bootstrapSplit(c: TestCluster): Promise<CommandResult> {
  return splitAt(c, SYSTEM);
}

/**
 * Runs `fn` on a started 3-node cluster whose range 1 has a leader and whose user keys were
 * split off (the bootstrap split); closes the cluster afterwards.
 */
export async function withSplitCluster(fn: (c: TestCluster) => Promise<void>): Promise<void> {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    await c.waitForLeader();
    await bootstrapSplit(c);
    await fn(c);
  } finally {
    await c.close();
  }
}

/** Waits for a store leading the range of `key`. */
export async function waitForLeaderOf(c: TestCluster, key: Uint8Array): Promise<Store> {
  let found: Store | undefined;
  await waitFor(() => (found = c.leaderOf(key)) !== undefined, 10_000, "a leader of the range");
  return found!;
}

/** Freezes the range holding `key` for a merge into its right neighbour; waits on every replica. */
export async function subsume(
  c: TestCluster,
  key: Uint8Array,
  waitNodes: number[] = [...c.stores.keys()],
): Promise<CommandResult> {
  const leader = await waitForLeaderOf(c, key);
  const n = descriptorOf(leader, key);
  const r = descriptorOf(leader, n.end);
  const res = await propose(c, key, {
    case: "subsume",
    value: { intoRangeId: r.rangeId, expectedGeneration: n.generation },
  });
  assert.equal(res.errorCode, "", res.errorMessage);
  for (const node of waitNodes) {
    await c.router.waitApplied(
      node,
      Number(n.rangeId),
      Number(res.appliedIndex),
      Date.now() + 10_000,
    );
  }
  return res;
}

/**
 * Proposes Merge of the frozen range (the Subsume result `frozen`) on its right neighbour,
 * expecting `generation` (default: the neighbour's current one).
 */
export async function mergeFrozen(
  c: TestCluster,
  frozen: CommandResult,
  generation?: bigint,
): Promise<CommandResult> {
  const n = frozen.descriptors[0];
  const leader = await waitForLeaderOf(c, n.end);
  const r = descriptorOf(leader, n.end);
  const res = await propose(c, n.end, {
    case: "merge",
    value: {
      subsumed: n,
      subsumedAppliedIndex: frozen.appliedIndex,
      subsumedLastVersion: frozen.lastVersion,
      subsumedStats: frozen.stats,
      expectedGeneration: generation ?? r.generation,
    },
  });
  return res;
}

/** Merges the range holding `key` into its right neighbour (subsume, wait, merge, meta). */
export async function mergeAt(c: TestCluster, key: Uint8Array): Promise<CommandResult> {
  const frozen = await subsume(c, key);
  const res = await mergeFrozen(c, frozen);
  assert.equal(res.errorCode, "", res.errorMessage);
  await updateMeta(c, res.descriptors, frozen.descriptors);
  return res;
}
