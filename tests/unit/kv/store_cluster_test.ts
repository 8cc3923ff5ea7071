import assert from "node:assert/strict";
import { isRangeDbError } from "../../../src/base/errors.ts";
import { confStateOf, encodeAppliedState } from "../../../src/kv/command.ts";
import { MAX_TIMESTAMP } from "../../../src/base/key_encoding.ts";
import { systemKeys } from "../../../src/kv/keys.ts";
import { mvccGet } from "../../../src/mvcc/mod.ts";
import { MessageType } from "../../../src/raft/mod.ts";
import { newMessage } from "../../../src/raft/messages.ts";
import { b, s, sleep, TestCluster, waitFor } from "./_cluster.ts";

Deno.test("Store.put() replicates 1,000 puts to every store of a 3-node cluster", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    await c.waitForLeader();
    const puts = [];
    for (let i = 0; i < 1000; i++) {
      puts.push(c.put(b(`/k/${String(i).padStart(4, "0")}`), b(`v${i}`)));
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
      // On a busy machine leadership may move meanwhile: only acknowledged writes count.
      const r = await first.put(b(`/a/${i}`), b(`${i}`)).catch(() => undefined);
      if (r === undefined) continue;
      acked.push(`/a/${i}`);
      versions.push(r.version);
    }
    assert.ok(acked.length > 0, "some writes were acknowledged");
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
      await c.put(b("/lin"), b(`${i}`));
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

Deno.test("RaftScheduler sends a leader's appends before its fsync: a leader whose write fails loses no entry", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    const leader = await c.waitForLeader();
    await leader.put(b("/w/0"), b("0"));
    const old = leader.nodeId;
    c.failWrites.add(old);
    // The turn that proposes /w/1 sends its MsgApp, then fails its write: the store stops.
    await assert.rejects(leader.put(b("/w/1"), b("1")));
    await c.stop(old);
    c.failWrites.delete(old);
    const next = await c.waitForLeader(10_000);
    assert.notEqual(next.nodeId, old);
    // The followers persisted /w/1 from the early MsgApp: the new leader commits it.
    assert.equal(s((await next.get(b("/w/1")))?.value), "1");
    assert.equal(s((await next.get(b("/w/0")))?.value), "0");
    // The old leader never persisted /w/1 itself; it catches up on restart.
    const back = await c.start(old);
    await waitFor(async () =>
      s((await back.get(b("/w/1"), { serializable: true }))?.value) === "1"
    );
    await next.put(b("/w/2"), b("2"));
  } finally {
    await c.close();
  }
});

Deno.test("Store.put() is answered before the batch applying it is durable; a linearizable get waits for it", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    const leader = await c.waitForLeader();
    await leader.put(b("/h"), b("0"));
    // The cluster's own first writes (node records, the bootstrap command) must have applied:
    // a batch of theirs held below would hold the put's turn behind it.
    await waitFor(
      () =>
        leader.membership.records().size === 3 &&
        mvccGet(leader.engine, systemKeys.partition(1), MAX_TIMESTAMP).status === "found",
      5000,
      "the node records and the bootstrap applied",
    );
    let release = () => {};
    c.holdDataWrites.set(leader.nodeId, new Promise<void>((resolve) => release = resolve));
    let read = false;
    try {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const answered = await Promise.race([
        leader.put(b("/h"), b("1")).then(() => true),
        new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 2000)),
      ]);
      clearTimeout(timer);
      assert.ok(answered, "the put is answered while its batch is not written");
      const get = leader.get(b("/h")).then((r) => {
        read = true;
        return r;
      });
      await sleep(50);
      assert.equal(read, false, "the read waits for the durable applied index");
      release();
      assert.equal(s((await get)?.value), "1");
    } finally {
      release();
      c.holdDataWrites.delete(leader.nodeId);
    }
  } finally {
    await c.close();
  }
});

