import assert from "node:assert/strict";
import { connect } from "../../src/client/mod.ts";
import { type TestCluster, withCluster } from "../harness/cluster.ts";
import {
  eventually,
  keyOf,
  missingFrom,
  scanPrefix,
  valueOf,
} from "../harness/cluster_workload.ts";

const PERMUTATIONS = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];

async function readyNow(cluster: TestCluster, i: number): Promise<boolean> {
  const res = await fetch(`${cluster.nodes[i].adminUrl}/readyz`);
  await res.body?.cancel();
  return res.status === 200;
}

/** Waits until every running node lists every node as a voter and names the same leader. */
async function expectVoters(cluster: TestCluster, count: number): Promise<void> {
  await eventually(`${count} voters with one leader on every node`, 30_000, async () => {
    const problems: string[] = [];
    const leaders = new Set<number>();
    for (const i of cluster.runningIndexes()) {
      const view = await cluster.clusterView(i);
      if (view === undefined) {
        problems.push(`node ${i} describes no cluster`);
        continue;
      }
      leaders.add(view.leaderNodeId);
      const voters = view.nodes.filter((n) => n.role === "voter");
      if (voters.length !== count) {
        problems.push(`node ${i} lists ${voters.length} voters: ${JSON.stringify(view.nodes)}`);
      }
    }
    if (leaders.size !== 1 || leaders.has(0)) problems.push(`leaders seen: ${[...leaders]}`);
    return problems;
  });
}

Deno.test("TestCluster forms a 3-node cluster in every start order, ready once 2 are up", async (t) => {
  for (const order of PERMUTATIONS) {
    await t.step(`start order ${order.join(",")}`, async () => {
      await withCluster({ nodes: 3, start: "none", timeoutMs: 90_000 }, async (cluster) => {
        const [first, second, third] = order;
        await cluster.startNode(first);
        assert.equal(await readyNow(cluster, first), false, "one of three members is not ready");
        await cluster.startNode(second);
        await cluster.waitReady(first, 30_000);
        await cluster.waitReady(second, 30_000);
        const leader = await cluster.leaderIndex();
        assert.ok(leader === first || leader === second, `leader ${leader} is a started node`);

        await cluster.startNode(third);
        await cluster.waitReady(third, 30_000);
        await expectVoters(cluster, 3);

        const db = await connect({ endpoints: [cluster.nodes[third].client] });
        try {
          const key = `/formation/${order.join("")}`;
          await db.put(key, "formed");
          assert.equal(await db.getText(key), "formed");
        } finally {
          db.close();
        }
      });
    });
  }
});

Deno.test("TestCluster runs a single-node cluster from --cluster-init without --peers", async () => {
  await withCluster({ nodes: 1, names: false, timeoutMs: 60_000 }, async (cluster) => {
    assert.ok(!cluster.flagsOf(0).some((f) => f.startsWith("--peers")));
    assert.equal(await cluster.leaderIndex(), 0);
    const view = await cluster.clusterView(0);
    assert.equal(view?.nodes.length, 1);
    // Without --node-id the name derives from the peer address.
    assert.equal(view?.nodes[0].name, cluster.nodes[0].peer.replaceAll(/[.:]/g, "-"));
    assert.equal(view?.nodes[0].role, "voter");

    const db = await connect({ endpoints: cluster.clientAddresses() });
    try {
      await db.put("/single/a", "1");
      assert.equal(await db.getText("/single/a"), "1");
      assert.equal(await db.getText("/single/a", { serializable: true }), "1");
    } finally {
      db.close();
    }
    const got = await cluster.cli(["get", "/single/a"]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout.trim(), "1");
    // The README's first steps: a write after the node has idled (no heartbeats on one node)
    // past the timestamp oracle's 3 s reservation.
    await new Promise((r) => setTimeout(r, 4_000));
    const put = await cluster.cli(["put", "/single/b", "2"]);
    assert.equal(put.code, 0, put.stderr);

    // Restart with the same flags: same cluster, data there.
    const before = await (await fetch(`${cluster.nodes[0].adminUrl}/api/v1/node`)).json();
    const exit = await cluster.kill(0, "SIGTERM");
    assert.equal(exit?.code, 0);
    assert.equal(exit?.forced, false);
    await cluster.restart(0);
    const after = await (await fetch(`${cluster.nodes[0].adminUrl}/api/v1/node`)).json();
    assert.equal(after.clusterId, before.clusterId);
    const again = await connect({ endpoints: cluster.clientAddresses() });
    try {
      assert.equal(await again.getText("/single/a"), "1");
    } finally {
      again.close();
    }
  });
});

Deno.test("TestCluster.restart() with the same flags rejoins every node with its data", async () => {
  await withCluster({ nodes: 3, timeoutMs: 150_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const expected = new Map<string, string>();
    const db = await connect({ endpoints: cluster.clientAddresses() });
    try {
      for (let i = 0; i < 100; i++) {
        const key = keyOf("restart", i);
        await db.put(key, valueOf(key));
        expected.set(key, valueOf(key));
      }
    } finally {
      db.close();
    }
    const ids = await Promise.all(
      cluster.nodes.map(async (n) =>
        (await (await fetch(`${n.adminUrl}/api/v1/node`)).json()).nodeId
      ),
    );

    // A rolling restart: a follower, then the leader (graceful: leadership handed off).
    const leader = await cluster.leaderIndex();
    const follower = (leader + 1) % 3;
    for (const i of [follower, leader]) {
      const exit = await cluster.kill(i, "SIGTERM");
      assert.equal(exit?.code, 0, `node ${i} stops cleanly on SIGTERM`);
      assert.equal(exit?.forced, false, `node ${i} stops within the grace period`);
      if (i === leader) {
        // Graceful: the leader hands leadership to another voter before it stops.
        assert.match(cluster.stderrOf(i), /"msg":"transferring leadership"/);
      }
      await cluster.restart(i);
      await cluster.leaderIndex();
    }
    await cluster.waitAllReady();
    await expectVoters(cluster, 3);

    for (const n of cluster.nodes) {
      const info = await (await fetch(`${n.adminUrl}/api/v1/node`)).json();
      assert.equal(info.nodeId, ids[n.index], `node ${n.index} keeps its id`);
      const one = await connect({ endpoints: [n.client] });
      try {
        assert.deepEqual(missingFrom(expected, await scanPrefix(one, "restart")), []);
        await eventually(
          `every key on node ${n.index} (serializable)`,
          15_000,
          async () => missingFrom(expected, await scanPrefix(one, "restart", true)),
        );
      } finally {
        one.close();
      }
    }
  });
});
