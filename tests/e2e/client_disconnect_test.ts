/**
 * Regression: a node must survive clients that close their connections. Under Deno 2.9 a gRPC
 * client's GOAWAY used to abort the server process inside nghttp2 (denoland/deno#36788); the
 * servers now read client bytes through src/rpc/goaway_filter.ts.
 */
import assert from "node:assert/strict";
import { connect } from "../../src/client/mod.ts";
import { withCluster } from "../harness/cluster.ts";

Deno.test("rangedb server survives SDK clients that close after many calls", async () => {
  await withCluster({ nodes: 3 }, async (cluster) => {
    await cluster.waitAllReady();
    for (let round = 0; round < 4; round++) {
      const db = await connect({ endpoints: cluster.clientAddresses() });
      for (let i = 0; i < 60; i++) await db.put(`/disconnect/${round}/${i}`, `v${i}`);
      for (let i = 0; i < 20; i++) {
        await db.get(`/disconnect/${round}/${i}`, { serializable: true });
      }
      db.close();
      await new Promise((r) => setTimeout(r, 300));
      for (const n of cluster.nodes) {
        assert.ok(
          cluster.isRunning(n.index),
          `node ${n.index} is still running after round ${round}`,
        );
      }
    }
    const db = await connect({ endpoints: cluster.clientAddresses() });
    try {
      assert.equal(await db.getText("/disconnect/3/59"), "v59");
    } finally {
      db.close();
    }
  });
});
