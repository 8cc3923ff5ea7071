/**
 * What the simulated clients call on a node's store, the way the rpc layer would: reads and
 * writes on the node the client picked (the store forwards nothing: a client follows NOT_LEADER
 * to the leader's node itself), and batches through `store.batch`, falling back to the
 * cross-range two-phase commit when the store says the keys lie in several ranges (as the rpc
 * Batch handler does, src/rpc/kv_handlers.ts).
 *
 * @module
 */

import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import type { Store } from "../../../src/kv/mod.ts";
import type { SimCluster } from "./cluster.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Text to bytes. */
export const bytes = (s: string): Uint8Array => enc.encode(s);
/** Bytes to text. */
export const text = (b: Uint8Array): string => dec.decode(b);

/** Error codes a client retries (another node, the same request id); any other fails the run. */
export const RETRIED_CODES: ReadonlySet<string> = new Set<string>([
  ErrorCode.NOT_LEADER,
  ErrorCode.UNAVAILABLE,
  ErrorCode.TIMEOUT,
  ErrorCode.RANGE_MOVED,
  ErrorCode.RANGE_NOT_FOUND,
  ErrorCode.LOCKED,
]);

/**
 * How long past its deadline a store call may still run before the simulation calls it hung: a
 * call ends at its deadline (a proposal or read fails on the next tick, a coordinator stops
 * retrying), give or take the last attempt in flight.
 */
export const SETTLE_GRACE_MS = 2000;

/** Whether a client may retry after `err` (a store error it expects under faults). */
export function retried(err: unknown): boolean {
  return isRangeDbError(err) && RETRIED_CODES.has(err.code);
}

/** The leader a NOT_LEADER error names, if any. */
export function leaderHint(err: unknown): number | undefined {
  if (!isRangeDbError(err, ErrorCode.NOT_LEADER)) return undefined;
  const id = Number(err.details.leaderNodeId ?? 0);
  return id > 0 ? id : undefined;
}

/** Reads `key` (null when absent). */
export async function readKey(store: Store, key: string, deadline: number): Promise<string | null> {
  const v = await store.get(bytes(key), { deadline });
  return v === undefined ? null : text(v.value);
}

/**
 * Scans `[from, to]` (both included) across ranges, part by part as the store reads it.
 *
 * @returns the value of every key found
 */
export async function scanKeys(
  store: Store,
  from: string,
  to: string,
  deadline: number,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const chunk of store.scan(bytes(from), bytes(`${to}\u0000`), { deadline })) {
    for (const row of chunk) out.set(text(row.key), text(row.value));
  }
  return out;
}

/**
 * Writes `values[i]` to `keys[i]` atomically: one range's batch, else the cross-range commit of
 * the node running `store`.
 *
 * @returns whether the cross-range commit was used
 */
export async function writeBatch(
  cluster: SimCluster,
  store: Store,
  keys: readonly string[],
  values: readonly string[],
  options: { deadline: number; requestId: string },
): Promise<boolean> {
  const ops = keys.map((k, i) => ({
    type: "put" as const,
    key: bytes(k),
    value: bytes(values[i]),
  }));
  try {
    await store.batch(ops, options);
    return false;
  } catch (err) {
    if (!isRangeDbError(err, ErrorCode.INVALID_ARGUMENT) || err.details.crossRange !== true) {
      throw err;
    }
  }
  const inc = cluster.node(store.nodeId).running;
  if (inc === undefined || inc.store !== store) {
    // The node crashed while the call ran: its answer would never reach the client.
    return new Promise(() => {});
  }
  await inc.committer(ops, options);
  return true;
}

/** A short deterministic digest of a string for the trace hash. */
export function digest(s: string | null): number {
  if (s === null) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
