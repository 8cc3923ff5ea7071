/**
 * Startup after a crash at every point of the write path (src/storage/crash_points.ts): a node is
 * started with `RANGEDB_TEST_CRASH_POINT`, must kill itself there while acknowledged writes
 * stream, and must then restart without manual repair, catch up and serve, with every
 * acknowledged write on every node.
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect } from "../../src/client/mod.ts";
import { CRASH_FLUSH_MS, CRASH_POINTS } from "../../src/storage/crash_points.ts";
import { type TestCluster, withCluster } from "../harness/cluster.ts";
import { keyOf } from "../harness/cluster_workload.ts";
import { runCli } from "../harness/node_process.ts";
import {
  expectCrash,
  expectHistoriesOnEveryNode,
  expectMemberServes,
  lastProcessStderr,
  rangeLeader,
  startArmed,
  WriteHistory,
  type WriteStream,
} from "./_durability_support.ts";

const WRITERS = 8;
/** More raft entries than the log-truncation threshold (10,000), so a lagging follower needs a snapshot. */
const ENTRIES_PAST_TRUNCATION = 10_500;

/**
 * One step: node `i` restarts with `setting` armed while `history` streams writes, dies at
 * `point`, restarts unarmed, and serves again with every acknowledged write everywhere.
 */
async function crashAndRecover(
  cluster: TestCluster,
  i: number,
  setting: string,
  point: string,
  history: WriteHistory,
): Promise<void> {
  const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 10_000 });
  const stream = history.stream(db, WRITERS);
  try {
    await stream.moreAcked(50);
    if (cluster.isRunning(i)) await cluster.kill(i, "SIGTERM");
    await startArmed(cluster, i, setting);
    await expectCrash(cluster, i, point);
    await stream.moreAcked(50);
    await cluster.startNode(i);
    await cluster.waitReady(i);
    await stream.moreAcked(50);
  } finally {
    await stream.stop();
    db.close();
  }
  await expectMemberServes(cluster, i);
  await expectHistoriesOnEveryNode(cluster, [history]);
}

/**
 * Checks that the crashed turn had answered writes (the crash line counts the writes the turn
 * answered before its write) and that clients received answers while it waited: before-write
 * points answer the writes applied in the turn, let them leave the process for
 * {@linkcode CRASH_FLUSH_MS} while nothing runs another turn, then crash. Those writes are then
 * acknowledged and not yet durable on the crashed node, and the later checks find them.
 */
function expectAnsweredBeforeCrash(
  history: WriteHistory,
  crash: { at: number; answered: number },
): void {
  assert.ok(crash.answered > 0, "the turn that crashed before its write answered no write");
  const acked = history.ackedBetween(crash.at - CRASH_FLUSH_MS - 50, crash.at + 20);
  assert.ok(acked > 0, "no write was acknowledged while the crashing turn waited");
}

/** A follower of range 1, other than `not`. */
async function aFollower(cluster: TestCluster, not = -1): Promise<number> {
  const leader = await cluster.leaderIndex();
  return cluster.runningIndexes().find((i) => i !== leader && i !== not)!;
}

Deno.test("crashPoint() log-append and hard-state on a follower: it restarts and catches up", async () => {
  await withCluster({ nodes: 3, timeoutMs: 120_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const history = new WriteHistory("cp-follower-log");
    const first = await aFollower(cluster);
    const second = await aFollower(cluster, first);
    const steps: [number, string][] = [
      [first, "log-append:before-write"],
      [second, "log-append:after-write"],
      [first, "hard-state:before-write"],
      [second, "hard-state:after-write"],
    ];
    for (const [i, point] of steps) {
      // Past the passes of the restart's own catch-up, into the streamed writes.
      await crashAndRecover(cluster, i, `follower/${point}@20`, point, history);
    }
    console.log(`${history.acked.size} acknowledged, ${history.unknown.size} unknown`);
  });
});

