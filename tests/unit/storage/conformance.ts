/**
 * One behavioural suite for every {@linkcode Engine} implementation. Each engine's test file
 * calls {@linkcode registerConformanceTests} with a factory of fresh, empty engines.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { Buffer } from "node:buffer";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import {
  type Engine,
  type Keyspace,
  KEYSPACES,
  type KeyValue,
  MAX_ENGINE_KEY_BYTES,
  type Reader,
  type ScanOptions,
} from "../../../src/storage/engine.ts";

/** A fresh, empty engine and the way to dispose of it (close if open, remove its files). */
export interface EngineFixture {
  engine: Engine;
  dispose(): Promise<void>;
}

/** Bytes from numbers. */
export function k(...bytes: number[]): Uint8Array {
  return new Uint8Array(bytes);
}

/** Bytes as lowercase hex; hex order equals unsigned byte order. */
export const hex = (b: Uint8Array) =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

/** Every pair of `visitViews`, as hex strings read during each visit. */
export function visitHex(reader: Reader, ks: Keyspace, options?: ScanOptions): string[][] {
  const pairs: string[][] = [];
  reader.visitViews(ks, options, (key, value) => {
    pairs.push([hex(key), hex(value)]);
  });
  return pairs;
}

/**
 * Every pair of a scan, as hex strings, for readable assertions. It also asserts that
 * `visitViews` with the same options visits the same pairs, so that every scan assertion of the
 * suites covers both ways of iterating.
 */
export function scanHex(reader: Reader, ks: Keyspace, options?: ScanOptions): string[][] {
  const pairs = Array.from(
    reader.scan(ks, options),
    (kv: KeyValue) => [hex(kv.key), hex(kv.value)],
  );
  assert.deepEqual(visitHex(reader, ks, options), pairs, "visitViews() differs from scan()");
  return pairs;
}

/** Puts every key with itself as its value, in one batch. */
export async function putAll(engine: Engine, ks: Keyspace, keys: Uint8Array[]): Promise<void> {
  const batch = engine.batch();
  for (const key of keys) batch.put(ks, key, key);
  await engine.write(batch);
}

/** Asserts that `p` rejects with a RangeDbError of `code`. */
export async function assertRejectsCode(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (err) => isRangeDbError(err, code));
}

function assertThrowsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err) => isRangeDbError(err, code));
}

/**
 * The keys of the ordering tests: unsigned extremes, sign-bit neighbours and prefixes. Sorted
 * here by hand in unsigned lexicographic order.
 */
const ORDERED_KEYS = [
  k(0x00),
  k(0x00, 0x00),
  k(0x00, 0xff),
  k(0x01),
  k(0x7f),
  k(0x7f, 0x00),
  k(0x7f, 0xff, 0xff),
  k(0x80),
  k(0x80, 0x00),
  k(0xfe, 0xff),
  k(0xff),
  k(0xff, 0x00),
  k(0xff, 0xff),
  k(0xff, 0xff, 0xff),
];

/** Model of one keyspace: hex key → hex value. Hex order equals unsigned byte order. */
export function modelScan(model: Map<string, string>, options: ScanOptions): string[][] {
  const start = options.start === undefined ? undefined : hex(options.start);
  const end = options.end === undefined ? undefined : hex(options.end);
  let rows = [...model.entries()]
    .filter(([key]) => (start === undefined || key >= start) && (end === undefined || key < end))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (options.reverse) rows = rows.reverse();
  return rows.slice(0, options.limit ?? Infinity);
}

/**
 * Returns a function that registers one test named `label + name`, run on a fresh engine from
 * `makeFixture` that is disposed afterwards.
 */
export function fixtureTest(
  label: string,
  makeFixture: () => Promise<EngineFixture>,
): (name: string, fn: (engine: Engine) => Promise<void>) => void {
  return (name, fn) =>
    Deno.test(`${label}${name}`, async () => {
      const fixture = await makeFixture();
      try {
        await fn(fixture.engine);
      } finally {
        await fixture.dispose();
      }
    });
}

