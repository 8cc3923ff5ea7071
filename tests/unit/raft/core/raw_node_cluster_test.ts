import assert from "node:assert/strict";
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  isRaftError,
  MemoryStorage,
  MessageType,
  StateType,
} from "../../../../src/raft/mod.ts";
import { TestCluster } from "./_cluster.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** A cluster of `ids` with node 1 elected leader. */
function withLeader(ids: number[], overrides = {}): TestCluster {
  const c = new TestCluster(ids, overrides);
  c.get(1).node.campaign();
  c.pump();
  assert.deepEqual(c.leaders(), [1]);
  return c;
}

Deno.test("RawNode with CheckQuorum: a partitioned leader steps down, the rest elect another", () => {
  const c = withLeader([1, 2, 3], { checkQuorum: true });
  c.isolate(1);
  c.tick(25);
  assert.equal(c.get(1).node.status().softState.raftState, StateType.Follower);
  const leaders = c.leaders();
  assert.equal(leaders.length, 1);
  assert.notEqual(leaders[0], 1);
  c.heal();
  c.tick(3);
  assert.equal(c.get(1).node.status().softState.lead, leaders[0]);
});

Deno.test("RawNode with CheckQuorum: followers with a live leader ignore a disruptive candidate", () => {
  const c = withLeader([1, 2, 3], { checkQuorum: true });
  const term = c.get(1).node.status().hardState.term;
  c.get(3).node.campaign(); // node 3 campaigns while the leader is alive
  c.pump();
  assert.deepEqual(c.leaders(), [1]);
  assert.equal(c.get(2).node.status().hardState.term, term);
});

Deno.test("RawNode with PreVote: an isolated node does not raise its term", () => {
  const c = withLeader([1, 2, 3], { preVote: true });
  const term = c.get(1).node.status().hardState.term;
  c.isolate(3);
  c.tick(50);
  assert.equal(c.get(3).node.status().hardState.term, term);
  c.heal();
  c.tick(3);
  assert.deepEqual(c.leaders(), [1]);
  assert.equal(c.get(1).node.status().hardState.term, term);
});

Deno.test("RawNode.transferLeader() hands leadership to an up-to-date follower", () => {
  const c = withLeader([1, 2, 3], { checkQuorum: true });
  c.get(1).node.propose(enc("x"));
  c.pump();
  c.get(1).node.transferLeader(3);
  c.pump();
  assert.deepEqual(c.leaders(), [3]);
  c.get(3).node.propose(enc("y"));
  c.pump();
  c.tick(2);
  for (const m of c.members.values()) assert.deepEqual(m.applied, ["x", "y"]);
});

Deno.test("RawNode drops proposals while a leader transfer is in progress and aborts it later", () => {
  const c = withLeader([1, 2, 3]);
  c.isolate(3);
  c.get(1).node.transferLeader(3);
  c.pump();
  assert.equal(c.get(1).node.status().leadTransferee, 3);
  assert.throws(() => c.get(1).node.propose(enc("x")), (e) => isRaftError(e, "ErrProposalDropped"));
  c.tick(10); // an election timeout
  assert.equal(c.get(1).node.status().leadTransferee, 0);
  c.get(1).node.propose(enc("x"));
});

const readStates = (c: TestCluster, id: number) =>
  c.get(id).readStates.map((s) => [s.index, new TextDecoder().decode(s.requestCtx)]);

Deno.test("RawNode.readIndex() answers on the leader and on followers after a heartbeat round", () => {
  const c = withLeader([1, 2, 3]);
  c.get(1).node.propose(enc("x"));
  c.pump();
  const commit = c.get(1).node.status().hardState.commit;
  c.get(1).node.readIndex(enc("r1"));
  c.get(2).node.readIndex(enc("r2"));
  c.pump();
  assert.deepEqual(readStates(c, 1), [[commit, "r1"]]);
  assert.deepEqual(readStates(c, 2), [[commit, "r2"]]);
  const round = c.delivered.filter((m) => m.type === MessageType.Heartbeat && m.context.length > 0);
  assert.ok(round.length >= 2, "the leader confirmed its leadership with a heartbeat round");
});

Deno.test("RawNode: an isolated leader never answers a Safe ReadIndex", () => {
  const c = withLeader([1, 2, 3]);
  c.isolate(1);
  c.get(1).node.readIndex(enc("r"));
  c.tick(5);
  assert.deepEqual(readStates(c, 1), []);
});

Deno.test("RawNode: a new leader answers ReadIndex only after committing an entry of its term", () => {
  const c = withLeader([1, 2, 3]);
  c.get(1).node.propose(enc("x"));
  c.pump();
  c.isolate(1);
  // Node 2 wins, but the acknowledgements of its empty entry are lost.
  c.drop = (m) => m.type === MessageType.AppResp && m.to === 2;
  c.get(2).node.campaign();
  c.pump();
  assert.equal(c.get(2).node.status().softState.raftState, StateType.Leader);
  const term = c.get(2).node.status().hardState.term;
  c.get(2).node.readIndex(enc("r"));
  c.pump();
  assert.deepEqual(readStates(c, 2), [], "the commit index may still lag the previous term");
  c.drop = () => false;
  c.tick(3);
  const commit = c.get(2).node.status().hardState.commit;
  assert.equal(c.get(2).storage.term(commit), term);
  assert.deepEqual(readStates(c, 2), [[commit, "r"]]);
});

