/**
 * A disk that stops answering (a hung fsync) must not leave a node hanging on to its ranges: a
 * batch write that has not finished within `--max-sync-duration` fails the node, which says why
 * and exits 1, and its data directory starts normally afterwards. The stall is simulated with the
 * test-only slow fsync (`RANGEDB_TEST_SYNC_DELAY_MS`, see src/storage/crash_points.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { spawnServer, startNode } from "../harness/node_process.ts";
import { KV, withNodeGrpc } from "../harness/cluster_grpc.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("startServer() with a stalled disk fails past --max-sync-duration, exits 1 and restarts cleanly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-stall-" });
  try {
    const stalled = spawnServer([
      "--peer-address=127.0.0.1:0",
      "--client-address=127.0.0.1:0",
      "--admin-address=127.0.0.1:0",
      `--data-dir=${dir}/node`,
      "--cluster-init",
      "--max-sync-duration=300ms",
    ], { env: { RANGEDB_TEST_SYNC_DELAY_MS: "1500" } });
    try {
      const exit = await Promise.race([
        (async () => {
          while (!stalled.exited()) await new Promise((r) => setTimeout(r, 50));
          return stalled.stop("SIGKILL", 0);
        })(),
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 60_000)),
      ]);
      assert.ok(exit !== undefined, `the stalled node did not exit:\n${stalled.stderr()}`);
      assert.equal(exit.code, 1, `exit ${JSON.stringify(exit)}:\n${stalled.stderr()}`);
      const lines = stalled.stderr().trim().split("\n");
      assert.match(
        lines.find((l) => l.includes('"store failed')) ?? "",
        /the disk stalled: the write and its fsync have not finished after 300 ms/,
      );
      assert.match(lines.at(-1)!, /^rangedb: .*disk stalled.*\(UNAVAILABLE\)$/);
    } finally {
      await stalled.stop("SIGKILL", 0);
    }

    // The same directory, with a healthy disk: no repair, and it serves.
    const node = await startNode(`${dir}/node`, { flags: [] });
    try {
      await withNodeGrpc(node.clientAddress, async (grpc) => {
        const key = enc.encode("/stall/after");
        await grpc.unary(KV.method.put, { key, value: enc.encode("ok") });
        assert.equal(dec.decode((await grpc.unary(KV.method.get, { key })).value), "ok");
      });
    } finally {
      await node.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
