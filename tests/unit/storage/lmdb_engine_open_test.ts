import assert from "node:assert/strict";
import { join } from "node:path";
import { open } from "lmdb";
import { ErrorCode, isRangeDbError, RangeDbError } from "../../../src/base/errors.ts";
import { openLmdbEngine } from "../../../src/storage/lmdb_engine.ts";
import {
  encodeFormatVersion,
  FORMAT_VERSION_KEY,
  STORAGE_FORMAT_VERSION,
} from "../../../src/storage/_lmdb_probe.ts";
import { k } from "./conformance.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-open-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Size, mtime and bytes of every file in `dir`, except LMDB's reader table (see _lmdb_probe). */
async function fingerprint(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name === "lock.mdb") continue;
    const path = join(dir, entry.name);
    const info = await Deno.stat(path);
    const digest = info.isFile
      ? Array.from(
        new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(path))),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("")
      : "dir";
    out[entry.name] = `${info.size} ${info.mtime?.getTime()} ${digest}`;
  }
  return out;
}

/** Opens `dir`, expecting `code`; checks the message and that no data file changed. */
async function assertOpenFails(dir: string, code: ErrorCode, ...inMessage: string[]) {
  const before = await fingerprint(dir);
  await new Promise((r) => setTimeout(r, 15)); // a rewrite would show in mtime
  let error: unknown;
  try {
    const engine = await openLmdbEngine(dir);
    await engine.close();
  } catch (err) {
    error = err;
  }
  assert.ok(isRangeDbError(error, code), `expected ${code}, got ${error}`);
  for (const part of inMessage) assert.ok((error as RangeDbError).message.includes(part), part);
  assert.deepEqual(await fingerprint(dir), before);
  return error as RangeDbError;
}

async function writeStore(dir: string, keys: number, valueBytes: number): Promise<void> {
  const engine = await openLmdbEngine(dir);
  for (let b = 0; b < keys / 100; b++) {
    const batch = engine.batch();
    for (let i = 0; i < 100; i++) {
      batch.put("data", k(b >> 8, b & 0xff, i), new Uint8Array(valueBytes).fill(i));
    }
    await engine.write(batch, { sync: false });
  }
  await engine.close();
}

Deno.test("openLmdbEngine() creates the directory and records the format version", async () => {
  await withTempDir(async (parent) => {
    const dir = join(parent, "a", "b");
    const engine = await openLmdbEngine(dir);
    try {
      assert.deepEqual(
        engine.get("local", FORMAT_VERSION_KEY),
        encodeFormatVersion(STORAGE_FORMAT_VERSION),
      );
      assert.ok(engine.stats().diskBytes > 0);
    } finally {
      await engine.close();
    }
  });
});

Deno.test("openLmdbEngine() treats a data directory with a dot in its name as a directory", async () => {
  await withTempDir(async (parent) => {
    const dir = join(parent, "node1.data");
    for (let round = 0; round < 2; round++) {
      const engine = await openLmdbEngine(dir);
      try {
        if (round === 0) {
          const batch = engine.batch();
          batch.put("data", k(1), k(2));
          await engine.write(batch);
        } else {
          assert.deepEqual(engine.get("data", k(1)), k(2));
        }
      } finally {
        await engine.close();
      }
    }
    assert.ok((await Deno.stat(dir)).isDirectory);
    assert.ok((await Deno.stat(join(dir, "data.mdb"))).isFile);
  });
});

Deno.test("openLmdbEngine() reopens a store with everything written before close()", async () => {
  await withTempDir(async (dir) => {
    const engine = await openLmdbEngine(dir);
    const writes = [true, false, true, false].map((sync, i) => {
      const batch = engine.batch();
      batch.put("raft_log", k(i), k(i, i));
      if (i === 3) batch.deleteRange("raft_log", k(0), k(1));
      return engine.write(batch, { sync });
    });
    await engine.close();
    await Promise.all(writes);
    const reopened = await openLmdbEngine(dir);
    try {
      assert.deepEqual(
        Array.from(reopened.scan("raft_log"), (kv) => [...kv.key, ...kv.value]),
        [[1, 1, 1], [2, 2, 2], [3, 3, 3]],
      );
    } finally {
      await reopened.close();
    }
  });
});

