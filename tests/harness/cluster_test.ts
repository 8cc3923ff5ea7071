import assert from "node:assert/strict";
import { TestCluster, withCluster } from "./cluster.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("TestCluster.start() runs a single-node cluster that kill, restart and stop manage", async () => {
  const cluster = await TestCluster.start({ nodes: 1, names: false });
  const root = cluster.nodes[0].dataDir.replace(/\/node-1$/, "");
  try {
    await cluster.check(async () => {
      await cluster.waitAllReady();
      const [node] = cluster.nodes;
      assert.equal(node.name, node.peer.replaceAll(/[.:]/g, "-"));
      assert.deepEqual(cluster.clientAddresses(), [node.client]);
      assert.ok(!cluster.flagsOf(0).some((f) => f.startsWith("--peers")));
      const info = await (await fetch(`${node.adminUrl}/api/v1/node`)).json();
      assert.equal(info.nodeId, 1);

      const exit = await cluster.kill(0);
      assert.equal(exit?.signal, "SIGKILL");
      assert.equal(cluster.isRunning(0), false);
      assert.equal(await cluster.kill(0), undefined);
      await assert.rejects(cluster.waitReady(0, 1_000), /node 0 as it is not running/);

      await cluster.restart(0);
      assert.equal(cluster.isRunning(0), true);
      const again = await (await fetch(`${node.adminUrl}/api/v1/node`)).json();
      assert.equal(again.clusterId, info.clusterId);
      assert.match(cluster.stderrOf(0), /--- process ended ---/);
    });
  } finally {
    await cluster.stop();
  }
  assert.equal(cluster.isRunning(0), false);
  assert.equal(await exists(root), false, "the temp data root is removed");
  await cluster.stop();
});

Deno.test("TestCluster.start() gives 3 nodes the same --peers list and distinct ports", async () => {
  const cluster = await TestCluster.start({ nodes: 3, start: "none" });
  try {
    const peers = cluster.nodes.map((n) => n.peer).join(",");
    for (const n of cluster.nodes) {
      const flags = cluster.flagsOf(n.index);
      assert.ok(flags.includes("--cluster-init"));
      assert.ok(flags.includes(`--peers=${peers}`));
      assert.ok(flags.includes(`--node-id=node-${n.index + 1}`));
    }
    const ports = cluster.nodes.flatMap((n) => [n.peer, n.client, n.admin]);
    assert.equal(new Set(ports).size, 9);
    assert.deepEqual(cluster.runningIndexes(), []);
  } finally {
    await cluster.stop();
  }
});

Deno.test("TestCluster.start() fails with the node's stderr and leaves no process when a node cannot start", async () => {
  const outcome = await TestCluster.start({
    nodes: 1,
    names: false,
    extraFlags: ["--no-such-flag"],
  }).then(async (cluster) => {
    await cluster.stop();
    return "started";
  }, (e: Error) => e.message);
  assert.match(outcome, /Cannot start 'rangedb server/);
  assert.match(outcome, /--- node 0 .*not running\) ---/);
  assert.match(outcome, /no-such-flag/);
});

Deno.test("withCluster() stops every node and appends their output when the body fails", async () => {
  let seen: TestCluster | undefined;
  await assert.rejects(
    withCluster({ nodes: 1, names: false }, async (cluster) => {
      seen = cluster;
      await cluster.waitAllReady();
      throw new Error("planted failure");
    }),
    (e: Error) => {
      assert.match(e.message, /planted failure/);
      assert.match(e.message, /--- node 0 .*running\) ---/);
      assert.match(e.message, /stderr:/);
      return true;
    },
  );
  assert.equal(seen?.isRunning(0), false);
});

Deno.test("withCluster() ends a body that runs over its time limit", async () => {
  const started = Date.now();
  await assert.rejects(
    withCluster({ nodes: 1, names: false, timeoutMs: 1_500 }, async (_cluster, signal) => {
      while (!signal.aborted) await new Promise((r) => setTimeout(r, 50));
    }),
    /ran over 1500 ms/,
  );
  assert.ok(Date.now() - started < 30_000);
});

Deno.test("TestCluster.leaderIndex() finds the only node of a single-node cluster", async () => {
  await withCluster({ nodes: 1, names: false, timeoutMs: 60_000 }, async (cluster) => {
    await cluster.waitAllReady();
    assert.equal(await cluster.leaderIndex(), 0);
    const view = await cluster.clusterView(0);
    assert.equal(view?.leaderNodeId, view?.selfNodeId);
  });
});
