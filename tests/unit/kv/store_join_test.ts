import assert from "node:assert/strict";
import { b, s, TestCluster, waitFor } from "./_cluster.ts";

Deno.test("Store.join() adds a 4th store that catches up by snapshot after log truncation and becomes a voter", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    await c.waitForLeader();
    for (let round = 0; round < 12; round++) {
      await Promise.all(
        Array.from(
          { length: 1000 },
          (_, i) => c.put(b(`/j/${round}/${i}`), b(`${round}.${i}`)),
        ),
      );
    }
    const r1 = (await c.waitForLeader()).firstRange()!;
    assert.ok(r1.storage.firstIndex() > 2, "the log was truncated");
    const joiner = await c.start(4);
    const joined = await c.onLeader((leader) =>
      leader.join({
        name: "node-4",
        peerAddress: "node-4:peer",
        clientAddress: "node-4:client",
        adminAddress: "node-4:admin",
        incarnation: "inc-4",
      })
    );
    assert.equal(joined.nodeId, 4);
    assert.equal(joined.clusterId, "test");
    await waitFor(
      async () =>
        s(
          (await joiner.get(b("/j/11/999"), { serializable: true }).catch(() => undefined))?.value,
        ) ===
          "11.999",
      10_000,
      "the joiner to catch up",
    );
    assert.ok(c.net.snapshotsSent >= 1, "caught up by snapshot");
    await waitFor(
      () => c.leader()?.nodes().find((n) => n.nodeId === 4)?.role === "voter",
      10_000,
      "promotion",
    );
    const again = await c.onLeader((leader) =>
      leader.join({
        name: "node-4",
        peerAddress: "node-4:peer",
        clientAddress: "node-4:client",
        adminAddress: "node-4:admin",
        incarnation: "inc-4",
      })
    );
    assert.equal(again.nodeId, 4, "join is idempotent by name");
    await c.put(b("/after-join"), b("1"));
    assert.equal(s((await joiner.get(b("/after-join")))?.value), "1");
    const names = (await c.waitForLeader()).nodes().map((n) => n.name);
    assert.deepEqual(names, ["node-1", "node-2", "node-3", "node-4"]);
  } finally {
    await c.close();
  }
});
