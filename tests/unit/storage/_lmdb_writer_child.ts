/**
 * Child process of the durability tests: writes one key per batch into an LMDB engine and, after
 * each write() resolves, prints "acked <i>" on stdout, until killed or `count` is reached.
 *
 * Usage: deno run -A _lmdb_writer_child.ts <dir> <sync|nosync> <count>
 *
 * @module
 */

import { openLmdbEngine } from "../../../src/storage/lmdb_engine.ts";

const [dir, mode, count] = Deno.args;
const engine = await openLmdbEngine(dir);
const encoder = new TextEncoder();
for (let i = 0; i < Number(count); i++) {
  const batch = engine.batch();
  batch.put("data", encoder.encode(`key-${i}`), encoder.encode(`value-${i}`));
  await engine.write(batch, { sync: mode === "sync" });
  // A synchronous write to fd 1, so the line leaves the process before the next batch starts.
  Deno.stdout.writeSync(encoder.encode(`acked ${i}\n`));
}
await engine.close();
