/**
 * Part 3 of `bench/ranges_bench.ts`: the time to split a full range. On a fresh cluster it loads
 * one range with `/split/…` keys (batches of puts through the SDK) up to just under the split
 * threshold, then:
 *
 * - **manual**: `Admin.SplitPartition` at the middle key, timed from the request to a write
 *   acknowledged on each side (both ranges serving);
 * - **automatic** (optional): loads the right half past the threshold again and times the split
 *   queue's split, from the write that crossed the threshold to a write acknowledged on each side
 *   of the new boundary (the queue looks once a second, then finds the middle key by a paged scan).
 *
 * For each it reports the event-loop stall on every node: the node's own "slow raft turn"
 * warnings in that window (the split's apply scans the new range's span for its stats inside the
 * scheduler turn) and the slowest `/healthz` answer ({@linkcode StallProbe}).
 *
 * The cluster settings cannot be changed on a running cluster yet (no `config set`), so the
 * threshold is the product's default `range_max_bytes` (64 MiB) and the first load stops just
 * under it instead of turning automatic splits off.
 *
 * @module
 */

import type { RangeDbClient, RangeStatus } from "../src/client/mod.ts";
import { BenchCluster, sleep } from "./_ranges_cluster.ts";
import { StallProbe } from "./_stall_probe.ts";

/** Live bytes past which a range splits: the product's default `range_max_bytes`. */
export const RANGE_MAX_BYTES = 64 * 1024 * 1024;
/** How far under the threshold the first load stops, and past it the second. */
const MARGIN_BYTES = 256 * 1024;
/** How long the automatic split may take to show. */
const AUTO_SPLIT_TIMEOUT_MS = 60_000;

const KEY_HEAD = "/split/";

/** `/split/` and `i` as 10 decimal digits. */
export function splitKey(i: number): string {
  return KEY_HEAD + String(i).padStart(10, "0");
}

/** Bytes a loaded key counts in a range's stats: its key and value. */
function rowBytes(valueSize: number): number {
  return splitKey(0).length + valueSize;
}

/** Options of {@linkcode runSplit}. */
export interface SplitOptions {
  nodes: number;
  dataRoot?: string;
  serverEnv?: Record<string, string>;
  /** Live bytes to load before the manual split (at most the threshold minus a margin). */
  bytes: number;
  valueSize: number;
  /** Puts per batch and batches in flight while loading. */
  batchOps: number;
  concurrency: number;
  /** Also time the automatic split (loads about half the threshold again). */
  auto: boolean;
}

/** The timing of one split. */
export interface SplitTiming {
  /** Live bytes and keys of the range split. */
  rangeBytes: number;
  rangeKeys: number;
  /** Manual: the split call; automatic: from crossing the threshold to the split showing. */
  splitMs: number;
  /** From the request (or the crossing) to a write acknowledged on each side. */
  servingMs: number;
  /** Per node: the longest "slow raft turn" (≥ 100 ms) in the window; 0 when none. */
  slowTurnMs: number[];
  /** Per node: the slowest `/healthz` answer in the window. */
  probeMaxMs: number[];
}

/** The outcome of {@linkcode runSplit}. */
export interface SplitResult {
  loadSeconds: number;
  loadMiBPerSecond: number;
  manual: SplitTiming;
  auto?: SplitTiming;
}

/** Loads a range and times its manual and automatic splits. */
export async function runSplit(
  options: SplitOptions,
  log: (line: string) => void,
): Promise<SplitResult> {
  const bench = await BenchCluster.start({
    nodes: options.nodes,
    dataRoot: options.dataRoot,
    env: options.serverEnv,
  });
  const db = bench.db;
  try {
    const bytes = Math.min(options.bytes, RANGE_MAX_BYTES - MARGIN_BYTES);
    const keys = Math.floor(bytes / rowBytes(options.valueSize));
    log(`split: loading ${keys} keys of ${options.valueSize} bytes (${mib(bytes)}) into one range`);
    const t0 = performance.now();
    await load(db, 0, keys, options);
    const loadSeconds = (performance.now() - t0) / 1000;
    const loaded = await rangeHolding(db, splitKey(0), keys);
    log(
      `split: loaded in ${loadSeconds.toFixed(1)} s (${
        (bytes / 2 ** 20 / loadSeconds).toFixed(1)
      } ` +
        `MiB/s); range ${loaded.rangeId} holds ${mib(Number(loaded.liveBytes))} in ` +
        `${loaded.liveKeys} keys`,
    );
    const mid = Math.floor(keys / 2);
    const manual = await timeSplit(
      bench,
      loaded,
      async () => void await db.admin.splitPartition(splitKey(mid)),
      () => [splitKey(mid - 1), splitKey(mid)],
      options.valueSize,
    );
    log(`split: manual split at the middle key: ${describe(manual)}`);
    let auto: SplitTiming | undefined;
    if (options.auto) auto = await timeAutoSplit(bench, keys, options, log);
    return { loadSeconds, loadMiBPerSecond: bytes / 2 ** 20 / loadSeconds, manual, auto };
  } finally {
    await bench.stop();
  }
}

