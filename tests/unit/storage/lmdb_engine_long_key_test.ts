import assert from "node:assert/strict";
import { type Database, open } from "lmdb";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import { type LmdbEngine, openLmdbEngine } from "../../../src/storage/lmdb_engine.ts";
import {
  LMDB_MAX_KEY_BYTES,
  LONG_KEY_PREFIX_BYTES,
  REST_LENGTH_BYTES,
} from "../../../src/storage/_long_key.ts";

const T = LONG_KEY_PREFIX_BYTES;

type RawDb = Database<Uint8Array, Uint8Array>;

/** Opens the `data` database of a closed engine's directory raw, runs `fn`, closes it. */
async function withRawData(dir: string, fn: (db: RawDb) => Promise<void> | void): Promise<void> {
  const root = open({ path: dir, keyEncoding: "binary", encoding: "binary" });
  try {
    await fn(
      root.openDB<Uint8Array, Uint8Array>({
        name: "data",
        keyEncoding: "binary",
        encoding: "binary",
      }),
    );
  } finally {
    await root.close();
  }
}

async function withEngine(
  fn: (engine: LmdbEngine, dir: string) => Promise<LmdbEngine | void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-lmdb-long-" });
  let engine = await openLmdbEngine(dir);
  try {
    engine = (await fn(engine, dir)) ?? engine;
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function put(engine: LmdbEngine, key: Uint8Array, value: Uint8Array): Promise<void> {
  const batch = engine.batch();
  batch.put("data", key, value);
  await engine.write(batch);
}

Deno.test("LmdbEngine stores keys up to the threshold as themselves and longer ones in long form", async () => {
  await withEngine(async (engine, dir) => {
    const short = new Uint8Array(T).fill(7);
    const long = new Uint8Array(T + 1).fill(7);
    await put(engine, short, new Uint8Array([1]));
    await put(engine, long, new Uint8Array([2, 3]));
    await engine.close();
    await withRawData(dir, (db) => {
      const rows = Array.from(db.getRange({}), ({ key, value }) => ({ key, value }));
      assert.deepEqual(rows.map((row) => row.key.length), [T, LMDB_MAX_KEY_BYTES]);
      assert.deepEqual(new Uint8Array(rows[0].key), short);
      assert.deepEqual(new Uint8Array(rows[1].key.subarray(0, T)), short);
      // uint32 length of the rest (1), the rest (7), the value.
      assert.deepEqual(new Uint8Array(rows[1].value), new Uint8Array([0, 0, 0, 1, 7, 2, 3]));
    });
    return await openLmdbEngine(dir);
  });
});

Deno.test("LmdbEngine refuses to read, overwrite or delete a long key whose slot holds another key", async () => {
  await withEngine(async (engine, dir) => {
    const key = new Uint8Array(T + 10).fill(9);
    const other = new Uint8Array(T + 5).fill(4);
    await put(engine, key, new Uint8Array([1]));
    await put(engine, other, new Uint8Array([2]));
    await engine.close();
    // Rewrite the rest of `key` in its record: the slot now claims another key, as after a
    // SHA-256 prefix collision.
    await withRawData(dir, async (db) => {
      for (const { key: physical, value } of Array.from(db.getRange({}))) {
        if (physical[0] !== 9) continue;
        const forged = new Uint8Array(value);
        forged[REST_LENGTH_BYTES] = 8;
        await db.put(physical, forged);
      }
    });
    const reopened = await openLmdbEngine(dir);
    const internal = (err: unknown) => isRangeDbError(err, ErrorCode.INTERNAL);
    assert.throws(() => reopened.get("data", key), internal);
    const overwrite = reopened.batch();
    overwrite.put("data", other, new Uint8Array([3]));
    overwrite.put("data", key, new Uint8Array([5]));
    await assert.rejects(reopened.write(overwrite), internal);
    const remove = reopened.batch();
    remove.delete("data", key);
    await assert.rejects(reopened.write(remove), internal);
    assert.deepEqual(reopened.get("data", other), new Uint8Array([2]));
    return reopened;
  });
});

Deno.test("LmdbEngine.scan() fails with CORRUPTION on a malformed long-form record", async () => {
  await withEngine(async (engine, dir) => {
    await put(engine, new Uint8Array(T + 3).fill(1), new Uint8Array([1]));
    await engine.close();
    await withRawData(dir, async (db) => {
      const [physical] = Array.from(db.getKeys({}));
      await db.put(physical, new Uint8Array([0, 0, 0, 200, 1]));
    });
    const reopened = await openLmdbEngine(dir);
    assert.throws(
      () => [...reopened.scan("data")],
      (err) => isRangeDbError(err, ErrorCode.CORRUPTION),
    );
    return reopened;
  });
});
