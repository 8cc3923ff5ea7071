/**
 * The LMDB engine on a full disk (a small tmpfs): a commit that does not fit fails that write
 * with LMDB's errno and nothing else (no unhandled rejection from lmdb-js ends the process),
 * close() returns, and the environment is not reopened in this process. Mounting needs root:
 * skipped otherwise with the reason printed, unless RANGEDB_REQUIRE_NETNS=1 (CI as root).
 */
import assert from "node:assert/strict";
import { isRangeDbError } from "../../../src/base/errors.ts";
import { openLmdbEngine } from "../../../src/storage/lmdb_engine.ts";

async function run(cmd: string, args: string[]): Promise<boolean> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
  return out.success;
}

const root = Deno.uid() === 0 ? undefined : "mounting a tmpfs needs root";
const required = Deno.env.get("RANGEDB_REQUIRE_NETNS") === "1";
if (root !== undefined && !required) console.log(`LMDB disk-full test skipped: ${root}`);

Deno.test({
  name: "LmdbEngine.write() fails alone with LMDB's errno on a full disk, and close() returns",
  ignore: root !== undefined && !required,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rangedb-lmdb-full-" });
    assert.ok(await run("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dir]), "mount");
    try {
      const engine = await openLmdbEngine(dir);
      let failure: unknown;
      let written = 0;
      for (let i = 0; i < 100 && failure === undefined; i++) {
        const batch = engine.batch();
        batch.put("data", new Uint8Array([i]), new Uint8Array(256 * 1024).fill(i));
        await engine.write(batch, { sync: true }).then(() => written++, (err) => failure = err);
      }
      assert.ok(written > 0 && written < 8, `${written} writes fit in 2 MiB`);
      assert.ok(isRangeDbError(failure), String(failure));
      const errno = (failure.cause as { code?: unknown } | undefined)?.code;
      assert.ok(errno === 5 || errno === 28, `LMDB's EIO or ENOSPC, not ${String(failure.cause)}`);
      // What committed before is still readable.
      assert.deepEqual(engine.get("data", new Uint8Array([0]))?.[0], 0);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const closed = await Promise.race([
        engine.close().then(() => "closed"),
        new Promise((resolve) => timer = setTimeout(() => resolve("hung"), 5_000)),
      ]);
      clearTimeout(timer);
      assert.equal(closed, "closed");
      await assert.rejects(
        openLmdbEngine(dir),
        (err) => isRangeDbError(err, "FAILED_PRECONDITION"),
      );
    } finally {
      // The failed environment stays mapped until the process exits: detach the mount lazily.
      await run("umount", ["-l", dir]);
      await Deno.remove(dir, { recursive: true }).catch(() => undefined);
    }
  },
});
