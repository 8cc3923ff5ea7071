import assert from "node:assert/strict";
import { TSO_RESERVE_MS } from "../../../src/kv/tso.ts";
import { b, s, TestCluster, waitFor } from "./_cluster.ts";

Deno.test("Store serves a single-node cluster: writes, CAS, batch, scan and system records", async () => {
  const c = await TestCluster.create(1);
  try {
    await c.startAll();
    const st = await c.waitForLeader();
    const put = await st.put(b("/x"), b("1"));
    assert.ok(put.version > 0n);
    const failed = await st.compareAndSwap({ key: b("/x"), expected: b("0"), value: b("2") });
    assert.deepEqual([failed.succeeded, failed.found, s(failed.actual), failed.version], [
      false,
      true,
      "1",
      0n,
    ]);
    const ok = await st.compareAndSwap({ key: b("/x"), expected: b("1"), value: b("2") });
    assert.ok(ok.succeeded && ok.version > put.version);
    await st.batch([
      { type: "put", key: b("/y"), value: b("y") },
      { type: "delete", key: b("/x") },
    ]);
    assert.equal(await st.get(b("/x")), undefined);
    assert.deepEqual((await st.delete(b("/y"))).deleted, true);
    assert.deepEqual((await st.delete(b("/y"))).deleted, false);
    const first = await st.put(b("/idem"), b("a"), { requestId: "req-1" });
    const retry = await st.put(b("/idem"), b("b"), { requestId: "req-1" });
    assert.equal(retry.version, first.version, "a retried request id applies once");
    assert.equal(s((await st.get(b("/idem")))?.value), "a");
    for (let i = 0; i < 5; i++) await st.put(b(`/s/${i}`), b(`${i}`));
    const keys: string[] = [];
    for await (
      const chunk of st.scan(b("/s/"), b("/s0"), { reverse: true, limit: 4, chunkSize: 3 })
    ) {
      for (const kv of chunk) keys.push(s(kv.key)!);
    }
    assert.deepEqual(keys, ["/s/4", "/s/3", "/s/2", "/s/1"]);
    await waitFor(
      () => st.nodes().some((n) => n.clientAddress === "node-1:client"),
      3000,
      "record",
    );
    assert.equal(st.replicationFactor(), 3);
    assert.ok(st.isReady());
    assert.equal(st.leaderNodeId(), 1);
    assert.equal(st.ranges()[0].voters.length, 1);
  } finally {
    await c.close();
  }
});

Deno.test("Store.transferLeadershipAway() hands range 1 to another voter", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    const leader = await c.waitForLeader();
    await leader.put(b("/t"), b("1"));
    await leader.transferLeadershipAway(2000);
    assert.equal(leader.firstRange()!.isLeader, false);
    const next = await c.waitForLeader();
    assert.notEqual(next.nodeId, leader.nodeId);
    assert.equal(s((await next.get(b("/t")))?.value), "1");
  } finally {
    await c.close();
  }
});

Deno.test("Store keeps a single-node cluster writable after it idles past the oracle's reservation", async () => {
  const c = await TestCluster.create(1);
  try {
    await c.startAll();
    const st = await c.waitForLeader();
    await st.put(b("/idle"), b("0"));
    // No heartbeats and no writes: the only thing that renews the reservation is the tick.
    await new Promise((r) => setTimeout(r, TSO_RESERVE_MS + 1_000));
    const started = Date.now();
    await st.put(b("/idle"), b("1"), { deadline: Date.now() + 2_000 });
    assert.ok(Date.now() - started < 2_000);
    assert.equal(s((await st.get(b("/idle")))?.value), "1");
  } finally {
    await c.close();
  }
});
