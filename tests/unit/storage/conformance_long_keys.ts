/**
 * The conformance suite's part on long keys: keys around and far beyond LMDB's key limit, which
 * the LMDB engine stores in long form (`src/storage/_long_key.ts`), must behave exactly like
 * short ones on every engine. Keys that share their first {@linkcode LONG_KEY_PREFIX_BYTES}
 * bytes (a "group") are the hard case: LMDB orders them by hash, the engine must not.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Engine, ScanOptions } from "../../../src/storage/engine.ts";
import { LMDB_MAX_KEY_BYTES, LONG_KEY_PREFIX_BYTES } from "../../../src/storage/_long_key.ts";
import { type EngineFixture, fixtureTest, hex, modelScan, scanHex } from "./conformance.ts";

const T = LONG_KEY_PREFIX_BYTES;
const L = LMDB_MAX_KEY_BYTES;

/** `head` followed by `tail`. */
function cat(head: Uint8Array, ...tail: number[]): Uint8Array {
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

/** `count` bytes of `byte`. */
const fill = (count: number, byte: number) => new Uint8Array(count).fill(byte);

/** The shared T-byte prefix of the group. */
const P = fill(T, 0x61);

/**
 * A group of long keys sharing P (prefixes of each other among them, lengths T+1, L, 4200 and
 * 9000), P itself, and short keys just before and after the group.
 */
const GROUP_KEYS = [
  cat(P, 0x00),
  cat(P, 0x00, 0x00),
  cat(P, 0x00, 0x01),
  cat(P, 0x01),
  cat(P, 0x7f),
  cat(P, 0x7f, 0x7f),
  cat(P, 0x80),
  cat(P, ...fill(L - T, 0x10)),
  cat(P, ...fill(4200 - T, 0x10)),
  cat(P, ...fill(9000 - T, 0x10)),
  cat(P, ...fill(9000 - T, 0x10), 0x00),
  cat(P, 0xff),
  cat(P, ...fill(L - T, 0xff)),
  cat(P, ...fill(L - T + 1, 0xff)),
];
const NEIGHBOUR_KEYS = [
  k1(0x61),
  fill(T - 1, 0x61),
  cat(fill(T - 1, 0x61), 0x60),
  cat(fill(T - 1, 0x60), 0x62, 0x00, 0x00),
  P,
  cat(fill(T - 1, 0x61), 0x62),
  cat(fill(T - 1, 0x61), 0x62, ...fill(100, 0x00)),
  k1(0x62),
];
const ALL_KEYS = [...GROUP_KEYS, ...NEIGHBOUR_KEYS];

function k1(byte: number): Uint8Array {
  return new Uint8Array([byte]);
}

/** Scan bounds: on stored keys, between them inside the group, and around it. */
const BOUNDS = [
  undefined,
  fill(T - 1, 0x61),
  P,
  cat(P, 0x00),
  cat(P, 0x00, 0x00, 0x00),
  cat(P, 0x7f, 0x00),
  cat(P, ...fill(4200 - T, 0x10)),
  cat(P, 0x80, 0x00),
  cat(P, ...fill(L - T, 0xff)),
  cat(P, ...fill(L - T + 5, 0xff)),
  cat(fill(T - 1, 0x61), 0x62),
];

function modelOf(keys: Uint8Array[]): Map<string, string> {
  return new Map(keys.map((key) => [hex(key), hex(key)]));
}

function describe(options: ScanOptions): string {
  const short = (b?: Uint8Array) => b && `${b.length}:${hex(b.subarray(T - 2)).slice(0, 24)}`;
  return JSON.stringify({ ...options, start: short(options.start), end: short(options.end) });
}

function assertMatches(e: Engine, model: Map<string, string>, options: ScanOptions): void {
  const got = scanHex(e, "data", options);
  const want = modelScan(model, options);
  // Keys of thousands of bytes make unreadable diffs: compare lengths and positions first.
  assert.deepEqual(
    got.map(([key]) => want.findIndex(([w]) => w === key)),
    want.map((_, i) => i),
    describe(options),
  );
  assert.deepEqual(got, want, describe(options));
}

async function putKeys(e: Engine, keys: Uint8Array[]): Promise<void> {
  const batch = e.batch();
  // Reversed, so that insertion order does not happen to be the sorted order.
  for (const key of [...keys].reverse()) batch.put("data", key, key);
  await e.write(batch);
}

/**
 * Registers the long-key conformance tests under `label`.
 *
 * @param label the implementation's name, the first word of each test name
 * @param makeFixture returns a fresh, empty engine
 */
export function registerLongKeyConformanceTests(
  label: string,
  makeFixture: () => Promise<EngineFixture>,
): void {
  const test = fixtureTest(label, makeFixture);

  test(".write() and .get() handle keys of every length around the LMDB key limit", async (e) => {
    const lengths = [T - 1, T, T + 1, L - 1, L, L + 1, 4200, 9000];
    const keys = lengths.map((n) => fill(n, 0x33).map((b, i) => (i % 7 === 0 ? i & 0xff : b)));
    const batch = e.batch();
    keys.forEach((key, i) => batch.put("data", key, k1(i)));
    await e.write(batch);
    keys.forEach((key, i) => assert.deepEqual(e.get("data", key), k1(i), `length ${key.length}`));
    for (const key of keys) {
      const other = key.slice();
      other[key.length - 1] ^= 1;
      assert.equal(e.get("data", other), undefined, `near ${key.length}`);
      assert.equal(e.get("data", cat(key, 0)), undefined, `extended ${key.length}`);
    }
    const update = e.batch();
    update.put("data", keys[2], k1(99));
    update.delete("data", keys[4]);
    update.delete("data", keys[7]);
    update.put("data", keys[7], k1(77));
    await e.write(update);
    assert.deepEqual(e.get("data", keys[2]), k1(99));
    assert.equal(e.get("data", keys[4]), undefined);
    assert.deepEqual(e.get("data", keys[7]), k1(77));
    assert.deepEqual(
      Array.from(e.scan("data"), (kv) => kv.key.length),
      [T - 1, T, T + 1, L - 1, L + 1, 4200, 9000].sort((a, b) => a - b),
    );
  });

  test(".scan() orders a group of long keys sharing their first bytes logically", async (e) => {
    await putKeys(e, ALL_KEYS);
    const model = modelOf(ALL_KEYS);
    assertMatches(e, model, {});
    assertMatches(e, model, { reverse: true });
    for (const key of ALL_KEYS) assert.deepEqual(e.get("data", key), key);
  });

  test(".scan() honours bounds and limits that fall inside a group", async (e) => {
    await putKeys(e, ALL_KEYS);
    const model = modelOf(ALL_KEYS);
    for (const start of BOUNDS) {
      for (const end of BOUNDS) {
        for (const reverse of [false, true]) {
          for (const limit of [undefined, 1, 2, 3, 7, 100]) {
            assertMatches(e, model, { start, end, reverse, limit });
          }
        }
      }
    }
  });

  test(".write() deleteRange removes exactly [start, end) when bounds cut a group", async (e) => {
    const ranges = BOUNDS.flatMap((start) =>
      BOUNDS.map((end) => [start, end] as const).filter(([, end]) =>
        start !== undefined && end !== undefined && hex(start) <= hex(end)
      )
    );
    for (const [start, end] of ranges) {
      await putKeys(e, ALL_KEYS);
      const batch = e.batch();
      batch.deleteRange("data", start!, end!);
      await e.write(batch);
      const model = modelOf(
        ALL_KEYS.filter((key) => hex(key) < hex(start!) || hex(key) >= hex(end!)),
      );
      assertMatches(e, model, {});
      assertMatches(e, model, { reverse: true, start: P });
    }
  });

  test(".write() applies long-key operations in order within a batch", async (e) => {
    const [a, b, c] = [GROUP_KEYS[1], GROUP_KEYS[8], GROUP_KEYS[9]];
    const batch = e.batch();
    batch.put("data", a, k1(1));
    batch.delete("data", a);
    batch.put("data", b, k1(2));
    batch.put("data", c, k1(3));
    batch.deleteRange("data", b, cat(P, 0x20));
    batch.put("data", c, k1(4));
    await e.write(batch);
    assert.deepEqual(scanHex(e, "data"), [[hex(c), "04"]]);
  });

  test(".snapshot() keeps its view of a group while it changes", async (e) => {
    await putKeys(e, ALL_KEYS);
    const snap = e.snapshot();
    try {
      const batch = e.batch();
      batch.deleteRange("data", cat(P, 0x00, 0x01), cat(P, 0x7f, 0x7f));
      batch.put("data", GROUP_KEYS[0], k1(0));
      batch.put("data", cat(P, 0x50), cat(P, 0x50));
      batch.delete("data", GROUP_KEYS[9]);
      await e.write(batch);
      const before = modelOf(ALL_KEYS);
      const after = modelOf([
        ...ALL_KEYS.filter((key) =>
          !(hex(key) >= hex(cat(P, 0x00, 0x01)) && hex(key) < hex(cat(P, 0x7f, 0x7f))) &&
          key !== GROUP_KEYS[9]
        ),
        cat(P, 0x50),
      ]);
      after.set(hex(GROUP_KEYS[0]), "00");
      for (const options of [{}, { reverse: true }, { start: cat(P, 0x00), end: cat(P, 0x80) }]) {
        assert.deepEqual(scanHex(snap, "data", options), modelScan(before, options));
        assert.deepEqual(scanHex(e, "data", options), modelScan(after, options));
      }
      const inside = {
        start: cat(P, 0x00, 0x00, 0x00),
        end: cat(P, 0xff),
        reverse: true,
        limit: 4,
      };
      assert.deepEqual(scanHex(snap, "data", inside), modelScan(before, inside));
      assert.deepEqual(snap.get("data", GROUP_KEYS[9]), GROUP_KEYS[9]);
      assert.deepEqual(snap.get("data", GROUP_KEYS[0]), GROUP_KEYS[0]);
      assert.equal(e.get("data", GROUP_KEYS[9]), undefined);
    } finally {
      snap.close();
    }
  });

  test(".write() stores values of 8 MiB under short and long keys", async (e) => {
    const big = new Uint8Array(8 << 20).map((_, i) => (i * 31) % 251);
    const long = fill(5000, 0x44);
    const batch = e.batch();
    batch.put("data", k1(1), big);
    batch.put("data", long, big);
    await e.write(batch);
    assert.deepEqual(e.get("data", k1(1)), big);
    assert.deepEqual(e.get("data", long), big);
    const [first, second] = Array.from(e.scan("data"), (kv) => kv.value.length);
    assert.deepEqual([first, second], [big.length, big.length]);
  });

  test(".stats() counts the logical bytes of long keys", async (e) => {
    const batch = e.batch();
    batch.put("data", fill(9000, 1), new Uint8Array(10));
    batch.put("data", fill(T + 1, 1), new Uint8Array(0));
    batch.put("data", fill(T, 2), new Uint8Array(3));
    await e.write(batch);
    assert.deepEqual(e.stats().keyspaces.data, {
      entries: 3,
      logicalBytes: 9000 + 10 + T + 1 + T + 3,
    });
  });
}