Deno.test("RawNode: a single-voter cluster commits only after its entries are persisted", () => {
  const c = new TestCluster([1]);
  const n = c.get(1).node;
  n.campaign();
  let rd = n.ready();
  assert.equal(rd.softState?.raftState, StateType.Leader);
  assert.deepEqual(rd.entries.map((e) => e.index), [2]);
  assert.equal(rd.committedEntries.length, 0, "nothing commits before the entry is durable");
  c.get(1).storage.append(rd.entries);
  n.advance();
  rd = n.ready();
  assert.deepEqual(rd.committedEntries.map((e) => e.index), [2]);
  assert.equal(rd.hardState?.commit, 2);
});

Deno.test("RawNode: a node added later learns the membership from a snapshot and catches up", () => {
  const c = withLeader([1, 2, 3]);
  c.get(1).node.propose(enc("a"));
  c.pump();
  c.add(4, new MemoryStorage());
  c.get(1).node.proposeConfChange({
    transition: ConfChangeTransition.Auto,
    changes: [{ type: ConfChangeType.AddNode, nodeId: 4 }],
    context: new Uint8Array(),
  });
  c.pump();
  c.tick(3);
  c.get(1).node.propose(enc("b"));
  c.pump();
  c.tick(2);
  const n4 = c.get(4).node.status();
  assert.deepEqual(n4.config.voters, [1, 2, 3, 4]);
  assert.equal(n4.hardState.commit, c.get(1).node.status().hardState.commit);
  assert.ok(c.delivered.some((m) => m.type === MessageType.Snap && m.to === 4));
  // Node 4 started from the bootstrap snapshot (empty state), so it applied what followed.
  assert.deepEqual(c.get(4).applied, ["a", "b"]);
});

Deno.test("RawNode: a joint change with auto-leave moves membership in two steps", () => {
  const c = withLeader([1, 2, 3]);
  c.get(1).node.proposeConfChange({
    transition: ConfChangeTransition.Auto,
    changes: [
      { type: ConfChangeType.RemoveNode, nodeId: 3 },
      { type: ConfChangeType.AddLearnerNode, nodeId: 3 },
    ],
    context: new Uint8Array(),
  });
  c.pump();
  c.tick(3);
  for (const m of c.members.values()) {
    const cfg = m.node.status().config;
    assert.deepEqual([cfg.voters, cfg.learners, cfg.votersOutgoing], [[1, 2], [3], []]);
  }
  const confEntries = c.get(1).storage.entries(2, c.get(1).storage.lastIndex() + 1, Infinity)
    .filter((e) => e.type === EntryType.ConfChange);
  assert.equal(confEntries.length, 2, "the enter-joint entry and the automatic leave-joint entry");
});

Deno.test("RawNode: a leader refuses a second conf change until the first is applied", () => {
  const c = withLeader([1, 2, 3]);
  const n = c.get(1).node;
  const add = (id: number) => ({
    transition: ConfChangeTransition.Auto,
    changes: [{ type: ConfChangeType.AddLearnerNode, nodeId: id }],
    context: new Uint8Array(),
  });
  n.proposeConfChange(add(4));
  n.proposeConfChange(add(5)); // replaced by an empty entry
  c.pump();
  c.tick(2);
  assert.deepEqual(n.status().config.learners, [4]);
});

Deno.test("RawNode: a lagging follower gets a snapshot once the leader compacted its log", () => {
  const c = withLeader([1, 2, 3]);
  c.isolate(3);
  for (const s of ["a", "b", "c"]) c.get(1).node.propose(enc(s));
  c.pump();
  c.tick(1);
  const leader = c.get(1);
  const applied = leader.node.status().applied;
  leader.storage.createSnapshot(applied, undefined, enc("state"));
  leader.storage.compact(applied);
  c.heal();
  c.tick(3);
  const snaps = c.delivered.filter((m) => m.type === MessageType.Snap && m.to === 3);
  assert.equal(snaps.length, 1);
  assert.equal(c.get(3).node.status().hardState.commit, leader.node.status().hardState.commit);
  // The follower's answer to the snapshot resumes replication without waiting for a report.
  assert.equal(leader.node.status().progress?.get(3)?.state, "replicate");
  assert.equal(c.get(3).storage.snapshot().metadata.index, applied);
});

Deno.test("RawNode.step() rejects local message types and responses from strangers", () => {
  const c = withLeader([1, 2, 3]);
  const base = {
    to: 1,
    term: 2,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(),
  };
  assert.throws(
    () => c.get(1).node.step({ ...base, type: MessageType.Hup, from: 2 }),
    (e) => isRaftError(e, "ErrStepLocalMsg"),
  );
  assert.throws(
    () => c.get(1).node.step({ ...base, type: MessageType.AppResp, from: 9 }),
    (e) => isRaftError(e, "ErrStepPeerNotFound"),
  );
});

