import assert from "node:assert/strict";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import type { Timestamp } from "../../../src/base/key_encoding.ts";
import { createMemoryEngine } from "../../../src/storage/mod.ts";
import { type Intent, MvccStore, type MvccWrite } from "../../../src/mvcc/mod.ts";

const enc = new TextEncoder();
const k = (s: string) => enc.encode(s);
const v = (s: string) => enc.encode(s);
const ts = (wallMs: number, logical = 0): Timestamp => ({ wallMs, logical });

function setup(): { store: MvccStore; engine: ReturnType<typeof createMemoryEngine> } {
  const engine = createMemoryEngine();
  return { store: new MvccStore(engine), engine };
}

function intent(key: string, start: Timestamp, value?: string): Intent {
  return {
    key: k(key),
    txnId: "t1",
    primaryKey: k("/p"),
    startTimestamp: start,
    value: value === undefined ? undefined : v(value),
    expiresAtMs: 99,
  };
}

Deno.test("MvccStore.get() returns the newest version at or below the timestamp", async () => {
  const { store } = setup();
  await store.put(k("/a"), v("1"), ts(10));
  await store.put(k("/a"), v("2"), ts(20, 1));
  await store.delete(k("/a"), ts(30));
  assert.deepEqual(store.get(k("/a"), ts(9)), { status: "absent" });
  assert.deepEqual(store.get(k("/a"), ts(10)), {
    status: "found",
    value: v("1"),
    timestamp: ts(10),
  });
  assert.deepEqual(store.get(k("/a"), ts(20)), {
    status: "found",
    value: v("1"),
    timestamp: ts(10),
  });
  assert.deepEqual(store.get(k("/a"), ts(20, 1)), {
    status: "found",
    value: v("2"),
    timestamp: ts(20, 1),
  });
  assert.deepEqual(store.get(k("/a"), ts(30)), { status: "absent" });
  assert.deepEqual(store.get(k("/a\0"), ts(30)), { status: "absent" });
});

Deno.test("MvccStore.get() reads a snapshot when given one", async () => {
  const { store, engine } = setup();
  await store.put(k("/a"), v("1"), ts(10));
  const snapshot = engine.snapshot();
  await store.put(k("/a"), v("2"), ts(11));
  assert.deepEqual(store.get(k("/a"), ts(12), snapshot), {
    status: "found",
    value: v("1"),
    timestamp: ts(10),
  });
  snapshot.close();
});

Deno.test("MvccStore.write() writes nothing when one write is invalid", async () => {
  const { store, engine } = setup();
  const writes: MvccWrite[] = [
    { type: "put", key: k("/ok"), value: v("x"), timestamp: ts(1) },
    { type: "putIntent", intent: intent("/locked", ts(1), "y") },
    { type: "put", key: new Uint8Array(5000).fill(0x2f), value: v("x"), timestamp: ts(1) },
  ];
  await assert.rejects(store.write(writes), (e) => {
    assert.ok(isRangeDbError(e, ErrorCode.INVALID_ARGUMENT));
    assert.equal(
      e.message,
      "Cannot write key as it exceeds the maximum key size: key is 5000 bytes, limit is 4096 bytes",
    );
    return true;
  });
  const stats = engine.stats().keyspaces;
  assert.equal(stats.data.entries + stats.locks.entries, 0);
});

