import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import {
  CancelledError,
  connect,
  ErrorCode,
  InvalidArgumentError,
  RangeDbClientError,
  UnavailableError,
} from "../../../src/client/mod.ts";
import { FakeCluster, status } from "./_fake_cluster.ts";

const dec = new TextDecoder();

async function withCluster(n: number, fn: (c: FakeCluster) => Promise<void>): Promise<void> {
  const cluster = await FakeCluster.start(n);
  try {
    await fn(cluster);
  } finally {
    cluster.stop();
  }
}

Deno.test("connect() learns the leader and RangeDbClient directs writes and linearizable reads there", async () => {
  await withCluster(3, async (c) => {
    c.leader = 2;
    const db = await connect({ endpoints: c.addresses() });
    try {
      assert.equal(db.leader, c.nodes[2].address);
      const { version } = await db.put("/a", "1");
      assert.ok(version > 0n);
      assert.equal(await db.getText("/a"), "1");
      assert.deepEqual(c.callsOf("Put").map(([i]) => i), [2]);
      assert.deepEqual(c.callsOf("Get").map(([i]) => i), [2]);
    } finally {
      db.close();
    }
  });
});

Deno.test("RangeDbClient.get() with serializable spreads reads over every endpoint", async () => {
  await withCluster(3, async (c) => {
    const db = await connect({ endpoints: c.addresses() });
    try {
      for (let i = 0; i < 6; i++) await db.get("/x", { serializable: true });
      const served = new Set(c.callsOf("Get").map(([i]) => i));
      assert.equal(served.size, 3);
      assert.ok(c.callsOf("Get").every(([, r]) => r.serializable));
    } finally {
      db.close();
    }
  });
});

Deno.test("RangeDbClient.put() fails over from a dead endpoint and keeps its request id across retries", async () => {
  await withCluster(2, async (c) => {
    c.leader = 0;
    const db = await connect({ endpoints: c.addresses() });
    try {
      c.stopNode(0);
      c.leader = 1;
      await db.put("/k", "v");
      const puts = c.callsOf("Put");
      assert.deepEqual(puts.map(([i]) => i), [1]);
      assert.equal(db.leader, c.nodes[1].address);

      let failures = 1;
      c.nodes[1].handlers.Put = (r) => {
        if (failures-- > 0) throw status(grpc.status.UNAVAILABLE, "Cannot propose as no leader");
        return { version: 7n, $typeName: "rangedb.v1.PutResponse", key: r.key };
      };
      await db.put("/k2", "v");
      const ids = c.callsOf("Put").slice(1).map(([, r]) => r.requestId);
      assert.equal(ids.length, 2);
      assert.equal(ids[0], ids[1]);
      assert.match(ids[0], /^[0-9a-f-]{36}$/);
    } finally {
      db.close();
    }
  });
});

Deno.test("RangeDbClient follows the leader named by a NOT_LEADER trailer", async () => {
  await withCluster(2, async (c) => {
    c.leader = 0;
    const db = await connect({ endpoints: c.addresses() });
    try {
      c.nodes[0].handlers.Delete = () => {
        throw status(grpc.status.UNAVAILABLE, "Cannot delete as this node is not the leader", {
          "rangedb-error-code": "NOT_LEADER",
          "rangedb-leader-client-address": c.nodes[1].address,
        });
      };
      c.store.set("/d", { value: new Uint8Array([1]), version: 1n });
      assert.equal(await db.delete("/d"), true);
      assert.deepEqual(c.callsOf("Delete").map(([i]) => i), [0, 1]);
      assert.equal(db.leader, c.nodes[1].address);
    } finally {
      db.close();
    }
  });
});

Deno.test("RangeDbClient does not retry INVALID_ARGUMENT and throws InvalidArgumentError", async () => {
  await withCluster(1, async (c) => {
    const db = await connect({ endpoints: c.addresses() });
    try {
      c.nodes[0].handlers.Put = () => {
        throw status(grpc.status.INVALID_ARGUMENT, "Cannot write key as it does not start with /", {
          "rangedb-error-code": "INVALID_ARGUMENT",
        });
      };
      const err = await db.put("abc", "x").catch((e) => e);
      assert.ok(err instanceof InvalidArgumentError);
      assert.equal(err.code, ErrorCode.INVALID_ARGUMENT);
      assert.equal(err.grpcCode, grpc.status.INVALID_ARGUMENT);
      assert.equal(err.message, "Cannot write key as it does not start with /");
      assert.equal(c.callsOf("Put").length, 1);
    } finally {
      db.close();
    }
  });
});

Deno.test("connect() throws UnavailableError within its timeout when no endpoint answers", async () => {
  const c = await FakeCluster.start(2);
  const addresses = c.addresses();
  c.stop();
  const started = Date.now();
  const err = await connect({ endpoints: addresses, timeoutMs: 700 }).catch((e) => e);
  const elapsed = Date.now() - started;
  assert.ok(err instanceof UnavailableError, String(err));
  assert.equal(err.code, ErrorCode.UNAVAILABLE);
  assert.ok(elapsed < 1_500, `took ${elapsed} ms`);
});

Deno.test("connect() refuses malformed endpoints", async () => {
  await assert.rejects(connect({ endpoints: [] }), InvalidArgumentError);
  await assert.rejects(
    connect({ endpoints: ["nonsense"] }),
    /Cannot connect as an endpoint is not host:port: got 'nonsense'/,
  );
});