Deno.test("RawNode drops proposals over the uncommitted size limit", () => {
  const c = withLeader([1, 2, 3], { maxUncommittedEntriesSize: 10 });
  c.isolate(1);
  const n = c.get(1).node;
  n.propose(new Uint8Array(6));
  n.propose(new Uint8Array(4));
  assert.throws(() => n.propose(new Uint8Array(1)), (e) => isRaftError(e, "ErrProposalDropped"));
  n.propose(new Uint8Array(0)); // empty proposals always fit
  c.heal();
  c.pump();
  c.tick(2);
  n.propose(new Uint8Array(10)); // the budget is released once entries commit and apply
});

Deno.test("RawNode with LeaseBased reads answers from the leader without a heartbeat round", () => {
  const c = withLeader([1, 2, 3], { checkQuorum: true, readOnlyOption: 1 });
  c.get(1).node.propose(enc("x"));
  c.pump();
  const before = c.delivered.length;
  c.get(1).node.readIndex(enc("r"));
  c.pump();
  assert.equal(c.delivered.length, before, "no messages were needed");
  assert.deepEqual(readStates(c, 1), [[c.get(1).node.status().hardState.commit, "r"]]);
});

Deno.test("RawNode: learners replicate but never campaign or count toward a quorum", () => {
  const c = withLeader([1, 2]);
  c.add(3, new MemoryStorage());
  c.get(1).node.proposeConfChange({
    transition: ConfChangeTransition.Auto,
    changes: [{ type: ConfChangeType.AddLearnerNode, nodeId: 3 }],
    context: new Uint8Array(),
  });
  c.pump();
  c.tick(2);
  assert.deepEqual(c.get(3).node.status().config.learners, [3]);
  // With voter 2 gone, the leader plus the learner are no quorum: nothing commits.
  c.isolate(2);
  const commit = c.get(1).node.status().hardState.commit;
  c.get(1).node.propose(enc("x"));
  c.pump();
  c.tick(2);
  assert.equal(c.get(1).node.status().hardState.commit, commit);
  assert.equal(c.get(1).node.status().progress?.get(3)?.match, commit + 1);
  // The learner never campaigns, however long it hears nothing.
  c.isolate(3);
  c.tick(100);
  assert.equal(c.get(3).node.status().softState.raftState, StateType.Follower);
});

Deno.test("RawNode.transferLeader() catches up a transferee whose appends were lost at once", () => {
  const c = withLeader([1, 2, 3]);
  c.drop = (m) => m.type === MessageType.App && m.to === 3;
  c.get(1).node.propose(enc("x"));
  c.pump();
  c.drop = () => false;
  c.get(1).node.transferLeader(3);
  c.pump(); // no tick: the leader probes the transferee right away
  assert.deepEqual(c.leaders(), [3]);
});

Deno.test("RawNode with lazyCommitBroadcast: a commit sends no append of its own; followers learn it at the next heartbeat", () => {
  for (const lazy of [false, true]) {
    const c = withLeader([1, 2, 3], { lazyCommitBroadcast: lazy });
    const before = c.delivered.length;
    c.get(1).node.propose(enc("x"));
    c.pump();
    const appends = c.delivered.slice(before).filter((m) => m.type === MessageType.App);
    // One append per follower carries the entry; eager leaders send one more with the commit.
    assert.equal(appends.length, lazy ? 2 : 4, `lazy ${lazy}`);
    assert.deepEqual(c.get(1).applied, ["x"], "the leader applies at once either way");
    const commit = c.get(1).node.status().hardState.commit;
    for (const id of [2, 3]) {
      const st = c.get(id).node.status().hardState.commit;
      assert.equal(st, lazy ? commit - 1 : commit, `follower ${id}, lazy ${lazy}`);
      assert.deepEqual(c.get(id).applied, lazy ? [] : ["x"]);
    }
    c.tick(1);
    for (const id of [2, 3]) {
      assert.equal(c.get(id).node.status().hardState.commit, commit);
      assert.deepEqual(c.get(id).applied, ["x"], `follower ${id} after a heartbeat`);
    }
  }
});

Deno.test("RawNode.broadcastCommit() tells lazily told followers the commit index at once", () => {
  const c = withLeader([1, 2, 3], { lazyCommitBroadcast: true });
  c.get(1).node.propose(enc("y"));
  c.pump();
  const commit = c.get(1).node.status().hardState.commit;
  assert.equal(c.get(2).node.status().hardState.commit, commit - 1);
  const before = c.delivered.length;
  c.get(1).node.broadcastCommit();
  c.pump();
  const appends = c.delivered.slice(before).filter((m) => m.type === MessageType.App);
  assert.deepEqual(appends.map((m) => [m.to, m.entries.length, m.commit]), [
    [2, 0, commit],
    [3, 0, commit],
  ]);
  for (const id of [2, 3]) assert.deepEqual(c.get(id).applied, ["y"]);
  const again = c.delivered.length;
  c.get(1).node.broadcastCommit();
  c.get(2).node.broadcastCommit(); // a follower: nothing
  c.pump();
  assert.equal(c.delivered.length, again, "nothing new to tell");
});
