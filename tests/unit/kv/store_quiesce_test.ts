import assert from "node:assert/strict";
import { MessageType } from "../../../src/raft/mod.ts";
import { b, keyIn, s, sleep, type TestCluster, waitFor } from "./_cluster.ts";
import {
  awake,
  delta,
  formRanges,
  leaderless,
  leaderStore,
  multiLed,
  totals,
  waitQuiesced,
} from "./_many_ranges.ts";

const RANGES = 1000;

/** Ranges led by the store that leads range 1 (only it has a timestamp oracle for writes). */
function rangesLedWithOracle(c: TestCluster, ranges: number): number[] {
  const oracle = leaderStore(c, 1)!;
  const out = [];
  for (let id = 2; id <= ranges; id++) if (leaderStore(c, id) === oracle) out.push(id);
  return out;
}

Deno.test("Store with 1,000 idle ranges", async (t) => {
  const c = await formRanges(RANGES);
  try {
    const leader = await c.waitForLeader();
    await t.step(
      "RaftScheduler quiesces every range once writes stop: ticks and turns stop",
      async () => {
        const ids = rangesLedWithOracle(c, RANGES).slice(0, 20);
        for (const id of ids) await leader.put(keyIn(id), b(`v${id}`));
        const writesDone = Date.now();
        await waitQuiesced(c, 5000);
        const quiescedAfterMs = Date.now() - writesDone;
        const before = totals(c);
        await sleep(1000);
        const idle = delta(before, totals(c));
        console.log({ quiescedAfterMs, idle });
        // 3 stores tick every 20 ms: ~150 tick timer firings in a second, which reach (almost) no
        // replica. Awake, the 3,000 replicas would take ~150,000 ticks. Range 1 wakes for the
        // oracle's reservation every ~2 s, which costs a few ticks and turns.
        assert.ok(idle.ticks >= 100, `ticks ${idle.ticks}`);
        assert.ok(idle.replicaTicks <= 100, `replica ticks ${idle.replicaTicks}`);
        assert.ok(idle.replicasInTurns <= 200, `replicas in turns ${idle.replicasInTurns}`);
        assert.ok(idle.leaderQuiesces <= 3, `quiesces ${idle.leaderQuiesces}`);
        for (const id of ids) assert.equal(s((await leader.get(keyIn(id)))?.value), `v${id}`);
      },
    );
    await t.step(
      "Store serves a write and linearizable reads of a quiesced range, on its leader and a follower",
      async () => {
        const id = rangesLedWithOracle(c, RANGES)[0];
        const follower = [...c.stores.values()].find((st) => st !== leader)!;
        const rangeQuiesced = () =>
          [...c.stores.values()].every((st) => st.replicas.get(id)!.quiesced);
        await waitFor(rangeQuiesced, 5000, "the range quiesced");
        // Deadlines well below the 5 s default: a quiesced range must answer without waiting for
        // an election or a liveness timeout.
        const soon = () => ({ deadline: Date.now() + 2000 });
        let start = Date.now();
        const put = await leader.put(keyIn(id), b("x"), soon());
        const putMs = Date.now() - start;
        await waitFor(rangeQuiesced, 5000, "the range quiesced after the write");
        start = Date.now();
        const fromFollower = await follower.get(keyIn(id), soon());
        const followerReadMs = Date.now() - start;
        await waitFor(rangeQuiesced, 5000, "the range quiesced after the follower read");
        start = Date.now();
        const fromLeader = await leader.get(keyIn(id), soon());
        const leaderReadMs = Date.now() - start;
        console.log({ putMs, followerReadMs, leaderReadMs });
        assert.equal(fromFollower?.version, put.version);
        assert.equal(s(fromFollower?.value), "x");
        assert.equal(fromLeader?.version, put.version);
      },
    );
  } finally {
    await c.close();
  }
});

