/**
 * Durability under kill -9 and slow disks, beyond `cluster_faults_test.ts` (which kills the leader
 * during writes, and every node after quiet writes): a follower killed during writes, the leader
 * killed right after acknowledgements (checked on the surviving majority before it returns),
 * every node killed during a write stream, a single node killed during writes, and nodes whose
 * fsync takes 200 ms (`RANGEDB_TEST_SYNC_DELAY_MS`) as follower and as leader.
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect } from "../../src/client/mod.ts";
import { type TestCluster, withCluster } from "../harness/cluster.ts";
import { freePorts, getJson } from "../harness/cluster_support.ts";
import { KV, NodeGrpc } from "../harness/cluster_grpc.ts";
import { spawnServer } from "../harness/node_process.ts";
import { eventually, keyOf } from "../harness/cluster_workload.ts";
import {
  expectHistoriesOnEveryNode,
  expectMemberServes,
  rangeLeader,
  WriteHistory,
} from "./_durability_support.ts";

const WRITERS = 8;
const SLOW_SYNC_MS = 200;

/** A follower of range 1, other than `not`. */
async function aFollower(cluster: TestCluster, not = -1): Promise<number> {
  const leader = await cluster.leaderIndex();
  return cluster.runningIndexes().find((i) => i !== leader && i !== not)!;
}

Deno.test("TestCluster.kill() -9 of a follower during writes, then of the leader right after acknowledgements, loses nothing", async () => {
  await withCluster({ nodes: 3, timeoutMs: 120_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const streamed = new WriteHistory("dur-minority");
    const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 10_000 });
    try {
      const follower = await aFollower(cluster);
      const stream = streamed.stream(db, WRITERS);
      try {
        await stream.moreAcked(100);
        await cluster.kill(follower, "SIGKILL");
        await stream.moreAcked(200);
        await cluster.startNode(follower);
        await cluster.waitReady(follower);
        await stream.moreAcked(100);
      } finally {
        await stream.stop();
      }
      await expectHistoriesOnEveryNode(cluster, [streamed]);

      // The leader dies the moment its last write is acknowledged: the survivors hold them all.
      const burst = new WriteHistory("dur-leader");
      const leader = await cluster.leaderIndex();
      await burst.putMany(db, 500, 32);
      await cluster.kill(leader, "SIGKILL");
      await cluster.leaderIndex(15_000);
      await expectHistoriesOnEveryNode(cluster, [streamed, burst]);
      await cluster.startNode(leader);
      await expectMemberServes(cluster, leader);
      await expectHistoriesOnEveryNode(cluster, [streamed, burst]);
      console.log(`${streamed.acked.size + burst.acked.size} acknowledged`);
    } finally {
      db.close();
    }
  });
});

Deno.test("TestCluster.kill() -9 of every node during a write stream loses nothing acknowledged", async () => {
  await withCluster({ nodes: 3, timeoutMs: 120_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const history = new WriteHistory("dur-all");
    const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 5_000 });
    try {
      // A short budget: the writes in flight at the kill fail fast (unknown outcome).
      const stream = history.stream(db, WRITERS, 2_000);
      try {
        await stream.moreAcked(300);
        await Promise.all(cluster.nodes.map((n) => cluster.kill(n.index, "SIGKILL")));
      } finally {
        await stream.stop();
      }
    } finally {
      db.close();
    }
    const beforeRestart = history.acked.size;
    await Promise.all(cluster.nodes.map((n) => cluster.startNode(n.index)));
    await cluster.waitAllReady();
    await expectHistoriesOnEveryNode(cluster, [history]);
    console.log(`${beforeRestart} acknowledged, ${history.unknown.size} unknown`);
  });
});

Deno.test("TestCluster.kill() -9 of a single-node cluster during a write stream loses nothing acknowledged", async () => {
  await withCluster({ nodes: 1, timeoutMs: 60_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const history = new WriteHistory("dur-single");
    const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 5_000 });
    try {
      for (let round = 0; round < 2; round++) {
        // A short budget: the writes in flight at the kill fail fast (unknown outcome).
        const stream = history.stream(db, WRITERS, 2_000);
        try {
          await stream.moreAcked(300);
          await cluster.kill(0, "SIGKILL");
        } finally {
          await stream.stop();
        }
        await cluster.startNode(0);
        await cluster.waitReady(0);
        await expectHistoriesOnEveryNode(cluster, [history]);
      }
    } finally {
      db.close();
    }
    console.log(`${history.acked.size} acknowledged, ${history.unknown.size} unknown`);
  });
});

