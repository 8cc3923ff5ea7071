import assert from "node:assert/strict";
import { connect, type RangeDbClient } from "../../src/client/mod.ts";
import { type TestCluster, withCluster } from "../harness/cluster.ts";
import { Admin, withNodeGrpc } from "../harness/cluster_grpc.ts";
import {
  eventually,
  forEachConcurrently,
  keyOf,
  missingFrom,
  scanPrefix,
  valueOf,
} from "../harness/cluster_workload.ts";

const WRITERS = 8;
/** The issue's bound for service to resume after the leader dies (a few 1 s election timeouts). */
const RESUME_BOUND_MS = 5_000;
/** Acks within this time after the kill may have been in flight before it. */
const IN_FLIGHT_MS = 300;
/** More raft entries than the log-truncation threshold (10,000), so a joiner needs a snapshot. */
const ENTRIES_BEFORE_JOIN = 10_500;

async function writeKeys(
  db: RangeDbClient,
  prefix: string,
  count: number,
  concurrency: number,
): Promise<Map<string, string>> {
  const written = new Map<string, string>();
  const keys = Array.from({ length: count }, (_, i) => keyOf(prefix, i));
  await forEachConcurrently(keys, concurrency, async (key) => {
    await db.put(key, valueOf(key));
    written.set(key, valueOf(key));
  });
  return written;
}

async function expectOnEveryNode(
  cluster: TestCluster,
  prefix: string,
  expected: ReadonlyMap<string, string>,
): Promise<void> {
  for (const i of cluster.runningIndexes()) {
    const one = await connect({ endpoints: [cluster.nodes[i].client], timeoutMs: 15_000 });
    try {
      assert.deepEqual(missingFrom(expected, await scanPrefix(one, prefix)), [], `node ${i}`);
      await eventually(
        `${prefix} on node ${i} (serializable)`,
        30_000,
        async () => missingFrom(expected, await scanPrefix(one, prefix, true)),
      );
    } finally {
      one.close();
    }
  }
}

Deno.test("TestCluster.kill() of the leader during writes loses no acknowledged write", async () => {
  await withCluster({ nodes: 3, timeoutMs: 150_000 }, async (cluster, signal) => {
    await cluster.waitAllReady();
    const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 10_000 });
    const acked = new Map<string, string>();
    const ackTimes: number[] = [];
    let failed = 0;
    let writing = true;
    const writer = async (w: number) => {
      for (let seq = 0; writing && !signal.aborted; seq++) {
        const key = keyOf(`kill/w${w}`, seq);
        try {
          await db.put(key, valueOf(key));
          acked.set(key, valueOf(key));
          ackTimes.push(Date.now());
        } catch {
          // Outcome unknown: may or may not be applied, so it is never checked either way.
          failed++;
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    try {
      await eventually(
        "200 acknowledged writes before the kill",
        30_000,
        () => Promise.resolve(acked.size >= 200 ? [] : [`${acked.size} acknowledged`]),
      );
      const leader = await cluster.leaderIndex();
      const killedAt = Date.now();
      await cluster.kill(leader, "SIGKILL");

      const newLeader = await cluster.leaderIndex(15_000);
      assert.notEqual(newLeader, leader);
      await eventually("a write acknowledged after the kill", 20_000, () =>
        Promise.resolve(
          ackTimes.some((t) => t > killedAt + IN_FLIGHT_MS) ? [] : ["no ack since the kill"],
        ));
      const resumedMs = ackTimes.find((t) => t > killedAt + IN_FLIGHT_MS)! - killedAt;
      assert.ok(
        resumedMs <= RESUME_BOUND_MS,
        `writes resumed ${resumedMs} ms after the leader was killed (bound ${RESUME_BOUND_MS} ms)`,
      );
      const ackedAtResume = acked.size;
      await eventually(
        "100 more acknowledged writes",
        30_000,
        () =>
          Promise.resolve(acked.size >= ackedAtResume + 100 ? [] : [`${acked.size} acknowledged`]),
      );
    } finally {
      writing = false;
      await Promise.all(writers);
    }
    try {
      for (let w = 0; w < WRITERS; w++) {
        const mine = new Map([...acked].filter(([k]) => k.startsWith(`/kill/w${w}/`)));
        assert.deepEqual(missingFrom(mine, await scanPrefix(db, `kill/w${w}`)), [], `writer ${w}`);
      }
    } finally {
      db.close();
    }
    console.log(`acknowledged ${acked.size} writes, ${failed} with unknown outcome`);

    // The killed node comes back and catches up.
    const killed = cluster.nodes.map((n) => n.index).find((i) => !cluster.isRunning(i))!;
    await cluster.restart(killed);
    await expectOnEveryNode(cluster, "kill", acked);
  });
});

Deno.test("TestCluster.kill() of every node with -9 and a restart keep all data", async () => {
  await withCluster({ nodes: 3, timeoutMs: 150_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 15_000 });
    let expected: Map<string, string>;
    try {
      expected = await writeKeys(db, "crash", 2_000, 32);
      const batch = db.batch();
      for (let i = 2_000; i < 2_100; i++) batch.put(keyOf("crash", i), valueOf(keyOf("crash", i)));
      await batch.commit();
      for (let i = 2_000; i < 2_100; i++) {
        expected.set(keyOf("crash", i), valueOf(keyOf("crash", i)));
      }
      assert.equal(await db.delete(keyOf("crash", 0)), true);
      expected.delete(keyOf("crash", 0));
    } finally {
      db.close();
    }

    await Promise.all(cluster.nodes.map((n) => cluster.kill(n.index, "SIGKILL")));
    assert.deepEqual(cluster.runningIndexes(), []);
    await Promise.all(cluster.nodes.map((n) => cluster.startNode(n.index)));
    await cluster.waitAllReady(60_000);
    await cluster.leaderIndex();

    await expectOnEveryNode(cluster, "crash", expected);
    const again = await connect({ endpoints: cluster.clientAddresses() });
    try {
      assert.equal(await again.get(keyOf("crash", 0)), null, "the delete survived too");
      await again.put("/crash/after", "restart");
      assert.equal(await again.getText("/crash/after"), "restart");
    } finally {
      again.close();
    }
  });
});

