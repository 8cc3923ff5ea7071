import assert from "node:assert/strict";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import { DEFAULT_MAX_KEY_BYTES } from "../../../src/base/key_limits.ts";
import type { Timestamp } from "../../../src/base/key_encoding.ts";
import { openLmdbEngine } from "../../../src/storage/mod.ts";
import { MvccStore } from "../../../src/mvcc/mod.ts";

const ts = (wallMs: number, logical = 0): Timestamp => ({ wallMs, logical });
const v = (s: string) => new TextEncoder().encode(s);

/** A key of `length` bytes: "/" then `fill`, with `last` as its final byte when given. */
function userKey(length: number, fill: number, last?: number): Uint8Array {
  const key = new Uint8Array(length).fill(fill);
  key[0] = 0x2f;
  if (last !== undefined) key[length - 1] = last;
  return key;
}

async function withLmdbStore(fn: (store: MvccStore) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-mvcc-lmdb-" });
  const engine = await openLmdbEngine(dir);
  try {
    await fn(new MvccStore(engine));
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("MvccStore on LMDB round-trips keys of the maximum size, NUL-heavy ones too", async () => {
  await withLmdbStore(async (store) => {
    // All NULs after "/": escaped to 8191 bytes, 8201 with the timestamp. The others share
    // their first 4095 bytes, so their stored forms share every byte LMDB could keep in a key.
    const keys = [
      userKey(DEFAULT_MAX_KEY_BYTES, 0x00),
      userKey(DEFAULT_MAX_KEY_BYTES, 0x00, 0x01),
      userKey(DEFAULT_MAX_KEY_BYTES, 0xab, 0x01),
      userKey(DEFAULT_MAX_KEY_BYTES, 0xab, 0x02),
      userKey(DEFAULT_MAX_KEY_BYTES - 1, 0xab),
    ];
    for (const [i, key] of keys.entries()) {
      await store.put(key, v(`old${i}`), ts(10));
      await store.put(key, v(`new${i}`), ts(20));
    }
    await store.delete(keys[3], ts(30));
    for (const [i, key] of keys.entries()) {
      assert.deepEqual(store.get(key, ts(15)), {
        status: "found",
        value: v(`old${i}`),
        timestamp: ts(10),
      });
      assert.deepEqual(store.get(key, ts(25)), {
        status: "found",
        value: v(`new${i}`),
        timestamp: ts(20),
      });
    }
    assert.deepEqual(store.get(keys[3], ts(30)), { status: "absent" });
    const sorted = [keys[0], keys[1], keys[4], keys[2], keys[3]];
    const scanned = store.scan({ timestamp: ts(25) });
    assert.equal(scanned.status, "ok");
    if (scanned.status !== "ok") return;
    assert.deepEqual(scanned.rows.map((row) => row.key), sorted);
    assert.deepEqual(scanned.rows.map((row) => row.timestamp), sorted.map(() => ts(20)));
    const reverse = store.scan({ timestamp: ts(30), reverse: true, limit: 2 });
    assert.ok(reverse.status === "ok");
    assert.deepEqual(reverse.rows.map((row) => row.key), [keys[2], keys[4]]);
    const bounded = store.scan({ timestamp: ts(15), start: keys[1], end: keys[3] });
    assert.ok(bounded.status === "ok");
    assert.deepEqual(bounded.rows.map((row) => row.value), [v("old1"), v("old4"), v("old2")]);
  });
});

Deno.test("MvccStore on LMDB keeps intents on keys of the maximum size", async () => {
  await withLmdbStore(async (store) => {
    const key = userKey(DEFAULT_MAX_KEY_BYTES, 0x00);
    const intent = {
      key,
      txnId: "t1",
      primaryKey: userKey(DEFAULT_MAX_KEY_BYTES, 0x00, 0x07),
      startTimestamp: ts(10),
      value: v("provisional"),
      expiresAtMs: 99,
    };
    await store.putIntent(intent);
    assert.deepEqual(store.getIntent(key), intent);
    assert.equal(store.getIntent(userKey(DEFAULT_MAX_KEY_BYTES, 0x00, 0x01)), undefined);
    assert.deepEqual(store.get(key, ts(10)), { status: "locked", intents: [intent] });
    await store.removeIntent(key);
    assert.equal(store.getIntent(key), undefined);
  });
});

Deno.test("MvccStore on LMDB refuses a key one byte over the maximum with INVALID_ARGUMENT", async () => {
  await withLmdbStore(async (store) => {
    await assert.rejects(
      store.put(userKey(DEFAULT_MAX_KEY_BYTES + 1, 0x00), v("x"), ts(1)),
      (e) => {
        assert.ok(isRangeDbError(e, ErrorCode.INVALID_ARGUMENT));
        assert.match(e.message, /key is 4097 bytes, limit is 4096 bytes/);
        return true;
      },
    );
    const all = store.scan({ timestamp: ts(1) });
    assert.ok(all.status === "ok");
    assert.deepEqual(all.rows, []);
  });
});