Deno.test("RangeDbClient.get() fails with CancelledError when its signal aborts", async () => {
  await withCluster(1, async (c) => {
    const db = await connect({ endpoints: c.addresses() });
    try {
      c.nodes[0].handlers.Get = () => {
        throw status(grpc.status.UNAVAILABLE, "Cannot read as no leader");
      };
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const err = await db.get("/a", { signal: controller.signal }).catch((e) => e);
      assert.ok(err instanceof CancelledError, String(err));
      assert.equal(err.code, ErrorCode.CANCELLED);
    } finally {
      db.close();
    }
  });
});

Deno.test("RangeDbClient.range() yields pairs across chunks and passes its options", async () => {
  await withCluster(1, async (c) => {
    const db = await connect({ endpoints: c.addresses() });
    try {
      for (const k of ["/a", "/b", "/c", "/d", "/e"]) await db.put(k, k.toUpperCase());
      const seen = [];
      for await (const kv of db.rangeText("/b", "/e")) seen.push(`${kv.key}=${kv.value}`);
      assert.deepEqual(seen, ["/b=/B", "/c=/C", "/d=/D"]);
      const rev = [];
      for await (const kv of db.range(null, null, { reverse: true, limit: 2, keysOnly: true })) {
        rev.push(dec.decode(kv.key) + dec.decode(kv.value));
      }
      assert.deepEqual(rev, ["/e", "/d"]);
      const req = c.callsOf("Range")[1][1];
      assert.equal(req.limit, 2);
      assert.equal(req.reverse, true);
      assert.equal(req.keysOnly, true);
      assert.equal(req.start.length, 0);
    } finally {
      db.close();
    }
  });
});

Deno.test("RangeDbClient.range() cancels the stream when the loop ends early", async () => {
  await withCluster(1, async (c) => {
    const db = await connect({ endpoints: c.addresses() });
    try {
      for (let i = 0; i < 40; i++) await db.put(`/k${String(i).padStart(2, "0")}`, "v");
      let n = 0;
      for await (const _ of db.range("/", null)) if (++n === 3) break;
      assert.equal(n, 3);
      for (let i = 0; i < 50 && !c.nodes[0].rangeCancelled; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.ok(c.nodes[0].rangeCancelled);
    } finally {
      db.close();
    }
  });
});

Deno.test("RangeDbClient.range() fails over before its first chunk", async () => {
  await withCluster(2, async (c) => {
    c.leader = -1;
    const db = await connect({ endpoints: c.addresses() });
    try {
      c.store.set("/a", { value: new Uint8Array([65]), version: 1n });
      let fail = true;
      for (const node of c.nodes) {
        node.handlers.Range = () => {
          if (fail) {
            fail = false;
            throw status(grpc.status.UNAVAILABLE, "Cannot read as no leader");
          }
        };
      }
      const keys = [];
      for await (const kv of db.rangeText("/", null)) keys.push(kv.key);
      assert.deepEqual(keys, ["/a"]);
      assert.equal(c.callsOf("Range").length, 2);
    } finally {
      db.close();
    }
  });
});

Deno.test("RangeDbClient.compareAndSwap() sends expect_absent for null and reports the actual value", async () => {
  await withCluster(1, async (c) => {
    const db = await connect({ endpoints: c.addresses() });
    try {
      assert.equal(await db.compareAndSwap("/lock", null, "me"), true);
      assert.equal(c.callsOf("CompareAndSwap")[0][1].expectAbsent, true);
      assert.equal(await db.compareAndSwap("/lock", null, "you"), false);
      const outcome = await db.compareAndSwapDetailed("/lock", "you", "them");
      assert.equal(outcome.succeeded, false);
      assert.equal(outcome.found, true);
      assert.equal(dec.decode(outcome.actual!), "me");
      assert.equal(await db.compareAndSwap("/lock", "me", "them"), true);
      assert.equal(await db.getText("/lock"), "them");
    } finally {
      db.close();
    }
  });
});

Deno.test("Batch.commit() sends every operation in order in one request", async () => {
  await withCluster(1, async (c) => {
    const db = await connect({ endpoints: c.addresses() });
    try {
      await db.putJson("/b", { n: 1 });
      assert.deepEqual(await db.getJson("/b"), { n: 1 });
      const batch = db.batch().put("/a", "1").delete("/b").put(new Uint8Array([47, 99]), "3");
      assert.equal(batch.size, 3);
      const { version } = await batch.commit();
      assert.ok(version > 0n);
      const [[, req]] = c.callsOf("Batch");
      assert.deepEqual(req.ops.map((o: { op: { case: string } }) => o.op.case), [
        "put",
        "delete",
        "put",
      ]);
      assert.equal(await db.getText("/c"), "3");
      assert.equal(await db.get("/b"), null);
    } finally {
      db.close();
    }
  });
});

Deno.test("RangeDbClient.close() makes later calls fail with FAILED_PRECONDITION", async () => {
  await withCluster(1, async (c) => {
    const db = await connect({ endpoints: c.addresses() });
    db.close();
    const err = await db.get("/a").catch((e) => e);
    assert.ok(err instanceof RangeDbClientError);
    assert.equal(err.code, ErrorCode.FAILED_PRECONDITION);
  });
});

Deno.test("RangeDbClient.clusterStatus() and listNodes() return the nodes", async () => {
  await withCluster(2, async (c) => {
    const db = await connect({ endpoints: c.addresses() });
    try {
      const s = await db.clusterStatus();
      assert.equal(s.clusterId, "fake");
      assert.deepEqual((await db.listNodes()).map((n) => n.name), ["node1", "node2"]);
    } finally {
      db.close();
    }
  });
});
