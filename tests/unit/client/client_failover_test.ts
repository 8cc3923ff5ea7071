import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { connect, TimeoutError, UnavailableError } from "../../../src/client/mod.ts";
import { FakeCluster, status } from "./_fake_cluster.ts";

async function withCluster(n: number, fn: (c: FakeCluster) => Promise<void>): Promise<void> {
  const cluster = await FakeCluster.start(n);
  try {
    await fn(cluster);
  } finally {
    cluster.stop();
  }
}

/** An address where nothing listens. */
function closedAddress(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return `127.0.0.1:${port}`;
}

const never = () => new Promise<never>(() => {});

Deno.test("RangeDbClient.put() falls back to configured endpoints when the advertised leader is unreachable", async () => {
  await withCluster(3, async (c) => {
    c.leader = 0;
    c.advertisedLeaderAddress = closedAddress();
    const db = await connect({ endpoints: c.addresses(), timeoutMs: 3_000 });
    try {
      await db.put("/a", "1");
      const started = Date.now();
      await db.put("/b", "2");
      assert.ok(Date.now() - started < 500, "the unreachable leader is avoided at once");
      assert.equal(c.callsOf("Put").length, 2);
      assert.equal(new TextDecoder().decode(c.store.get("/b")?.value), "2");
    } finally {
      db.close();
    }
  });
});

Deno.test("RangeDbClient.put() fails with UnavailableError when no endpoint ever answers", async () => {
  await withCluster(2, async (c) => {
    const db = await connect({ endpoints: c.addresses(), timeoutMs: 1_500 });
    try {
      for (const node of c.nodes) node.handlers.Put = never;
      const err = await db.put("/k", "v").catch((e) => e);
      assert.ok(err instanceof UnavailableError, String(err));
    } finally {
      db.close();
    }
  });
});

Deno.test("RangeDbClient.get() fails with UnavailableError when servers answer UNAVAILABLE", async () => {
  await withCluster(2, async (c) => {
    const db = await connect({ endpoints: c.addresses(), timeoutMs: 800 });
    try {
      for (const node of c.nodes) {
        node.handlers.Get = () => {
          throw status(grpc.status.UNAVAILABLE, "Cannot read as range 1 has no leader", {
            "rangedb-error-code": "UNAVAILABLE",
          });
        };
      }
      const err = await db.get("/k").catch((e) => e);
      assert.ok(err instanceof UnavailableError, String(err));
      assert.match(err.message, /range 1 has no leader/);
    } finally {
      db.close();
    }
  });
});

Deno.test("RangeDbClient.put() fails with TimeoutError when the last server answer was DEADLINE_EXCEEDED", async () => {
  await withCluster(1, async (c) => {
    const db = await connect({ endpoints: c.addresses(), timeoutMs: 800 });
    try {
      c.nodes[0].handlers.Put = () => {
        throw status(grpc.status.DEADLINE_EXCEEDED, "Cannot tell whether the proposal applied", {
          "rangedb-error-code": "TIMEOUT",
        });
      };
      const err = await db.put("/k", "v").catch((e) => e);
      assert.ok(err instanceof TimeoutError, String(err));
    } finally {
      db.close();
    }
  });
});

Deno.test("RangeDbClient.range() fails with TimeoutError when a chunk does not arrive within idleTimeoutMs", async () => {
  await withCluster(1, async (c) => {
    for (const k of ["/a", "/b", "/c", "/d"]) {
      c.store.set(k, { value: new TextEncoder().encode(k), version: 1n });
    }
    c.nodes[0].rangeStallAfterFirst = true;
    const db = await connect({ endpoints: c.addresses() });
    try {
      const keys: string[] = [];
      const started = Date.now();
      const err = await (async () => {
        for await (const kv of db.rangeText("/", "", { idleTimeoutMs: 200 })) keys.push(kv.key);
      })().catch((e) => e);
      assert.ok(err instanceof TimeoutError, String(err));
      assert.match(err.message, /no chunk arrived for 200 ms/);
      assert.deepEqual(keys, ["/a", "/b"]);
      assert.ok(Date.now() - started < 2_000);
    } finally {
      db.close();
    }
  });
});
