import { freePorts } from "../harness/cluster_support.ts";
import assert from "node:assert/strict";
import {
  connect,
  ErrorCode,
  InvalidArgumentError,
  UnavailableError,
} from "../../src/client/mod.ts";
import { withCluster } from "../harness/cluster.ts";
import { runCli } from "../harness/node_process.ts";

Deno.test("RangeDbClient puts, gets, deletes, scans, batches and swaps on a 3-node cluster", async () => {
  await withCluster({ nodes: 3 }, async (cluster) => {
    await cluster.waitAllReady();
    const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 10_000 });
    try {
      const { version } = await db.put("/sdk/a", "1");
      assert.ok(version > 0n);
      assert.equal(await db.getText("/sdk/a"), "1");
      const versioned = await db.getWithVersion("/sdk/a");
      assert.equal(versioned?.version, version);
      assert.ok((await db.put("/sdk/a", "2")).version > version);
      await db.putJson("/sdk/json", { name: "John" });
      assert.deepEqual(await db.getJson("/sdk/json"), { name: "John" });
      assert.equal(await db.delete("/sdk/json"), true);
      assert.equal(await db.delete("/sdk/json"), false);
      assert.equal(await db.get("/sdk/json"), null);

      const batch = await db.batch().put("/sdk/b", "2").put("/sdk/c", "3").delete("/sdk/a")
        .commit();
      assert.ok(batch.version > version);
      const keys = [];
      for await (const { key, value } of db.rangeText("/sdk/", "/sdk/z")) {
        keys.push(`${key}=${value}`);
      }
      assert.deepEqual(keys, ["/sdk/b=2", "/sdk/c=3"]);
      const reversed = [];
      for await (const { key } of db.rangeText("/sdk/", null, { reverse: true, limit: 1 })) {
        reversed.push(key);
      }
      assert.deepEqual(reversed, ["/sdk/c"]);

      assert.equal(await db.compareAndSwap("/sdk/lock", null, "me"), true);
      assert.equal(await db.compareAndSwap("/sdk/lock", null, "you"), false);
      assert.equal(await db.compareAndSwap("/sdk/lock", "you", "x"), false);
      assert.equal(await db.compareAndSwap("/sdk/lock", "me", "you"), true);
      assert.equal(await db.getText("/sdk/lock"), "you");
    } finally {
      db.close();
    }
  });
});

Deno.test("RangeDbClient reads a write back through every node's endpoint", async () => {
  await withCluster({ nodes: 3 }, async (cluster) => {
    await cluster.waitAllReady();
    const writer = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 10_000 });
    try {
      await writer.put("/every/node", "seen");
    } finally {
      writer.close();
    }
    for (const endpoint of cluster.clientAddresses()) {
      const db = await connect({ endpoints: [endpoint], timeoutMs: 10_000 });
      try {
        assert.equal(await db.getText("/every/node"), "seen", endpoint);
        // A serializable read may lag, but this write was acknowledged long enough ago to
        // have been applied everywhere once a linearizable read on the node returned it.
        assert.equal(await db.getText("/every/node", { serializable: true }), "seen", endpoint);
        await db.put(`/every/${endpoint}`, "x");
      } finally {
        db.close();
      }
    }
  });
});

Deno.test("RangeDbClient refuses invalid and system keys with InvalidArgumentError", async () => {
  await withCluster({ nodes: 3 }, async (cluster) => {
    const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 10_000 });
    try {
      for (const key of ["no-slash", "_/cluster/config/replication_factor", ""]) {
        const err = await db.put(key, "x").catch((e) => e);
        assert.ok(err instanceof InvalidArgumentError, `${key}: ${err}`);
        assert.equal(err.code, ErrorCode.INVALID_ARGUMENT);
        assert.match(err.message, /^Cannot /);
      }
    } finally {
      db.close();
    }
  });
});

Deno.test("RangeDbClient keeps writing through a leader kill", async () => {
  await withCluster({ nodes: 3 }, async (cluster) => {
    await cluster.waitAllReady();
    const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 15_000 });
    try {
      await db.put("/failover/before", "1");
      const leader = await cluster.leaderIndex();
      await cluster.kill(leader);
      await db.put("/failover/after", "2");
      assert.equal(await db.getText("/failover/before"), "1");
      assert.equal(await db.getText("/failover/after"), "2");
      assert.notEqual(db.leader, cluster.nodes[leader].client);
    } finally {
      db.close();
    }
  });
});

Deno.test("connect() fails with UNAVAILABLE within its timeout when no endpoint is reachable", async () => {
  const address = `127.0.0.1:${freePorts(1, new Set())[0]}`;
  const started = Date.now();
  const err = await connect({ endpoints: [address], timeoutMs: 1_000 }).catch((e) => e);
  assert.ok(err instanceof UnavailableError, String(err));
  assert.equal(err.code, ErrorCode.UNAVAILABLE);
  assert.ok(Date.now() - started < 2_000);
});

Deno.test("RangeDbClient.get() and rangedb get fail with UNAVAILABLE within the timeout without a quorum", async () => {
  await withCluster({ nodes: 3, timeoutMs: 90_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const before = await connect({ endpoints: cluster.clientAddresses() });
    try {
      await before.put("/quorum/read", "1");
    } finally {
      before.close();
    }
    const leader = await cluster.leaderIndex();
    const survivor = [0, 1, 2].find((i) => i !== leader)!;
    await Promise.all(
      [0, 1, 2].filter((i) => i !== survivor).map((i) => cluster.kill(i, "SIGKILL")),
    );
    const endpoint = cluster.nodes[survivor].client;

    const db = await connect({ endpoints: [endpoint], timeoutMs: 3_000 });
    try {
      const started = Date.now();
      const err = await db.get("/quorum/read").catch((e) => e);
      const elapsed = Date.now() - started;
      assert.ok(err instanceof UnavailableError, String(err));
      assert.ok(elapsed <= 4_000, `SDK get failed after ${elapsed} ms`);
    } finally {
      db.close();
    }

    // The CLI's own start-up time, measured, is not part of its --timeout.
    let started = Date.now();
    await runCli(["version"]);
    const startup = Date.now() - started;
    started = Date.now();
    const cli = await runCli(["get", "/quorum/read", `--endpoints=${endpoint}`, "--timeout=3s"]);
    const elapsed = Date.now() - started - startup;
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stderr, /^rangedb: .*\(UNAVAILABLE\)\n$/);
    assert.ok(elapsed <= 4_000, `rangedb get failed after ${elapsed} ms beyond start-up`);
  });
});