Deno.test("openLmdbEngine() refuses a newer format version and changes no data file", async () => {
  await withTempDir(async (dir) => {
    const engine = await openLmdbEngine(dir);
    const batch = engine.batch();
    batch.put("local", FORMAT_VERSION_KEY, encodeFormatVersion(STORAGE_FORMAT_VERSION + 1));
    await engine.write(batch);
    await engine.close();
    await assertOpenFails(
      dir,
      ErrorCode.UNSUPPORTED_FORMAT,
      `format version ${STORAGE_FORMAT_VERSION + 1}`,
      `supports up to ${STORAGE_FORMAT_VERSION}`,
      dir,
    );
  });
});

const CORRUPTIONS: [string, (file: string) => Promise<void>][] = [
  ["random bytes", (file) => Deno.writeFile(file, crypto.getRandomValues(new Uint8Array(65536)))],
  ["a text file", (file) => Deno.writeTextFile(file, "not a database\n".repeat(1000))],
  ["a file shorter than a meta page", (file) => Deno.writeFile(file, new Uint8Array(10))],
  ["a file truncated to 5 pages", (file) => Deno.truncate(file, 5 * 4096)],
  ["a file truncated within page 1", (file) => Deno.truncate(file, 4096 + 100)],
  ["garbage over meta page 1", async (file) => {
    const handle = await Deno.open(file, { write: true });
    await handle.seek(4096, Deno.SeekMode.Start);
    await handle.write(new Uint8Array(4096).fill(0x5a));
    handle.close();
  }],
];

for (const [what, damage] of CORRUPTIONS) {
  Deno.test(`openLmdbEngine() reports CORRUPTION for ${what} and changes nothing`, async () => {
    await withTempDir(async (dir) => {
      await writeStore(dir, 2000, 200);
      const file = join(dir, "data.mdb");
      await damage(file);
      await Deno.remove(join(dir, "lock.mdb"));
      await assertOpenFails(dir, ErrorCode.CORRUPTION, file);
      assert.equal(await Deno.stat(join(dir, "lock.mdb")).catch(() => undefined), undefined);
    });
  });
}

Deno.test("openLmdbEngine() reports CORRUPTION for an LMDB file of another program", async () => {
  await withTempDir(async (dir) => {
    const root = open({ path: dir, maxDbs: 4 });
    const other = root.openDB({ name: "other" });
    await other.put("x", "y");
    await root.close();
    await assertOpenFails(dir, ErrorCode.CORRUPTION, "keyspace local is missing");
  });
});

Deno.test("openLmdbEngine() reports CORRUPTION when the format version record is gone", async () => {
  await withTempDir(async (dir) => {
    const engine = await openLmdbEngine(dir);
    const batch = engine.batch();
    batch.delete("local", FORMAT_VERSION_KEY);
    await engine.write(batch);
    await engine.close();
    await assertOpenFails(dir, ErrorCode.CORRUPTION, "format version record is missing");
  });
});

Deno.test("openLmdbEngine() reports CORRUPTION when data.mdb is a directory", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "data.mdb"));
    await assertOpenFails(dir, ErrorCode.CORRUPTION, "not a regular file");
  });
});

Deno.test("openLmdbEngine() rejects a path that is a file with INVALID_ARGUMENT", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "plain");
    await Deno.writeTextFile(file, "x");
    await assert.rejects(
      openLmdbEngine(file),
      (err) => isRangeDbError(err, ErrorCode.INVALID_ARGUMENT) && err.message.includes(file),
    );
    await assert.rejects(
      openLmdbEngine(join(file, "sub")),
      (err) => isRangeDbError(err, ErrorCode.INVALID_ARGUMENT),
    );
    assert.equal(await Deno.readTextFile(file), "x");
  });
});

Deno.test("openLmdbEngine() fails with FAILED_PRECONDITION where it cannot create", async () => {
  await assert.rejects(
    openLmdbEngine("/proc/rangedb-cannot-exist"),
    (err) =>
      isRangeDbError(err, ErrorCode.FAILED_PRECONDITION) &&
      err.message.includes("/proc/rangedb-cannot-exist"),
  );
});

Deno.test("openLmdbEngine() refuses a directory already open in this process", async () => {
  await withTempDir(async (dir) => {
    const engine = await openLmdbEngine(dir);
    try {
      await assert.rejects(
        openLmdbEngine(join(dir, ".")),
        (err) => isRangeDbError(err, ErrorCode.FAILED_PRECONDITION) && err.message.includes(dir),
      );
      assert.equal(engine.get("data", k(1)), undefined);
    } finally {
      await engine.close();
    }
    await (await openLmdbEngine(dir)).close();
  });
});
