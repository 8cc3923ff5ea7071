import assert from "node:assert/strict";
import { b, s, TestCluster, waitFor } from "./_cluster.ts";

Deno.test("Store.put() replicates 1,000 puts to every store of a 3-node cluster", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    const leader = await c.waitForLeader();
    const puts = [];
    for (let i = 0; i < 1000; i++) {
      puts.push(leader.put(b(`/k/${String(i).padStart(4, "0")}`), b(`v${i}`)));
    }
    const results = await Promise.all(puts);
    for (let i = 1; i < results.length; i++) assert.ok(results[i].version > results[i - 1].version);
    for (const st of c.stores.values()) {
      await waitFor(async () => (await st.get(b("/k/0999"), { serializable: true })) !== undefined);
      let n = 0;
      for await (
        const chunk of st.scan(b("/k/"), b("/k0"), { serializable: true, chunkSize: 300 })
      ) {
        n += chunk.length;
      }
      assert.equal(n, 1000);
      assert.equal(s((await st.get(b("/k/0500")))?.value), "v500");
    }
  } finally {
    await c.close();
  }
});

Deno.test("Store stops leading: a new leader is elected and no acknowledged write is lost", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    const first = await c.waitForLeader();
    const acked: string[] = [];
    const versions: bigint[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await first.put(b(`/a/${i}`), b(`${i}`));
      acked.push(`/a/${i}`);
      versions.push(r.version);
    }
    await c.stop(first.nodeId);
    const second = await c.waitForLeader(5000);
    assert.notEqual(second.nodeId, first.nodeId);
    const r = await second.put(b("/after"), b("x"));
    assert.ok(r.version > versions[versions.length - 1], "versions increase across leaders");
    for (const key of acked) assert.ok((await second.get(b(key))) !== undefined, key);
    await c.start(first.nodeId);
    const back = c.stores.get(first.nodeId)!;
    await waitFor(async () => (await back.get(b("/after"), { serializable: true })) !== undefined);
  } finally {
    await c.close();
  }
});

Deno.test("Store.open() recovers a store from its engine after a restart", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    await c.waitForLeader();
    await Promise.all(Array.from({ length: 200 }, (_, i) => c.put(b(`/r/${i}`), b(`${i}`))));
    for (const id of [1, 2, 3]) await c.stop(id);
    for (const id of [1, 2, 3]) await c.start(id);
    const again = await c.waitForLeader();
    assert.equal(s((await again.get(b("/r/199")))?.value), "199");
    for (const st of c.stores.values()) {
      assert.equal(s((await st.get(b("/r/7"), { serializable: true }))?.value), "7");
    }
    await again.put(b("/r/new"), b("n"));
  } finally {
    await c.close();
  }
});

Deno.test("Store.get() on a follower is linearizable: it sees the latest acknowledged write", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    const leader = await c.waitForLeader();
    const follower = [...c.stores.values()].find((st) => st !== leader)!;
    for (let i = 0; i < 20; i++) {
      await leader.put(b("/lin"), b(`${i}`));
      assert.equal(s((await follower.get(b("/lin")))?.value), `${i}`);
    }
    await assert.rejects(
      follower.put(b("/x"), b("y")),
      (e: Error & { code?: string }) => e.code === "NOT_LEADER",
    );
  } finally {
    await c.close();
  }
});

Deno.test("Store.put() on a partitioned minority fails UNAVAILABLE or TIMEOUT within its deadline", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    const leader = await c.waitForLeader();
    await leader.put(b("/p"), b("1"));
    const others = [...c.stores.keys()].filter((id) => id !== leader.nodeId);
    c.net.isolate(leader.nodeId, others);
    const start = Date.now();
    await assert.rejects(
      leader.put(b("/p"), b("2"), { deadline: Date.now() + 500 }),
      (e: Error & { code?: string }) =>
        ["UNAVAILABLE", "TIMEOUT", "NOT_LEADER"].includes(e.code ?? ""),
    );
    await assert.rejects(
      leader.get(b("/p"), { deadline: Date.now() + 300 }),
      (e: Error & { code?: string }) => ["UNAVAILABLE", "TIMEOUT"].includes(e.code ?? ""),
    );
    assert.ok(Date.now() - start < 1500, "fails within the deadline");
    c.net.heal();
    const next = await c.waitForLeader();
    // The write refused above was ambiguous: it may have applied once the partition healed.
    assert.ok(["1", "2"].includes(s((await next.get(b("/p")))?.value) ?? ""));
  } finally {
    await c.close();
  }
});
