/**
 * A reference model of the MVCC store (a plain versioned map plus a lock table), random
 * operation sequences over a small, escape-heavy key space, and a runner that applies each
 * sequence to both and compares every read.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import { compareBytes, type Timestamp } from "../../../src/base/key_encoding.ts";
import type { Engine } from "../../../src/storage/engine.ts";
import type {
  Intent,
  MvccGetResult,
  MvccRow,
  MvccScanResult,
  MvccWrite,
} from "../../../src/mvcc/mod.ts";
import { MvccStore } from "../../../src/mvcc/mod.ts";

/** One step of a random sequence. Timestamps are small integers mapped by {@linkcode ts}. */
export type Op =
  | { op: "put"; key: Uint8Array; t: number; value: Uint8Array }
  | { op: "delete"; key: Uint8Array; t: number }
  | { op: "get"; key: Uint8Array; t: number }
  | {
    op: "scan";
    start?: Uint8Array;
    end?: Uint8Array;
    t: number;
    limit?: number;
    reverse: boolean;
  }
  | { op: "gc"; t: number; maxDeletes: number }
  /** Puts and deletes in one engine batch, or as concurrent single writes. */
  | {
    op: "batch";
    writes: { key: Uint8Array; t: number; value?: Uint8Array }[];
    concurrent: boolean;
  }
  | { op: "putIntent"; key: Uint8Array; t: number; value?: Uint8Array }
  | { op: "removeIntent"; key: Uint8Array }
  | { op: "commitIntent"; key: Uint8Array; dt: number };

/** Integer time t ↦ a timestamp; several per millisecond so the logical part matters. */
export function ts(t: number): Timestamp {
  return { wallMs: 1_700_000_000_000 + Math.floor(t / 3), logical: t % 3 };
}

const anyKeyArb = fc.array(fc.constantFrom(0x00, 0x01, 0x2f, 0x61, 0xff), { maxLength: 3 })
  .chain((tail) =>
    fc.constantFrom([0x2f, ...tail], [0x5f, 0x2f, ...tail]).map((k) => new Uint8Array(k))
  );
const boundArb = fc.option(
  fc.array(fc.constantFrom(0x00, 0x2f, 0x5f, 0x61, 0xff), { maxLength: 3 }).map((k) =>
    new Uint8Array(k)
  ),
  { nil: undefined },
);
const tArb = fc.integer({ min: 0, max: 40 });
const valueArb = fc.uint8Array({ maxLength: 4 });

/** Few keys, so each collects many versions and reads take the seek paths. */
const hotKeyArb = fc.constantFrom(new Uint8Array([0x2f]), new Uint8Array([0x2f, 0x00]));

/**
 * Random operation sequences.
 *
 * @param hot draw keys from two keys only, with longer sequences
 */