Deno.test("TestCluster.join() adds a 4th node that catches up by snapshot and becomes a voter", async () => {
  await withCluster({ nodes: 3, timeoutMs: 240_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 15_000 });
    let expected: Map<string, string>;
    try {
      // One put is one raft entry: enough of them that the log is truncated before the join.
      expected = await writeKeys(db, "join", ENTRIES_BEFORE_JOIN, 64);
    } finally {
      db.close();
    }

    const fourth = await cluster.join();
    assert.equal(fourth, 3);
    const name = cluster.nodes[fourth].name;
    const one = await connect({ endpoints: [cluster.nodes[fourth].client], timeoutMs: 15_000 });
    try {
      await eventually(
        "every key on the joined node (serializable)",
        90_000,
        async () => missingFrom(expected, await scanPrefix(one, "join", true)),
      );
      assert.deepEqual(missingFrom(expected, await scanPrefix(one, "join")), []);
      // The log was truncated past the join point, so only a snapshot can have brought the keys.
      assert.match(cluster.stderrOf(fourth), /"msg":"installing snapshot"/);
      await one.put("/join/after", "joined");
      // Linearizable: a serializable read on this learner may not have applied the put yet.
      assert.equal(await one.getText("/join/after"), "joined");
    } finally {
      one.close();
    }

    await eventually(`${name} listed as a voter on every node`, 60_000, async () => {
      const problems: string[] = [];
      for (const i of cluster.runningIndexes()) {
        const nodes = await withNodeGrpc(
          cluster.nodes[i].client,
          async (node) => (await node.unary(Admin.method.listNodes, {}, 5_000)).nodes,
        );
        const joined = nodes.find((n) => n.name === name);
        if (nodes.length !== 4 || joined?.role !== "voter") {
          problems.push(`node ${i}: ${nodes.map((n) => `${n.name}:${n.role}`).join(" ")}`);
        }
      }
      return problems;
    });
    const list = await cluster.cli(["admin", "node", "list"], {
      endpoints: [cluster.nodes[fourth].client],
    });
    assert.equal(list.code, 0, list.stderr);
    for (const n of cluster.nodes) assert.ok(list.stdout.includes(n.name), list.stdout);
  });
});