Deno.test("crashPoint() apply on a follower: it restarts and catches up", async () => {
  await withCluster({ nodes: 3, timeoutMs: 120_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const history = new WriteHistory("cp-follower-apply");
    const first = await aFollower(cluster);
    const second = await aFollower(cluster, first);
    await crashAndRecover(
      cluster,
      first,
      "follower/apply:before-write@20",
      "apply:before-write",
      history,
    );
    await crashAndRecover(
      cluster,
      second,
      "follower/apply:after-write@20",
      "apply:after-write",
      history,
    );
    console.log(`${history.acked.size} acknowledged, ${history.unknown.size} unknown`);
  });
});

/**
 * Makes node `x` the leader of the range that `history` writes to: the third node is killed
 * while writes commit on that range's leader and `x`, then the leader is killed and the third
 * node restarted, so `x` is the only running node whose log lets it win that range's election.
 * (Pausing the third node instead does not work: on resume it reads the appends the leader sent
 * before it died from its socket buffers.) The killed leader stays down, as it could win too;
 * restart it afterwards. Other ranges (range 1) may elect either running node meanwhile.
 *
 * @returns the index of the killed leader
 */
async function electInPlaceOfLeader(
  cluster: TestCluster,
  x: number,
  leader: number,
  stream: WriteStream,
): Promise<number> {
  assert.notEqual(leader, x);
  const third = cluster.nodes.map((n) => n.index).find((i) => i !== x && i !== leader)!;
  await cluster.kill(third, "SIGKILL");
  await stream.moreAcked(30);
  await cluster.kill(leader, "SIGKILL");
  await cluster.startNode(third);
  return leader;
}

Deno.test("crashPoint() on the leader: it restarts as a follower and nothing acknowledged is lost", async () => {
  await withCluster({ nodes: 3, timeoutMs: 120_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const history = new WriteHistory("cp-leader");
    // apply:before-write: the leader has answered the writes it applies in this turn, and none
    // of its own apply is durable. log-append:before-write: it has sent its appends early.
    // Each is armed for the range the history writes to, which x leads only once elected here;
    // apply counts 20 passes, past the first turns of a new leader (its empty entry, the old
    // term's tail) that answer no client write while the SDK finds the new leader.
    const steps = [
      ["leader/apply:before-write@20", "apply:before-write"],
      ["leader/log-append:before-write@4", "log-append:before-write"],
      ["leader/hard-state:after-write@4", "hard-state:after-write"],
    ];
    for (const [setting, point] of steps) {
      const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 10_000 });
      const stream = history.stream(db, WRITERS);
      const key = keyOf(history.prefix, 0);
      let x = -1;
      try {
        await stream.moreAcked(50);
        const before = await rangeLeader(cluster, db, key);
        x = cluster.runningIndexes().find((i) => i !== before.index)!;
        await cluster.kill(x, "SIGTERM");
        await startArmed(cluster, x, `range${before.rangeId}/${setting}`);
        await cluster.waitReady(x);
        const { index: leader } = await rangeLeader(cluster, db, key);
        const killed = await electInPlaceOfLeader(cluster, x, leader, stream);
        const crash = await expectCrash(cluster, x, point);
        assert.match(lastProcessStderr(cluster, x), /"msg":"became leader"/);
        if (point === "apply:before-write") expectAnsweredBeforeCrash(history, crash);
        await Promise.all([cluster.startNode(killed), cluster.startNode(x)]);
        await cluster.waitAllReady();
        await stream.moreAcked(50);
      } finally {
        await stream.stop();
        db.close();
      }
      await expectMemberServes(cluster, x);
      await expectHistoriesOnEveryNode(cluster, [history]);
    }
    console.log(`${history.acked.size} acknowledged, ${history.unknown.size} unknown`);
  });
});