/** Mean duration of node `i`'s synced batch writes, from its /metrics (seconds). */
async function meanSyncedWriteSeconds(cluster: TestCluster, i: number): Promise<number> {
  const res = await getJson(`${cluster.nodes[i].adminUrl}/metrics`);
  const text = String(res.body);
  const value = (name: string) => {
    const m = new RegExp(`^${name}\\{[^}]*sync="true"[^}]*\\} (\\S+)$`, "m").exec(text);
    assert.ok(m !== null, `node ${i} exports ${name}`);
    return Number(m[1]);
  };
  return value("rangedb_storage_batch_write_seconds_sum") /
    value("rangedb_storage_batch_write_seconds_count");
}

Deno.test("LmdbEngine.write() slowed by RANGEDB_TEST_SYNC_DELAY_MS on a follower, then on the leader: every acknowledged write commits", async () => {
  await withCluster({ nodes: 3, timeoutMs: 120_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const history = new WriteHistory("dur-slow");
    const slow = await aFollower(cluster);
    await cluster.kill(slow, "SIGTERM");
    await cluster.startNode(slow, { env: { RANGEDB_TEST_SYNC_DELAY_MS: String(SLOW_SYNC_MS) } });
    await cluster.waitReady(slow);
    const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 10_000 });
    try {
      // A slow follower: the leader and the other follower form the quorum and keep going.
      let stream = history.stream(db, WRITERS);
      try {
        await stream.moreAcked(300, 20_000);
      } finally {
        await stream.stop();
      }
      await expectHistoriesOnEveryNode(cluster, [history]);
      const followerMean = await meanSyncedWriteSeconds(cluster, slow);
      assert.ok(followerMean >= SLOW_SYNC_MS / 1000, `mean synced write ${followerMean} s`);

      // A slow leader: kill the fast follower, commit more with the leader and the slow node,
      // kill the leader and restart the fast follower: only the slow node can win the election
      // of the range the history writes to (range 1's may go either way).
      const key = keyOf(history.prefix, 0);
      const { index: leader } = await rangeLeader(cluster, db, key);
      assert.notEqual(leader, slow, "a node restarted by SIGTERM hands its leaderships over");
      const fast = cluster.nodes.map((n) => n.index).find((i) => i !== slow && i !== leader)!;
      stream = history.stream(db, WRITERS);
      try {
        await cluster.kill(fast, "SIGKILL");
        await stream.moreAcked(30);
        await cluster.kill(leader, "SIGKILL");
        await cluster.startNode(fast);
        assert.equal((await rangeLeader(cluster, db, key)).index, slow, "the slow node leads");
        await cluster.startNode(leader);
        await cluster.waitAllReady();
        // Each write waits for at least one of the leader's 200 ms fsyncs: ~10-20 writes/s.
        await stream.moreAcked(100, 30_000);
        const still = (await rangeLeader(cluster, db, key)).index;
        assert.equal(still, slow, "the slow node still leads");
      } finally {
        await stream.stop();
      }
      await expectHistoriesOnEveryNode(cluster, [history]);
      assert.ok((await meanSyncedWriteSeconds(cluster, slow)) >= SLOW_SYNC_MS / 1000);
    } finally {
      db.close();
    }
    console.log(`${history.acked.size} acknowledged, ${history.unknown.size} unknown`);
  });
});

Deno.test("addKvService() answers UNAVAILABLE on a node still opening its store, and the node keeps starting", async () => {
  // A slow disk holds a new node in its first synced writes, before its store is open; its
  // client port already listens. Before the fix, the error path asked the unopened store for the
  // leader, threw outside the call's handler and ended the process.
  const root = await Deno.makeTempDir({ prefix: "rangedb-starting-" });
  const [peer, client, admin] = freePorts(3, new Set());
  const proc = spawnServer([
    "--cluster-init",
    `--data-dir=${root}/data`,
    `--peer-address=127.0.0.1:${peer}`,
    `--client-address=127.0.0.1:${client}`,
    `--admin-address=127.0.0.1:${admin}`,
  ], { env: { RANGEDB_TEST_SYNC_DELAY_MS: "3000" } });
  const node = new NodeGrpc(`127.0.0.1:${client}`);
  try {
    let starting = 0;
    await eventually("a KV answer from the starting node", 20_000, async () => {
      try {
        const key = new TextEncoder().encode("/k");
        await node.unary(KV.method.get, { key, serializable: true }, 2_000);
        return [];
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (/still starting/.test(message)) starting++;
        return proc.exited() ? [] : [message];
      }
    });
    assert.equal(proc.exited(), false, `the node died:\n${proc.stderr()}`);
    assert.ok(starting > 0, "no request reached the node before its store was open");
    await proc.waitForBanner(20_000);
  } finally {
    node.close();
    await proc.stop("SIGTERM");
    await Deno.remove(root, { recursive: true });
  }
});
