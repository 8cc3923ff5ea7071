/**
 * `deno task bench:storage`: MVCC over the LMDB engine in a temp dir. Loads N keys (default
 * 1,000,000) with 100-byte values in batched MVCC writes, then measures point reads at a
 * timestamp, a full scan at a timestamp in pages, and on-disk bytes per logical byte.
 *
 * Options: `--keys N`, `--batch N` (writes per engine transaction, default 1000),
 * `--reads N` (default: as many as keys), `--no-sync` (sync: false; with lmdb-js 3.5 commits
 * still wait for their flush, see lmdb_engine.ts), `--sequential` (load keys in order instead of
 * shuffled).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { openLmdbEngine } from "../src/storage/mod.ts";
import { MvccBatch, mvccGet, mvccScan } from "../src/mvcc/mod.ts";
import type { Timestamp } from "../src/base/key_encoding.ts";

const VALUE_BYTES = 100;
const SCAN_PAGE = 1000;

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    keys: { type: "string", default: "1000000" },
    batch: { type: "string", default: "1000" },
    reads: { type: "string" },
    "no-sync": { type: "boolean", default: false },
    sequential: { type: "boolean", default: false },
  },
});
const keyCount = positiveInt("keys", args.keys);
const batchSize = positiveInt("batch", args.batch);
const readCount = args.reads === undefined ? keyCount : positiveInt("reads", args.reads);
const sync = !args["no-sync"];

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(`Cannot run benchmark as --${name} is not a positive integer: ${text}`);
    Deno.exit(2);
  }
  return n;
}

/** Deterministic xorshift32, so runs are comparable. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const KEY_HEAD = new TextEncoder().encode("/bench/");
const KEY_DIGITS = 10;

const KEY_BYTES = KEY_HEAD.length + KEY_DIGITS;
let keyChunk = new Uint8Array(0);
let keyChunkUsed = 0;

/**
 * `/bench/` and `i` as 10 decimal digits. Keys are views into shared chunks: a fresh small
 * Uint8Array costs ~200 ns in Deno, which would blur the numbers measured here.
 */
function userKey(i: number): Uint8Array {
  if (keyChunkUsed + KEY_BYTES > keyChunk.length) {
    keyChunk = new Uint8Array(KEY_BYTES * 4096);
    keyChunkUsed = 0;
  }
  const key = keyChunk.subarray(keyChunkUsed, keyChunkUsed + KEY_BYTES);
  keyChunkUsed += KEY_BYTES;
  key.set(KEY_HEAD);
  for (let o = key.length - 1, n = i; o >= KEY_HEAD.length; o--, n = Math.floor(n / 10)) {
    key[o] = 0x30 + (n % 10);
  }
  return key;
}

function rate(n: number, ms: number): string {
  return `${Math.round(n / (ms / 1000)).toLocaleString("en-US")}/s`;
}

const random = rng(42);
const order = Array.from({ length: keyCount }, (_, i) => i);
if (!args.sequential) {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
}
const value = new Uint8Array(VALUE_BYTES);
for (let i = 0; i < VALUE_BYTES; i++) value[i] = Math.floor(random() * 256);

const dir = await Deno.makeTempDir({ prefix: "rangedb_storage_bench_" });
const engine = await openLmdbEngine(dir, { mapSize: 4 * 1024 ** 3 });
try {
  console.log(
    `storage bench: ${keyCount.toLocaleString("en-US")} keys, ${VALUE_BYTES}-byte values, ` +
      `${batchSize} writes per batch, sync=${sync}, ${
        args.sequential ? "sequential" : "shuffled"
      } keys, LMDB in ${dir}`,
  );
  const writeTs: Timestamp = { wallMs: Date.now(), logical: 0 };
  let logicalBytes = 0;
  let t0 = performance.now();
  for (let i = 0; i < keyCount; i += batchSize) {
    const batch = engine.batch();
    const mvcc = new MvccBatch(engine, batch);
    const stop = Math.min(i + batchSize, keyCount);
    for (let j = i; j < stop; j++) {
      const key = userKey(order[j]);
      logicalBytes += key.length + VALUE_BYTES;
      mvcc.put(key, value, writeTs);
    }
    await engine.write(batch, { sync });
  }
  const writeMs = performance.now() - t0;
  console.log(`batched MVCC writes:       ${rate(keyCount, writeMs)}  (${writeMs.toFixed(0)} ms)`);

  const readTs: Timestamp = { wallMs: writeTs.wallMs + 1, logical: 0 };
  const readKeys = Array.from(
    { length: Math.min(readCount, 100_000) },
    () => userKey(Math.floor(random() * keyCount)),
  );
  t0 = performance.now();
  for (let i = 0; i < readCount; i++) {
    const r = mvccGet(engine, readKeys[i % readKeys.length], readTs);
    if (r.status !== "found") throw new Error(`Cannot run benchmark as a key is ${r.status}`);
  }
  const readMs = performance.now() - t0;
  console.log(`point reads at a timestamp: ${rate(readCount, readMs)}  (${readMs.toFixed(0)} ms)`);

  t0 = performance.now();
  let scanned = 0;
  let start: Uint8Array | undefined;
  for (;;) {
    const r = mvccScan(engine, { start, timestamp: readTs, limit: SCAN_PAGE });
    if (r.status !== "ok") throw new Error("Cannot run benchmark as the scan met an intent");
    scanned += r.rows.length;
    if (r.resumeKey === undefined) break;
    start = r.resumeKey;
  }
  const scanMs = performance.now() - t0;
  if (scanned !== keyCount) {
    throw new Error(`Cannot run benchmark as the scan saw ${scanned} of ${keyCount} keys`);
  }
  console.log(
    `keys scanned:              ${rate(scanned, scanMs)}  (${
      scanMs.toFixed(0)
    } ms, pages of ${SCAN_PAGE})`,
  );

  const { diskBytes } = engine.stats();
  console.log(
    `on-disk bytes per logical byte: ${(diskBytes / logicalBytes).toFixed(2)}  ` +
      `(${(diskBytes / 1024 ** 2).toFixed(1)} MiB on disk, ${
        (logicalBytes / 1024 ** 2).toFixed(1)
      } MiB of keys and values)`,
  );
  console.log("targets: ≥200,000 writes/s, ≥300,000 reads/s, ≥1,000,000 keys/s scanned");
} finally {
  await engine.close();
  await Deno.remove(dir, { recursive: true });
}