/** Loads the right half past the threshold and times the split queue's split. */
async function timeAutoSplit(
  bench: BenchCluster,
  loadedKeys: number,
  options: SplitOptions,
  log: (line: string) => void,
): Promise<SplitTiming> {
  const db = bench.db;
  const mid = Math.floor(loadedKeys / 2);
  const right = await rangeHolding(db, splitKey(loadedKeys - 1), loadedKeys - mid);
  const missing = RANGE_MAX_BYTES + MARGIN_BYTES - Number(right.liveBytes);
  const more = Math.max(1, Math.ceil(missing / rowBytes(options.valueSize)));
  log(`split: loading ${more} more keys (${mib(missing)}) into range ${right.rangeId} past 64 MiB`);
  const t0 = performance.now();
  await load(db, loadedKeys, more, options);
  log(`split:   loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const full = {
    ...right,
    liveBytes: right.liveBytes + BigInt(more * rowBytes(options.valueSize)),
  };
  full.liveKeys = right.liveKeys + BigInt(more);
  let boundary = "";
  const waitForSplit = async () => {
    const deadline = Date.now() + AUTO_SPLIT_TIMEOUT_MS;
    for (;;) {
      const parts = await bench.partitions();
      const left = parts.find((p) =>
        p.rangeId !== right.rangeId && decoder.decode(p.start) === decoder.decode(right.start)
      );
      if (left !== undefined) {
        boundary = decoder.decode(left.end);
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `Cannot time the automatic split as range ${right.rangeId} did not split within ` +
            `${AUTO_SPLIT_TIMEOUT_MS} ms`,
        );
      }
      await sleep(100);
    }
  };
  // The writes that show both sides serving straddle the new boundary.
  const sides = () => {
    const k = Number(boundary.slice(KEY_HEAD.length));
    return [splitKey(k - 1), splitKey(k)];
  };
  const timing = await timeSplit(bench, full, waitForSplit, sides, options.valueSize);
  log(`split: automatic split after crossing 64 MiB: ${describe(timing)}`);
  return timing;
}

/**
 * Runs `split` and times it: the call, then a write on each side of the new boundary (the keys
 * `sides` names once the split is done), with the stall probes running from the start to 500 ms
 * after the last write.
 */
async function timeSplit(
  bench: BenchCluster,
  range: RangeStatus,
  split: () => Promise<void>,
  sides: () => string[],
  valueSize: number,
): Promise<SplitTiming> {
  const value = new Uint8Array(valueSize);
  const before = bench.cluster.nodes.map((_, i) => bench.slowTurns(i).length);
  const probe = new StallProbe(bench.cluster.nodes.map((n) => n.adminUrl));
  let splitMs: number;
  let servingMs: number;
  let probeMaxMs: number[];
  try {
    const t0 = performance.now();
    await split();
    splitMs = performance.now() - t0;
    await Promise.all(sides().map((k) => bench.db.put(k, value)));
    servingMs = performance.now() - t0;
    await sleep(500);
  } finally {
    probeMaxMs = await probe.stop();
  }
  return {
    rangeBytes: Number(range.liveBytes),
    rangeKeys: Number(range.liveKeys),
    splitMs,
    servingMs,
    slowTurnMs: bench.cluster.nodes.map((_, i) =>
      Math.max(0, ...bench.slowTurns(i).slice(before[i]).map((s) => s.blockedMs))
    ),
    probeMaxMs,
  };
}

/** Writes keys `[from, from + count)` in batches of `batchOps`, `concurrency` at a time. */
async function load(
  db: RangeDbClient,
  from: number,
  count: number,
  options: { valueSize: number; batchOps: number; concurrency: number },
): Promise<void> {
  const value = new Uint8Array(options.valueSize);
  for (let o = 0; o < value.length; o += 65536) {
    crypto.getRandomValues(value.subarray(o, Math.min(value.length, o + 65536)));
  }
  let next = from;
  const end = from + count;
  const worker = async () => {
    while (next < end) {
      const first = next;
      next = Math.min(end, next + options.batchOps);
      const batch = db.batch();
      for (let i = first; i < next; i++) batch.put(splitKey(i), value);
      await batch.commit({ timeoutMs: 60_000 });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
}

/** The range holding `key`, with its stats, from the meta copy. */
/**
 * The range holding `key` once its stats count at least `keys` live keys: a follower answering
 * the partition list learns the last commits with the next append or heartbeat (at most a tick).
 */
async function rangeHolding(db: RangeDbClient, key: string, keys: number): Promise<RangeStatus> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const range = await rangeOf(db, key);
    if (Number(range.liveKeys) >= keys || Date.now() > deadline) return range;
    await sleep(50);
  }
}

async function rangeOf(db: RangeDbClient, key: string): Promise<RangeStatus> {
  const all = (await db.admin.listPartitions()).partitions;
  const found = all.find((p) =>
    decoder.decode(p.start) <= key && (p.end.length === 0 || key < decoder.decode(p.end))
  );
  if (found === undefined) throw new Error(`Cannot find the range holding ${key}`);
  return found;
}

const decoder = new TextDecoder();

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function describe(t: SplitTiming): string {
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join("/");
  return `${mib(t.rangeBytes)} (${t.rangeKeys} keys) split in ${t.splitMs.toFixed(0)} ms, both ` +
    `sides serving after ${t.servingMs.toFixed(0)} ms; slow turns ${list(t.slowTurnMs)} ms, ` +
    `slowest /healthz ${list(t.probeMaxMs)} ms`;
}