export function opsArb(hot = false): fc.Arbitrary<Op[]> {
  const keyArb = hot ? hotKeyArb : anyKeyArb;
  return fc.array(
    fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({ op: fc.constant("put"), key: keyArb, t: tArb, value: valueArb }),
      },
      { weight: 2, arbitrary: fc.record({ op: fc.constant("delete"), key: keyArb, t: tArb }) },
      { weight: 4, arbitrary: fc.record({ op: fc.constant("get"), key: keyArb, t: tArb }) },
      {
        weight: 4,
        arbitrary: fc.record({
          op: fc.constant("scan"),
          start: boundArb,
          end: boundArb,
          t: tArb,
          limit: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
          reverse: fc.boolean(),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant("gc"),
          t: tArb,
          maxDeletes: fc.integer({ min: 1, max: 3 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant("putIntent"),
          key: keyArb,
          t: tArb,
          value: fc.option(valueArb, { nil: undefined }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("removeIntent"), key: keyArb }) },
      {
        weight: 2,
        arbitrary: fc.record({
          op: fc.constant("batch"),
          writes: fc.array(
            fc.record({ key: keyArb, t: tArb, value: fc.option(valueArb, { nil: undefined }) }),
            { minLength: 1, maxLength: 5 },
          ),
          concurrent: fc.boolean(),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant("commitIntent"),
          key: keyArb,
          dt: fc.integer({ min: 0, max: 5 }),
        }),
      },
    ) as fc.Arbitrary<Op>,
    { maxLength: hot ? 120 : 60, size: "max" },
  );
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** The reference model. Timestamps are the integers t of {@linkcode ts}. */
class Model {
  /** key hex → (t → value, undefined for a tombstone). */
  versions = new Map<string, { key: Uint8Array; byT: Map<number, Uint8Array | undefined> }>();
  locks = new Map<string, { key: Uint8Array; t: number; value?: Uint8Array }>();
  gcThreshold = -1;

  write(key: Uint8Array, t: number, value: Uint8Array | undefined): void {
    const h = hex(key);
    let entry = this.versions.get(h);
    if (entry === undefined) this.versions.set(h, entry = { key, byT: new Map() });
    entry.byT.set(t, value);
  }

  /** The newest version at or below t, unless it is a tombstone. */
  visible(h: string, t: number): { t: number; value: Uint8Array } | undefined {
    const entry = this.versions.get(h);
    if (entry === undefined) return undefined;
    let best = -1;
    for (const vt of entry.byT.keys()) if (vt <= t && vt > best) best = vt;
    const value = best < 0 ? undefined : entry.byT.get(best);
    return value === undefined ? undefined : { t: best, value };
  }

  /** Versions stored after GC at the current threshold (all of them before any GC). */
  retainedVersions(): number {
    let n = 0;
    for (const { byT } of this.versions.values()) {
      if (this.gcThreshold < 0) {
        n += byT.size;
        continue;
      }
      let keeper = -1;
      for (const vt of byT.keys()) {
        if (vt > this.gcThreshold) n++;
        else if (vt > keeper) keeper = vt;
      }
      if (keeper >= 0 && byT.get(keeper) !== undefined) n++;
    }
    return n;
  }
}

function intentOf(key: Uint8Array, t: number, value: Uint8Array | undefined): Intent {
  return {
    key,
    txnId: `txn-${t}`,
    primaryKey: key,
    startTimestamp: ts(t),
    value,
    expiresAtMs: 1_700_000_100_000,
  };
}

function inSpan(key: Uint8Array, start?: Uint8Array, end?: Uint8Array): boolean {
  return (start === undefined || compareBytes(key, start) >= 0) &&
    (end === undefined || compareBytes(key, end) < 0);
}

function expectedGet(model: Model, key: Uint8Array, t: number): MvccGetResult {
  const lock = model.locks.get(hex(key));
  if (lock !== undefined && lock.t <= t) {
    return { status: "locked", intents: [intentOf(lock.key, lock.t, lock.value)] };
  }
  const found = model.visible(hex(key), t);
  return found === undefined
    ? { status: "absent" }
    : { status: "found", value: found.value, timestamp: ts(found.t) };
}

function expectedScan(model: Model, op: Extract<Op, { op: "scan" }>): MvccScanResult {
  const keys = [...model.versions.values()].map((e) => e.key)
    .filter((k) => inSpan(k, op.start, op.end))
    .sort(compareBytes);
  if (op.reverse) keys.reverse();
  const rows: MvccRow[] = [];
  for (const key of keys) {
    const found = model.visible(hex(key), op.t);
    if (found !== undefined) rows.push({ key, value: found.value, timestamp: ts(found.t) });
    if (rows.length === op.limit) break;
  }
  let lockStart = op.start;
  let lockEnd = op.end;
  let resumeKey: Uint8Array | undefined;
  if (op.limit !== undefined && rows.length === op.limit) {
    const last = rows[rows.length - 1].key;
    if (op.reverse) lockStart = resumeKey = last;
    else lockEnd = resumeKey = new Uint8Array([...last, 0]);
  }
  const intents = [...model.locks.values()]
    .filter((l) => l.t <= op.t && inSpan(l.key, lockStart, lockEnd))
    .sort((a, b) => compareBytes(a.key, b.key))
    .map((l) => intentOf(l.key, l.t, l.value));
  if (intents.length > 0) return { status: "locked", intents };
  return resumeKey === undefined ? { status: "ok", rows } : { status: "ok", rows, resumeKey };
}

/**
 * Applies `ops` to a fresh {@linkcode MvccStore} over `engine` and to the model, comparing
 * every read, and the number of stored versions after every GC.
 */
export async function runAgainstModel(engine: Engine, ops: Op[]): Promise<void> {
  const store = new MvccStore(engine);
  const model = new Model();
  for (const op of ops) {
    switch (op.op) {
      case "put":
      case "delete": {
        // Writes at or below the GC threshold are refused by the range above MVCC.
        if (op.t <= model.gcThreshold) break;
        const value = op.op === "put" ? op.value : undefined;
        if (value === undefined) await store.delete(op.key, ts(op.t));
        else await store.put(op.key, value, ts(op.t));
        model.write(op.key, op.t, value);
        break;
      }
      case "get": {
        const t = Math.max(op.t, model.gcThreshold);
        assert.deepEqual(store.get(op.key, ts(t)), expectedGet(model, op.key, t));
        break;
      }
      case "scan": {
        const scan = { ...op, t: Math.max(op.t, model.gcThreshold) };
        const actual = store.scan({
          start: scan.start,
          end: scan.end,
          timestamp: ts(scan.t),
          limit: scan.limit,
          reverse: scan.reverse,
        });
        assert.deepEqual(actual, expectedScan(model, scan));
        break;
      }
      case "gc": {
        if (op.t <= model.gcThreshold) break;
        await store.gc(ts(op.t), { maxDeletes: op.maxDeletes });
        model.gcThreshold = op.t;
        assert.equal(engine.stats().keyspaces.data.entries, model.retainedVersions());
        break;
      }
      case "batch": {
        const writes = op.writes.filter((w) => w.t > model.gcThreshold);
        const mvccWrites: MvccWrite[] = writes.map((w) =>
          w.value === undefined
            ? { type: "delete", key: w.key, timestamp: ts(w.t) }
            : { type: "put", key: w.key, value: w.value, timestamp: ts(w.t) }
        );
        if (op.concurrent) await Promise.all(mvccWrites.map((w) => store.write([w])));
        else await store.write(mvccWrites);
        for (const w of writes) model.write(w.key, w.t, w.value);
        break;
      }
      case "putIntent":
        await store.putIntent(intentOf(op.key, op.t, op.value));
        model.locks.set(hex(op.key), { key: op.key, t: op.t, value: op.value });
        break;
      case "removeIntent":
        await store.removeIntent(op.key);
        model.locks.delete(hex(op.key));
        break;
      case "commitIntent": {
        const lock = model.locks.get(hex(op.key));
        if (lock === undefined) {
          await assert.rejects(
            store.commitIntent(op.key, "txn-none", ts(41)),
            (err) => isRangeDbError(err, ErrorCode.NOT_FOUND),
          );
          break;
        }
        const commitT = lock.t + op.dt;
        if (commitT <= model.gcThreshold) break;
        await store.commitIntent(op.key, `txn-${lock.t}`, ts(commitT));
        model.locks.delete(hex(op.key));
        model.write(op.key, commitT, lock.value);
        break;
      }
    }
  }
}