Deno.test("crashPoint() snapshot-receive and snapshot-install on a lagging follower: it recovers from each", async () => {
  await withCluster({ nodes: 3, timeoutMs: 180_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const bulk = new WriteHistory("cp-snap-bulk");
    const history = new WriteHistory("cp-snap");
    const f = await aFollower(cluster);
    await cluster.kill(f, "SIGKILL");
    const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 15_000 });
    try {
      // One put is one raft entry: the leader truncates its log past what the follower has.
      await bulk.putMany(db, ENTRIES_PAST_TRUNCATION, 64);
      // Each crash leaves the follower lagging (nothing of an uninstalled snapshot is durable),
      // so the next start gets a snapshot again; the last crash is after a durable install.
      const steps = [
        ["snapshot-receive@2", "snapshot-receive"],
        ["snapshot-install:before-write", "snapshot-install:before-write"],
        ["snapshot-install:after-write", "snapshot-install:after-write"],
      ];
      for (const [setting, point] of steps) {
        const stream = history.stream(db, 4);
        try {
          await stream.moreAcked(20);
          await startArmed(cluster, f, setting);
          await expectCrash(cluster, f, point, 60_000);
          await stream.moreAcked(20);
        } finally {
          await stream.stop();
        }
        if (point !== "snapshot-receive") {
          assert.match(lastProcessStderr(cluster, f), /"msg":"installing snapshot"/);
        }
      }
      await cluster.startNode(f);
      await cluster.waitReady(f, 60_000);
      await history.putMany(db, 50, 8);
    } finally {
      db.close();
    }
    await expectMemberServes(cluster, f);
    await expectHistoriesOnEveryNode(cluster, [bulk, history], 60_000);
    // The install that crashed after its write was durable: the restart needed no new snapshot.
    assert.doesNotMatch(lastProcessStderr(cluster, f), /"msg":"installing snapshot"/);
  });
});

/** The scheduler points a lone node passes on its own (it never receives a snapshot). */
const SINGLE_NODE_POINTS = CRASH_POINTS.filter((p) => !p.startsWith("snapshot-"));

for (const points of [SINGLE_NODE_POINTS.slice(0, 3), SINGLE_NODE_POINTS.slice(3)]) {
  Deno.test(`crashPoint() ${points.join(", ")} on a single-node cluster: acknowledged writes survive`, async () => {
    await withCluster({ nodes: 1, timeoutMs: 90_000 }, async (cluster) => {
      await cluster.waitAllReady();
      const history = new WriteHistory("cp-single");
      for (const point of points) {
        // The node is everything: while it is down, writes fail (their outcome is unknown).
        const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 5_000 });
        const stream = history.stream(db, WRITERS);
        try {
          await stream.moreAcked(50);
          await cluster.kill(0, "SIGTERM");
          // Past the election's own entries (empty entry, timestamp reservation).
          await startArmed(cluster, 0, `${point}@6`);
          const crash = await expectCrash(cluster, 0, point);
          if (point === "apply:before-write") expectAnsweredBeforeCrash(history, crash);
          await cluster.startNode(0);
          await cluster.waitReady(0);
          await stream.moreAcked(50);
        } finally {
          await stream.stop();
          db.close();
        }
        await expectHistoriesOnEveryNode(cluster, [history]);
      }
      console.log(`${history.acked.size} acknowledged, ${history.unknown.size} unknown`);
    });
  });
}

Deno.test("startServer() refuses a misspelt RANGEDB_TEST_CRASH_POINT before writing anything", async () => {
  const root = await Deno.makeTempDir({ prefix: "rangedb-crash-env-" });
  try {
    for (
      const [name, value, message] of [
        [
          "RANGEDB_TEST_CRASH_POINT",
          "apply:befor-write",
          /names none: value is "apply:befor-write"/,
        ],
        ["RANGEDB_TEST_SYNC_DELAY_MS", "200ms", /is not a delay: value is "200ms"/],
      ] as const
    ) {
      // runCli fails the test when the server starts instead of refusing.
      const run = await runCli(
        [
          "server",
          "--cluster-init",
          `--data-dir=${root}/data`,
          "--peer-address=127.0.0.1:0",
          "--client-address=127.0.0.1:0",
          "--admin-address=127.0.0.1:0",
        ],
        20_000,
        { env: { [name]: value } },
      );
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, message);
      assert.match(run.stderr, /\(INVALID_ARGUMENT\)/);
      assert.equal(run.stdout, "");
    }
    assert.deepEqual([...Deno.readDirSync(root)], [], "no data directory was created");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