/**
 * Registers the conformance tests under `label` (e.g. "MemoryEngine").
 *
 * @param label the implementation's name, the first word of each test name
 * @param makeFixture returns a fresh, empty engine
 */
export function registerConformanceTests(
  label: string,
  makeFixture: () => Promise<EngineFixture>,
): void {
  const test = fixtureTest(label, makeFixture);

  test(".get() returns undefined for an absent key and the value after a put", async (e) => {
    assert.equal(e.get("data", k(1)), undefined);
    const batch = e.batch();
    batch.put("data", k(1), k(10));
    await e.write(batch);
    assert.deepEqual(e.get("data", k(1)), k(10));
    assert.equal(e.get("data", k(1, 0)), undefined);
    assert.equal(e.get("data", k(0)), undefined);
  });

  test(".write() overwrites and deletes keys", async (e) => {
    await putAll(e, "data", [k(1), k(2)]);
    const batch = e.batch();
    batch.put("data", k(1), k(11, 11));
    batch.delete("data", k(2));
    batch.delete("data", k(3));
    await e.write(batch, { sync: false });
    assert.deepEqual(e.get("data", k(1)), k(11, 11));
    assert.equal(e.get("data", k(2)), undefined);
  });

  test(".write() keeps keyspaces apart", async (e) => {
    const batch = e.batch();
    KEYSPACES.forEach((ks, i) => batch.put(ks, k(1), k(i)));
    await e.write(batch);
    KEYSPACES.forEach((ks, i) => assert.deepEqual(e.get(ks, k(1)), k(i)));
    const del = e.batch();
    del.deleteRange("locks", k(0), k(0xff));
    await e.write(del);
    assert.equal(e.get("locks", k(1)), undefined);
    assert.deepEqual(e.get("data", k(1)), k(0));
  });

  test(".write() stores empty values and values of 1 MiB", async (e) => {
    const big = new Uint8Array(1 << 20).map((_, i) => i % 251);
    const batch = e.batch();
    batch.put("data", k(1), new Uint8Array(0));
    batch.put("data", k(2), big);
    await e.write(batch);
    assert.deepEqual(e.get("data", k(1)), new Uint8Array(0));
    assert.deepEqual(e.get("data", k(2)), big);
    const visited: Uint8Array[] = [];
    e.visitViews("data", undefined, (_, value) => {
      visited.push(value.slice());
    });
    // Compared as hex: a diff of 1 MiB arrays would take minutes to print.
    assert.deepEqual(visited.map(hex), [new Uint8Array(0), big].map(hex));
  });

  test(".get() and .scan() return arrays the caller owns", async (e) => {
    const key = k(5);
    const value = k(50, 51);
    const batch = e.batch();
    batch.put("data", key, value);
    await e.write(batch);
    key[0] = 6;
    value[0] = 0;
    const got = e.get("data", k(5))!;
    assert.deepEqual(got, k(50, 51));
    got[0] = 99;
    const again = e.get("data", k(5))!;
    const other = e.get("data", k(5))!;
    assert.deepEqual(again, k(50, 51));
    assert.notEqual(again.buffer, other.buffer);
    const [kv] = e.scan("data");
    kv.key[0] = 1;
    kv.value[0] = 1;
    assert.deepEqual(scanHex(e, "data"), [["05", "3233"]]);
  });

  test(".write() applies operations in the order they were added", async (e) => {
    const batch = e.batch();
    batch.put("data", k(1), k(1));
    batch.delete("data", k(1));
    batch.put("data", k(2), k(1));
    batch.put("data", k(2), k(2));
    batch.put("data", k(3), k(3));
    batch.deleteRange("data", k(3), k(4));
    batch.put("data", k(3, 1), k(4));
    await e.write(batch);
    assert.deepEqual(scanHex(e, "data"), [["02", "02"], ["0301", "04"]]);
    assert.equal(batch.count, 7);
    // Keys and values: 1+1, 1, 1+1, 1+1, 1+1, 1+1 (range bounds), 2+1.
    assert.equal(batch.byteSize, 14);
  });

  for (
    const [what, addBad] of [
      ["an empty key", (b) => b.put("data", k(), k(1))],
      [
        "a key over MAX_ENGINE_KEY_BYTES",
        (b) => b.put("data", new Uint8Array(MAX_ENGINE_KEY_BYTES + 1), k(1)),
      ],
      ["a delete of an empty key", (b) => b.delete("locks", k())],
      ["a deleteRange with start after end", (b) => b.deleteRange("data", k(2), k(1))],
      ["an unknown keyspace", (b) => b.put("nope" as Keyspace, k(1), k(1))],
    ] as [string, (b: ReturnType<Engine["batch"]>) => void][]
  ) {
    test(`.write() rejects a batch with ${what} midway and applies none of it`, async (e) => {
      await putAll(e, "data", [k(1), k(9)]);
      const batch = e.batch();
      batch.put("data", k(2), k(2));
      batch.delete("data", k(1));
      batch.deleteRange("data", k(5), k(0xff));
      batch.put("locks", k(3), k(3));
      addBad(batch);
      batch.put("data", k(4), k(4));
      await assertRejectsCode(e.write(batch), ErrorCode.INVALID_ARGUMENT);
      assert.deepEqual(scanHex(e, "data"), [["01", "01"], ["09", "09"]]);
      assert.deepEqual(scanHex(e, "locks"), []);
      await putAll(e, "data", [k(3)]);
      assert.deepEqual(scanHex(e, "data").length, 3);
    });
  }

  test(".write() accepts a key of exactly MAX_ENGINE_KEY_BYTES", async (e) => {
    const key = new Uint8Array(MAX_ENGINE_KEY_BYTES).fill(0xab);
    await putAll(e, "data", [key]);
    assert.deepEqual(e.get("data", key), key);
    assert.deepEqual(scanHex(e, "data"), [[hex(key), hex(key)]]);
  });

  test(".write() rejects a batch of another engine", async (e) => {
    const other = await makeFixture();
    try {
      const batch = other.engine.batch();
      batch.put("data", k(1), k(1));
      await assertRejectsCode(e.write(batch), ErrorCode.INVALID_ARGUMENT);
      assert.equal(e.get("data", k(1)), undefined);
    } finally {
      await other.dispose();
    }
  });

  test(".write() deleteRange removes [start, end) only", async (e) => {
    await putAll(e, "data", ORDERED_KEYS);
    const batch = e.batch();
    batch.deleteRange("data", k(0x7f), k(0x80, 0x00));
    batch.deleteRange("data", k(0xff, 0xff), k(0xff, 0xff));
    batch.deleteRange("data", k(0x00, 0x01), k(0x01));
    await e.write(batch);
    assert.deepEqual(scanHex(e, "data").map(([key]) => key), [
      "00",
      "0000",
      "01",
      "8000",
      "feff",
      "ff",
      "ff00",
      "ffff",
      "ffffff",
    ]);
  });

  test(".scan() orders keys as unsigned bytes with prefixes first", async (e) => {
    const shuffled = [...ORDERED_KEYS].reverse();
    shuffled.push(shuffled.shift()!);
    await putAll(e, "data", shuffled);
    assert.deepEqual(scanHex(e, "data").map(([key]) => key), ORDERED_KEYS.map(hex));
    assert.deepEqual(
      scanHex(e, "data", { reverse: true }).map(([key]) => key),
      ORDERED_KEYS.map(hex).reverse(),
    );
  });

  test(".scan() honours every combination of bounds, direction and limit", async (e) => {
    await putAll(e, "data", ORDERED_KEYS);
    const model = new Map(ORDERED_KEYS.map((key) => [hex(key), hex(key)]));
    // Bounds on stored keys, between stored keys, below and above all keys, and empty.
    const bounds = [undefined, k(), k(0x00), k(0x00, 0x00), k(0x00, 0x01), k(0x7f), k(0x7f, 0x80)]
      .concat([k(0x80), k(0xfe), k(0xff), k(0xff, 0xff), k(0xff, 0xff, 0xff, 0x00)]);
    for (const start of bounds) {
      for (const end of bounds) {
        for (const reverse of [false, true]) {
          for (const limit of [undefined, 0, 1, 2, 100]) {
            const options = { start, end, reverse, limit };
            assert.deepEqual(
              scanHex(e, "data", options),
              modelScan(model, options),
              JSON.stringify({ start: start && hex(start), end: end && hex(end), reverse, limit }),
            );
          }
        }
      }
    }
  });

  test(".visitViews() stops at the first visit that returns false", async (e) => {
    await putAll(e, "data", [k(1), k(2), k(3), k(4)]);
    for (const reverse of [false, true]) {
      const seen: string[] = [];
      e.visitViews("data", { reverse }, (key) => {
        seen.push(hex(key));
        return seen.length < 2;
      });
      assert.deepEqual(seen, reverse ? ["04", "03"] : ["01", "02"]);
    }
  });

  test(".visitViews() rethrows the visitor's own error unchanged", async (e) => {
    await putAll(e, "data", [k(1), k(2)]);
    const thrown = new TypeError("Cannot visit as the visitor failed: MDB_CORRUPTED");
    assert.throws(
      () =>
        e.visitViews("data", undefined, () => {
          throw thrown;
        }),
      (err) => err === thrown,
    );
  });

  test(".visitViews() sees its snapshot and fails once the snapshot is closed", async (e) => {
    await putAll(e, "data", [k(1)]);
    const snap = e.snapshot();
    await putAll(e, "data", [k(2)]);
    assert.deepEqual(visitHex(snap, "data"), [["01", "01"]]);
    assert.deepEqual(visitHex(e, "data"), [["01", "01"], ["02", "02"]]);
    snap.close();
    assertThrowsCode(() => visitHex(snap, "data"), ErrorCode.FAILED_PRECONDITION);
    assertThrowsCode(() => visitHex(e, "data", { limit: -1 }), ErrorCode.INVALID_ARGUMENT);
  });

  test(".scan() rejects a negative or fractional limit", async (e) => {
    await putAll(e, "data", [k(1)]);
    assertThrowsCode(() => [...e.scan("data", { limit: -1 })], ErrorCode.INVALID_ARGUMENT);
    assertThrowsCode(() => [...e.scan("data", { limit: 1.5 })], ErrorCode.INVALID_ARGUMENT);
  });

  test(".scan() sees the state of its start while writes happen during iteration", async (e) => {
    await putAll(e, "data", [k(1), k(2), k(3)]);
    const seen: string[] = [];
    for (const kv of e.scan("data")) {
      seen.push(hex(kv.key));
      if (seen.length === 1) {
        const batch = e.batch();
        batch.delete("data", k(2));
        batch.put("data", k(4), k(4));
        await e.write(batch);
      }
    }
    assert.deepEqual(seen, ["01", "02", "03"]);
    assert.deepEqual(scanHex(e, "data").map(([key]) => key), ["01", "03", "04"]);
  });

  test(".scan() matches a sorted-map model under random batches (property)", async (e) => {
    const byte = fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff);
    // Half the keys extend one shared prefix across the LMDB engine's long-key threshold T
    // (1962 bytes; the prefix is T - 1 bytes), so that long keys share their first T bytes and
    // form groups, next to short keys equal to a group's prefix.
    const shared = new Uint8Array(1961).fill(0x80);
    const key = fc.oneof(
      fc.array(byte, { minLength: 1, maxLength: 3 }).map((b) => new Uint8Array(b)),
      {
        weight: 2,
        arbitrary: fc.array(byte, { maxLength: 4 }).map((b) => new Uint8Array([...shared, ...b])),
      },
    );
    const op = fc.oneof(
      fc.record({ kind: fc.constant("put" as const), key, value: fc.uint8Array({ maxLength: 4 }) }),
      fc.record({ kind: fc.constant("delete" as const), key }),
      fc.record({ kind: fc.constant("deleteRange" as const), key, end: key }),
    );
    // A bound may also be empty: the lowest key, so an empty end bounds an empty range.
    const bound = fc.oneof(key, fc.constant(new Uint8Array(0)));
    const scan = fc.record({
      start: fc.option(bound, { nil: undefined }),
      end: fc.option(bound, { nil: undefined }),
      reverse: fc.boolean(),
      limit: fc.option(fc.nat(8), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(op, { maxLength: 12 }), { maxLength: 6 }),
        fc.array(scan, { minLength: 1, maxLength: 6 }),
        async (batches, scans) => {
          const clear = e.batch();
          for (const kv of e.scan("data")) clear.delete("data", kv.key);
          await e.write(clear);
          const model = new Map<string, string>();
          for (const ops of batches) {
            const batch = e.batch();
            for (const o of ops) {
              if (o.kind === "put") {
                batch.put("data", o.key, o.value);
                model.set(hex(o.key), hex(o.value));
              } else if (o.kind === "delete") {
                batch.delete("data", o.key);
                model.delete(hex(o.key));
              } else if (hex(o.key) <= hex(o.end)) {
                batch.deleteRange("data", o.key, o.end);
                for (const m of [...model.keys()]) {
                  if (m >= hex(o.key) && m < hex(o.end)) model.delete(m);
                }
              }
            }
            await e.write(batch, { sync: false });
          }
          for (const options of scans) {
            assert.deepEqual(scanHex(e, "data", options), modelScan(model, options));
          }
          for (const m of model.keys()) {
            const bytes = new Uint8Array(m.match(/../g)!.map((x) => parseInt(x, 16)));
            assert.equal(hex(e.get("data", bytes)!), model.get(m));
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  test(".snapshot() does not see writes committed after it", async (e) => {
    await putAll(e, "data", [k(1), k(2)]);
    await putAll(e, "raft_log", [k(7)]);
    const snap = e.snapshot();
    const batch = e.batch();
    batch.put("data", k(1), k(99));
    batch.delete("data", k(2));
    batch.put("data", k(3), k(3));
    batch.deleteRange("raft_log", k(0), k(0xff));
    await e.write(batch);
    try {
      assert.deepEqual(snap.get("data", k(1)), k(1));
      assert.deepEqual(snap.get("data", k(2)), k(2));
      assert.equal(snap.get("data", k(3)), undefined);
      assert.deepEqual(scanHex(snap, "data"), [["01", "01"], ["02", "02"]]);
      assert.deepEqual(scanHex(snap, "data", { reverse: true, limit: 1 }), [["02", "02"]]);
      assert.deepEqual(scanHex(snap, "raft_log"), [["07", "07"]]);
      assert.deepEqual(scanHex(e, "data"), [["01", "63"], ["03", "03"]]);
      assert.deepEqual(scanHex(e, "raft_log"), []);
      const later = e.snapshot();
      assert.deepEqual(scanHex(later, "data"), [["01", "63"], ["03", "03"]]);
      later.close();
    } finally {
      snap.close();
    }
  });

  test(".snapshot() keeps its view in scans started before and after commits", async (e) => {
    await putAll(e, "data", [k(1), k(2)]);
    const snap = e.snapshot();
    try {
      const created = snap.scan("data");
      const keys = (it: Iterable<KeyValue>) => Array.from(it, (kv) => hex(kv.key));
      assert.deepEqual(keys(snap.scan("data", { limit: 5 })), ["01", "02"]);
      const batch = e.batch();
      batch.put("data", k(3), k(3));
      batch.delete("data", k(1));
      await e.write(batch);
      assert.deepEqual(keys(created), ["01", "02"]);
      assert.deepEqual(keys(snap.scan("data", { reverse: true })), ["02", "01"]);
      await new Promise((resolve) => setTimeout(resolve, 5)); // later event-loop turns
      assert.deepEqual(keys(snap.scan("data", { start: k(1), limit: 1 })), ["01"]);
      assert.deepEqual(keys(e.scan("data")), ["02", "03"]);
    } finally {
      snap.close();
    }
  });

  test(".scan() sees the state as of its first step", async (e) => {
    await putAll(e, "data", [k(1)]);
    const created = e.scan("data");
    await putAll(e, "data", [k(2)]);
    assert.deepEqual(Array.from(created, (kv) => hex(kv.key)), ["01", "02"]);
    const snap = e.snapshot();
    const fromSnapshot = snap.scan("data");
    snap.close();
    assertThrowsCode(() => [...fromSnapshot], ErrorCode.FAILED_PRECONDITION);
  });

  test(".snapshot() fails with FAILED_PRECONDITION after close()", async (e) => {
    await putAll(e, "data", [k(1)]);
    const snap = e.snapshot();
    snap.close();
    assertThrowsCode(() => snap.get("data", k(1)), ErrorCode.FAILED_PRECONDITION);
    assertThrowsCode(() => [...snap.scan("data")], ErrorCode.FAILED_PRECONDITION);
    snap.close();
  });

  test(".stats() counts entries and logical bytes per keyspace", async (e) => {
    const empty = e.stats();
    for (const ks of KEYSPACES) {
      if (ks === "local") continue; // an engine may keep metadata (format version) there
      assert.deepEqual(empty.keyspaces[ks], { entries: 0, logicalBytes: 0 });
    }
    const batch = e.batch();
    batch.put("data", k(1), new Uint8Array(10));
    batch.put("data", k(2, 2), new Uint8Array(20));
    batch.put("locks", k(3), new Uint8Array(0));
    await e.write(batch);
    const stats = e.stats();
    assert.deepEqual(stats.keyspaces.data, { entries: 2, logicalBytes: 1 + 10 + 2 + 20 });
    assert.deepEqual(stats.keyspaces.locks, { entries: 1, logicalBytes: 1 });
    assert.deepEqual(stats.keyspaces.raft_state, { entries: 0, logicalBytes: 0 });
  });

  test(".close() makes every later call fail with FAILED_PRECONDITION", async (e) => {
    await putAll(e, "data", [k(1)]);
    const snap = e.snapshot();
    const batch = e.batch();
    batch.put("data", k(2), k(2));
    await e.close();
    assertThrowsCode(() => e.get("data", k(1)), ErrorCode.FAILED_PRECONDITION);
    assertThrowsCode(() => [...e.scan("data")], ErrorCode.FAILED_PRECONDITION);
    assertThrowsCode(() => visitHex(e, "data"), ErrorCode.FAILED_PRECONDITION);
    assertThrowsCode(() => visitHex(snap, "data"), ErrorCode.FAILED_PRECONDITION);
    assertThrowsCode(() => e.batch(), ErrorCode.FAILED_PRECONDITION);
    assertThrowsCode(() => e.snapshot(), ErrorCode.FAILED_PRECONDITION);
    assertThrowsCode(() => e.stats(), ErrorCode.FAILED_PRECONDITION);
    assertThrowsCode(() => snap.get("data", k(1)), ErrorCode.FAILED_PRECONDITION);
    await assertRejectsCode(e.write(batch), ErrorCode.FAILED_PRECONDITION);
    await e.close();
  });

  test(".close() waits for writes in flight", async (e) => {
    const writes = [1, 2, 3].map((i) => {
      const batch = e.batch();
      batch.put("data", k(i), k(i));
      return e.write(batch, { sync: i === 2 });
    });
    await e.close();
    await Promise.all(writes);
  });
}