Deno.test("Store elects new leaders for every range of a stopped node once its liveness lapses", async () => {
  const c = await formRanges(RANGES);
  try {
    await waitQuiesced(c);
    const led = RANGES - leaderless(c, RANGES, [c.stores.get(1)!, c.stores.get(3)!]).length;
    assert.ok(led < RANGES * 0.7, `node 2 leads about a third of the ranges (others lead ${led})`);
    const before = totals(c);
    const start = Date.now();
    await c.stop(2);
    const rest = [c.stores.get(1)!, c.stores.get(3)!];
    await waitFor(() => leaderless(c, RANGES, rest).length === 0, 30_000, "a leader everywhere");
    const woken = delta(before, totals(c, rest)).orphansWoken;
    console.log({ electedAfterMs: Date.now() - start, woken });
    // Node 2's followers on nodes 1 and 3 were woken by liveness, not by any message of node 2.
    assert.ok(woken >= (RANGES - led) * 2 * 0.9, `orphans woken ${woken}`);
    assert.deepEqual(multiLed(c, RANGES), []);
  } finally {
    await c.close();
  }
});

Deno.test("Store elects a leader for every range after a quick restart of a leader node", async () => {
  const c = await formRanges(RANGES);
  try {
    await waitQuiesced(c);
    const before = totals(c);
    const start = Date.now();
    await c.stop(2);
    await c.start(2);
    const restartMs = Date.now() - start;
    // The restarted node's replicas forgot they led; their peers, quiesced in the lease of the
    // old leader, must still grant votes once woken by a pre-vote and an election timeout.
    await waitFor(() => leaderless(c, RANGES).length === 0, 30_000, "a leader everywhere");
    const after = totals(c, [c.stores.get(1)!, c.stores.get(3)!]);
    console.log({
      restartMs,
      electedAfterMs: Date.now() - start,
      orphansWoken: after.orphansWoken - before.orphansWoken,
    });
    await waitFor(() => multiLed(c, RANGES).length === 0, 5000, "one leader per range");
    await waitQuiesced(c, 20_000);
  } finally {
    await c.close();
  }
});

Deno.test("Store re-elects after a dropped-link partition of a leader node, and converges once healed", async () => {
  const c = await formRanges(RANGES);
  try {
    await waitQuiesced(c);
    const start = Date.now();
    c.net.isolate(2, [1, 3]);
    const rest = [c.stores.get(1)!, c.stores.get(3)!];
    await waitFor(() => leaderless(c, RANGES, rest).length === 0, 30_000, "leaders on 1 and 3");
    const electedAfterMs = Date.now() - start;
    c.net.heal();
    // Node 2's old leaders were quiesced: they learn the new terms from the new leaders.
    await waitFor(() => multiLed(c, RANGES).length === 0, 20_000, "one leader per range");
    const convergedAfterMs = Date.now() - start;
    assert.deepEqual(leaderless(c, RANGES), []);
    await waitQuiesced(c, 20_000);
    console.log({ electedAfterMs, convergedAfterMs, quiescedAfterMs: Date.now() - start });
  } finally {
    await c.close();
  }
});

Deno.test("RaftScheduler never quiesces a range while a follower is behind", async () => {
  const ranges = 4;
  const c = await formRanges(ranges);
  try {
    const leader = await c.waitForLeader();
    const id = rangesLedWithOracle(c, ranges)[0];
    const lagging = [...c.stores.values()].find((st) => st !== leader)!;
    await waitQuiesced(c);
    // The lagging node gets no appends (of any range) but hears from every node: it stays live.
    c.net.drop = (_from, to, m) => to === lagging.nodeId && m.type === MessageType.App;
    await leader.put(keyIn(id), b("x"));
    const r = leader.replicas.get(id)!;
    const behind = lagging.replicas.get(id)!;
    const last = () => r.raw.basicStatus().lastIndex;
    for (let i = 0; i < 50; i++) {
      await sleep(20);
      assert.ok(leader.scheduler.liveness.isLive(lagging.nodeId), "the follower's node is live");
      assert.ok(behind.raw.basicStatus().lastIndex < last(), "the follower is behind");
      assert.equal(r.quiesced, false, "the leader does not quiesce with a follower behind");
    }
    c.net.drop = undefined;
    await waitFor(() => r.quiesced, 5000, "the leader quiesced once the follower caught up");
    assert.equal(behind.raw.basicStatus().lastIndex, last());
    await waitFor(() => behind.quiesced, 5000, "the follower quiesced");
    assert.equal(s((await lagging.get(keyIn(id), { serializable: true }))?.value), "x");
  } finally {
    await c.close();
  }
});