Deno.test("MvccStore.put() refuses bad keys, values and timestamps before writing", async () => {
  const small = new MvccStore(createMemoryEngine(), {
    limits: { maxKeyBytes: 8, maxValueBytes: 2 },
  });
  const cases: [() => Promise<void>, RegExp][] = [
    [() => small.put(k("x"), v("1"), ts(1)), /does not start with \/ or _\//],
    [() => small.put(k("/123456789"), v("1"), ts(1)), /key is 10 bytes, limit is 8 bytes/],
    [() => small.put(k("/a"), v("123"), ts(1)), /value is 3 bytes, limit is 2 bytes/],
    [() => small.put(k("/a"), v("1"), ts(-1)), /timestamp as it is out of range/],
    [() => small.delete(new Uint8Array(), ts(1)), /Cannot write key as it is empty/],
  ];
  for (const [write, message] of cases) {
    await assert.rejects(write(), (e) => {
      assert.ok(isRangeDbError(e, ErrorCode.INVALID_ARGUMENT));
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("MvccStore.put() refuses a key whose stored form exceeds the engine's key size", async () => {
  const store = new MvccStore(createMemoryEngine(), {
    limits: { maxKeyBytes: 40_000, maxValueBytes: 10 },
  });
  // "/" then 32767 NULs: 32768 + 32767 escapes + 2 terminator + 8 timestamp bytes.
  const key = new Uint8Array(32_768);
  key[0] = 0x2f;
  await assert.rejects(store.put(key, v("x"), ts(1)), (e) => {
    assert.ok(isRangeDbError(e, ErrorCode.INVALID_ARGUMENT));
    assert.match(e.message, /stored form is 65545 bytes, limit is 65536 bytes/);
    return true;
  });
  await store.put(key.subarray(0, 32_000), v("x"), ts(1));
  assert.equal(store.get(key.subarray(0, 32_000), ts(1)).status, "found");
});

Deno.test("MvccStore.get() surfaces an intent that started at or below the read", async () => {
  const { store } = setup();
  await store.put(k("/a"), v("old"), ts(5));
  await store.putIntent(intent("/a", ts(10), "new"));
  assert.deepEqual(store.get(k("/a"), ts(9)), {
    status: "found",
    value: v("old"),
    timestamp: ts(5),
  });
  assert.deepEqual(store.get(k("/a"), ts(10)), {
    status: "locked",
    intents: [intent("/a", ts(10), "new")],
  });
  assert.deepEqual(store.getIntent(k("/a")), intent("/a", ts(10), "new"));
  await store.removeIntent(k("/a"));
  assert.equal(store.getIntent(k("/a")), undefined);
  assert.equal(store.get(k("/a"), ts(10)).status, "found");
});

Deno.test("MvccStore.scan() surfaces intents in the covered span only", async () => {
  const { store } = setup();
  for (const key of ["/a", "/b", "/c"]) await store.put(k(key), v(key), ts(1));
  await store.putIntent(intent("/bb", ts(2), undefined));
  const locked = store.scan({ timestamp: ts(3) });
  assert.deepEqual(locked, { status: "locked", intents: [intent("/bb", ts(2), undefined)] });
  const page = store.scan({ timestamp: ts(3), limit: 2 });
  assert.equal(page.status, "ok");
  assert.deepEqual(page.status === "ok" && page.rows.map((r) => r.key), [k("/a"), k("/b")]);
  assert.equal(store.scan({ timestamp: ts(3), start: k("/c") }).status, "ok");
  assert.equal(store.scan({ timestamp: ts(1) }).status, "ok");
});

Deno.test("MvccStore.scan() pages forward and backward with resumeKey", async () => {
  const { store } = setup();
  const keys = ["/a", "/a\0", "/a\0b", "/ab", "/b", "_/sys"];
  for (const [i, key] of keys.entries()) {
    for (let t = 1; t <= 12; t++) await store.put(k(key), v(`${i}@${t}`), ts(t));
  }
  await store.delete(k("/ab"), ts(7));
  for (const reverse of [false, true]) {
    const seen: string[] = [];
    let bound: Uint8Array | undefined;
    for (;;) {
      const r = store.scan({
        timestamp: ts(7),
        limit: 2,
        reverse,
        ...(reverse ? { end: bound } : { start: bound }),
      });
      assert.equal(r.status, "ok");
      if (r.status !== "ok") break;
      for (const row of r.rows) seen.push(new TextDecoder().decode(row.value));
      if (r.resumeKey === undefined) break;
      bound = r.resumeKey;
    }
    const expected = ["0@7", "1@7", "2@7", "4@7", "5@7"];
    assert.deepEqual(seen, reverse ? expected.reverse() : expected);
  }
});

Deno.test("MvccStore.scan() refuses a limit that is not a positive integer", () => {
  const { store } = setup();
  assert.throws(
    () => store.scan({ timestamp: ts(1), limit: 0 }),
    (e) => isRangeDbError(e, ErrorCode.INVALID_ARGUMENT),
  );
});

Deno.test("MvccStore.commitIntent() turns the intent into a version atomically", async () => {
  const { store } = setup();
  await store.putIntent(intent("/a", ts(10), "v"));
  await assert.rejects(
    store.commitIntent(k("/a"), "other", ts(12)),
    (e) => isRangeDbError(e, ErrorCode.NOT_FOUND),
  );
  await store.commitIntent(k("/a"), "t1", ts(12));
  assert.equal(store.getIntent(k("/a")), undefined);
  assert.deepEqual(store.get(k("/a"), ts(11)), { status: "absent" });
  assert.deepEqual(store.get(k("/a"), ts(12)), {
    status: "found",
    value: v("v"),
    timestamp: ts(12),
  });
});

Deno.test("MvccStore.gc() keeps the newest version at or below the threshold, in batches", async () => {
  const { store, engine } = setup();
  for (let t = 1; t <= 25; t++) await store.put(k("/a"), v(`${t}`), ts(t));
  await store.put(k("/b"), v("b"), ts(1));
  await store.delete(k("/b"), ts(2));
  await store.put(k("/c"), v("c"), ts(30));
  const result = await store.gc(ts(20), { maxDeletes: 10 });
  assert.deepEqual(result, { deleted: 21, batches: 2 });
  // /a keeps 20..25, /b is gone, /c keeps its only version.
  assert.equal(engine.stats().keyspaces.data.entries, 7);
  assert.deepEqual(store.get(k("/a"), ts(20)), {
    status: "found",
    value: v("20"),
    timestamp: ts(20),
  });
  assert.deepEqual(await store.gc(ts(20)), { deleted: 0, batches: 0 });
});

Deno.test("MvccStore.gc() stops between batches when its signal aborts", async () => {
  const { store } = setup();
  for (let t = 1; t <= 5; t++) await store.put(k("/a"), v(`${t}`), ts(t));
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(
    store.gc(ts(5), { signal: controller.signal }),
    (e) => isRangeDbError(e, ErrorCode.CANCELLED),
  );
  await assert.rejects(
    store.gc(ts(5), { maxDeletes: 0 }),
    (e) => isRangeDbError(e, ErrorCode.INVALID_ARGUMENT),
  );
});

Deno.test("MvccStore.gc() rejects a maxScanned below 1 and finishes with maxScanned 1", async () => {
  const { store, engine } = setup();
  for (let t = 1; t <= 3; t++) {
    await store.put(k("/a"), v(`${t}`), ts(t));
    await store.put(k("/b"), v(`${t}`), ts(t));
  }
  for (const maxScanned of [0, -1, 1.5]) {
    await assert.rejects(
      store.gc(ts(5), { maxScanned }),
      (e) => isRangeDbError(e, ErrorCode.INVALID_ARGUMENT),
    );
  }
  assert.deepEqual(await store.gc(ts(5), { maxScanned: 1 }), { deleted: 4, batches: 2 });
  assert.equal(engine.stats().keyspaces.data.entries, 2);
});
