import assert from "node:assert/strict";
import {
  followerMayQuiesce,
  isStaleAck,
  leaderQuiesceHeartbeats,
  type QuiescingReplica,
} from "../../../src/kv/replica_quiesce.ts";
import { type Message, MessageType, type RawNode } from "../../../src/raft/mod.ts";
import { TestCluster } from "../raft/core/_cluster.ts";

const enc = (x: string) => new TextEncoder().encode(x);

/** Nodes 1..3 with 1 leading and one entry of its own applied everywhere. */
function settled(): TestCluster {
  const c = new TestCluster([1, 2, 3]);
  c.get(1).node.campaign();
  c.pump();
  c.get(1).node.propose(enc("a"));
  c.pump();
  c.tick(1); // heartbeats carry the final commit index
  return c;
}

function replica(raw: RawNode, over: Partial<QuiescingReplica> = {}): QuiescingReplica {
  return {
    rangeId: 7,
    raw,
    appliedIndex: raw.basicStatus().applied,
    hasPendingWork: () => false,
    hasInbox: () => false,
    // The previous tick already found the leader ready to quiesce at this commit.
    quiesceCommit: raw.basicStatus().commit,
    ...over,
  };
}

const live = () => true;

Deno.test("leaderQuiesceHeartbeats() gives each follower a heartbeat with the term and last index", () => {
  const c = settled();
  const leader = c.get(1).node;
  const st = leader.basicStatus();
  const hbs = leaderQuiesceHeartbeats(replica(leader), live)!;
  assert.deepEqual(
    hbs.map((m) => [m.type, m.from, m.to, m.term, m.commit, m.context.length]),
    [[MessageType.Heartbeat, 1, 2, st.term, st.lastIndex, 0], [
      MessageType.Heartbeat,
      1,
      3,
      st.term,
      st.lastIndex,
      0,
    ]],
  );
  assert.equal(leaderQuiesceHeartbeats(replica(c.get(2).node), live), undefined, "a follower");
});

Deno.test("leaderQuiesceHeartbeats() waits one tick at a new commit index, so that a heartbeat tells it first", () => {
  const c = settled();
  const leader = c.get(1).node;
  const r = replica(leader, { quiesceCommit: -1 });
  assert.equal(leaderQuiesceHeartbeats(r, live), undefined, "first tick at this commit");
  assert.equal(r.quiesceCommit, leader.basicStatus().commit);
  assert.ok(leaderQuiesceHeartbeats(r, live), "the next tick at the same commit");
  leader.propose(enc("c"));
  c.pump();
  const after = replica(leader, { quiesceCommit: r.quiesceCommit });
  assert.equal(leaderQuiesceHeartbeats(after, live), undefined, "the commit moved");
  assert.ok(leaderQuiesceHeartbeats(after, live), "and stayed for a tick");
});

Deno.test("leaderQuiesceHeartbeats() refuses while anything is unfinished", () => {
  const c = settled();
  const leader = c.get(1).node;
  const last = leader.basicStatus().lastIndex;
  const cases: [string, QuiescingReplica, (id: number) => boolean][] = [
    ["a follower's node not live", replica(leader), (id) => id !== 3],
    ["not applied durably", replica(leader, { appliedIndex: last - 1 }), live],
    ["a proposal or read waits", replica(leader, { hasPendingWork: () => true }), live],
    ["a message waits", replica(leader, { hasInbox: () => true }), live],
  ];
  for (const [name, r, isLive] of cases) {
    assert.equal(leaderQuiesceHeartbeats(r, isLive), undefined, name);
  }
  // A follower behind: node 3 misses an entry.
  c.isolate(3);
  leader.propose(enc("b"));
  c.pump();
  assert.equal(leaderQuiesceHeartbeats(replica(leader), live), undefined, "a follower behind");
  c.heal();
  c.tick(1);
  c.pump();
  assert.ok(leaderQuiesceHeartbeats(replica(leader), live), "caught up again");
  // A read waiting for its heartbeat round, and a leader transfer.
  c.isolate(2);
  c.isolate(3);
  leader.readIndex(Uint8Array.of(9));
  c.pump();
  assert.equal(leaderQuiesceHeartbeats(replica(leader), live), undefined, "a pending read");
  c.heal();
  c.tick(1);
  assert.ok(leaderQuiesceHeartbeats(replica(leader), live), "the read answered");
  // The transferee never gets its TimeoutNow: the transfer stays in progress.
  c.isolate(2);
  leader.transferLeader(2);
  c.pump();
  assert.equal(leader.basicStatus().leadTransferee, 2);
  assert.equal(leaderQuiesceHeartbeats(replica(leader), live), undefined, "a transfer");
});

Deno.test("followerMayQuiesce() holds for its leader's heartbeat at its term and commit only", () => {
  const c = settled();
  const leader = c.get(1).node;
  const hb = leaderQuiesceHeartbeats(replica(leader), live)!.find((m) => m.to === 2)!;
  const follower = c.get(2).node;
  follower.step(hb);
  const r = replica(follower);
  assert.equal(followerMayQuiesce(r, hb), true);
  const cases: [string, Partial<Message>][] = [
    ["another sender", { from: 3 }],
    ["another term", { term: hb.term + 1 }],
    ["another commit", { commit: hb.commit - 1 }],
    ["not a heartbeat", { type: MessageType.App }],
  ];
  for (const [name, over] of cases) {
    assert.equal(followerMayQuiesce(r, { ...hb, ...over }), false, name);
  }
  assert.equal(followerMayQuiesce(replica(follower, { hasPendingWork: () => true }), hb), false);
});

Deno.test("isStaleAck() holds for a repeated append acknowledgement only", () => {
  const c = settled();
  const leader = c.get(1).node;
  const ack = c.delivered.findLast((m) => m.type === MessageType.AppResp && m.from === 2)!;
  assert.ok(ack !== undefined && !ack.reject);
  assert.equal(isStaleAck(leader, ack), true);
  assert.equal(isStaleAck(leader, { ...ack, reject: true }), false, "a rejection");
  assert.equal(isStaleAck(leader, { ...ack, index: ack.index + 1 }), false, "a new index");
  assert.equal(isStaleAck(leader, { ...ack, term: ack.term + 1 }), false, "another term");
  assert.equal(isStaleAck(leader, { ...ack, type: MessageType.Vote }), false, "not an ack");
  assert.equal(isStaleAck(c.get(3).node, { ...ack, to: 3 }), false, "a follower");
});