Deno.test("RaftScheduler stops driving a replica removed from the store, and drives one added", async () => {
  const c = await formRanges(4);
  try {
    await waitQuiesced(c);
    const st = c.stores.get(3)!;
    const replica = st.replicas.get(4)!;
    st.replicas.delete(4);
    let ran = false;
    replica.enqueueTick();
    replica.enqueueEvent(() => ran = true);
    await sleep(100);
    assert.equal(ran, false, "a removed replica is not driven");
    // Not counted awake (range 1's timestamp renewals wake its replicas for a few ticks now and
    // then; a removed replica counted awake would never quiesce, so the count would stay above 0).
    await waitFor(() => st.scheduler.awakeCount === 0, 3_000, "no replica awake");
    // Added back (as a split adds a replica): awake, ticking, and once its election timeout
    // passes its pre-vote wakes the quiesced leader, which quiesces it again.
    st.replicas.set(4, replica);
    assert.equal(st.scheduler.awakeCount, 1);
    await waitFor(() => ran, 1000, "the queued event ran");
    await waitFor(() => replica.quiesced, 5000, "the replica quiesced again");
    assert.ok(st.scheduler.counters.replicaTicks > 0);
  } finally {
    await c.close();
  }
});

Deno.test("RaftScheduler sends every peer a batch each tick, an empty one when nothing else went", async () => {
  const c = await formRanges(2);
  try {
    await waitQuiesced(c);
    const batches = new Map<string, number>();
    const net = c.net;
    const st1 = c.stores.get(1)!;
    const handler = net.handlers.get(2)!;
    net.handlers.set(2, {
      receive: (from, messages) => {
        const k = `${from}>2 ${messages.length === 0 ? "empty" : "full"}`;
        batches.set(k, (batches.get(k) ?? 0) + 1);
        handler.receive(from, messages);
      },
      receiveSnapshot: (snap) => handler.receiveSnapshot(snap),
      reportUnreachable: (id) => handler.reportUnreachable(id),
    });
    const ticks = st1.scheduler.counters.ticks;
    await sleep(500);
    const elapsed = st1.scheduler.counters.ticks - ticks;
    console.log({ elapsed, batches: Object.fromEntries(batches) });
    // Range 1's leader (node 1) also sends turns' batches now and then (its oracle's renewals);
    // node 3 leads nothing. Give or take the ticks in flight at both ends of the window.
    for (const from of [1, 3]) {
      const empty = batches.get(`${from}>2 empty`) ?? 0;
      const full = batches.get(`${from}>2 full`) ?? 0;
      assert.ok(empty + full >= elapsed - 2, `${from}: ${empty} + ${full} in ${elapsed} ticks`);
      assert.ok(empty <= elapsed + 2 && empty >= elapsed - full - 2, `${from}: ${empty} empty`);
    }
    assert.ok(st1.scheduler.liveness.isLive(2) && st1.scheduler.liveness.isLive(3));
    assert.deepEqual([...st1.scheduler.liveness.peers()].sort(), [2, 3]);
    // Every range quiesces again between range 1's timestamp renewals: ranges woken by the
    // liveness batches would tick on.
    await waitFor(() => awake(c) === 0, 3_000, "liveness batches wake no range");
  } finally {
    await c.close();
  }
});