Deno.test("Store.put() fails at its deadline while the new leader's timestamp oracle is not ready", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    const old = await c.waitForLeader();
    await old.put(b("/tso"), b("0"));
    // The new leader gets no append responses: it cannot commit an entry of its term.
    c.net.drop = (_from, to, m) => m.type === MessageType.AppResp && to !== old.nodeId;
    await old.transferLeadershipAway(2000);
    await waitFor(() => c.leader() !== undefined && c.leader() !== old, 5000, "a new leader");
    const next = c.leader()!;
    assert.equal(next.tso.ready, false);
    const start = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      next.put(b("/tso"), b("1"), { deadline: next.clock.now() + 300 }).then(
        () => "written",
        (err: unknown) => isRangeDbError(err, "UNAVAILABLE") ? "unavailable" : String(err),
      ),
      new Promise<string>((resolve) => timer = setTimeout(() => resolve("hung"), 2000)),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, "unavailable");
    assert.ok(Date.now() - start < 400, `failed after ${Date.now() - start} ms`);
  } finally {
    c.net.drop = undefined;
    await c.close();
  }
});

Deno.test("Store stops serving after a batch fails: not ready, callers fail UNAVAILABLE, peers' messages dropped", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    const leader = await c.waitForLeader();
    await leader.put(b("/f"), b("0"));
    await waitFor(() => leader.isReady(), 5000, "ready");
    c.failWrites.add(leader.nodeId);
    await assert.rejects(
      leader.put(b("/f"), b("1")),
      (err) => isRangeDbError(err, "UNAVAILABLE") && err.details?.ambiguous === true,
    );
    assert.equal(leader.isReady(), false);
    const r1 = leader.firstRange()!;
    const heartbeat = { ...newMessage(MessageType.Heartbeat, leader.nodeId), from: 2 };
    leader.receive(2, [{ rangeId: r1.rangeId, message: heartbeat }]);
    assert.equal(r1.hasInbox(), false, "a message from a peer is dropped");
    const applied = r1.applied!;
    const snap = { ...newMessage(MessageType.Snap, leader.nodeId), from: 2, term: r1.term };
    snap.snapshot = {
      metadata: {
        index: Number(applied.appliedIndex),
        term: Number(applied.appliedTerm),
        confState: confStateOf(applied.descriptor),
      },
      data: new Uint8Array(0),
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const accepted = await Promise.race([
      leader.receiveSnapshot({
        rangeId: r1.rangeId,
        fromNodeId: 2,
        message: snap,
        appliedState: encodeAppliedState(applied),
        pairs: [],
      }),
      new Promise<string>((resolve) => timer = setTimeout(() => resolve("hung"), 1000)),
    ]);
    clearTimeout(timer);
    assert.equal(accepted, false, "a snapshot is refused");
    await assert.rejects(leader.get(b("/f")), (err) => isRangeDbError(err, "UNAVAILABLE"));
  } finally {
    await c.close();
  }
});

Deno.test("RaftScheduler does not send early in the Ready that makes a single voter leader: its new term is not durable yet", async () => {
  const c = await TestCluster.create(1);
  try {
    await c.startAll();
    const leader = await c.waitForLeader();
    await leader.put(b("/e/0"), b("0"));
    const oldTerm = leader.firstRange()!.term;
    // A learner that never catches up (everything to it is dropped), so it stays a learner.
    c.net.drop = (_from, to) => to === 2;
    await c.start(2);
    await leader.join({
      name: "node-2",
      peerAddress: "node-2:peer",
      clientAddress: "node-2:client",
      adminAddress: "node-2:admin",
      incarnation: "inc-2",
    });
    await c.stop(1);
    // Restarted, the single voter wins its election inside one step; its disk fails, so the
    // Ready carrying the new term and vote is never written.
    const sent: number[] = [];
    c.net.drop = (from, to, m) => {
      if (from === 1 && to === 2) sent.push(m.term);
      return true;
    };
    c.failWrites.add(1);
    await c.start(1);
    await sleep(1_500);
    assert.deepEqual(
      sent.filter((term) => term > oldTerm),
      [],
      "no message claimed a term the leader could forget",
    );
  } finally {
    c.failWrites.delete(1);
    await c.close();
  }
});
