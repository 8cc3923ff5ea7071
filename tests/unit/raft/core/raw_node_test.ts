import assert from "node:assert/strict";
import { StateType } from "../../../../src/raft/mod.ts";
import { TestCluster } from "./_cluster.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("RawNode elects exactly one leader among three nodes", () => {
  const c = new TestCluster([1, 2, 3]);
  c.tick(30);
  const leaders = c.leaders();
  assert.equal(leaders.length, 1);
  const term = c.get(leaders[0]).node.status().hardState.term;
  for (const m of c.members.values()) {
    assert.equal(m.node.status().softState.lead, leaders[0]);
    assert.equal(m.node.status().hardState.term, term);
  }
});

Deno.test("RawNode.propose() replicates and applies on every node", () => {
  const c = new TestCluster([1, 2, 3]);
  c.get(1).node.campaign();
  c.pump();
  assert.deepEqual(c.leaders(), [1]);
  c.get(1).node.propose(enc("a"));
  c.get(2).node.propose(enc("b")); // forwarded to the leader
  c.pump();
  c.tick(2); // heartbeats carry the final commit index
  for (const m of c.members.values()) assert.deepEqual(m.applied, ["a", "b"]);
});

Deno.test("RawNode.basicStatus() and withProgress() report the leader's log and followers", () => {
  const c = new TestCluster([1, 2, 3]);
  c.get(1).node.campaign();
  c.pump();
  c.get(1).node.propose(enc("a"));
  c.pump();
  const leader = c.get(1).node;
  const st = leader.basicStatus();
  assert.deepEqual(st, {
    term: 2,
    lead: 1,
    raftState: StateType.Leader,
    commit: 3,
    lastIndex: 3,
    applied: 3,
    leadTransferee: 0,
    pendingReadIndex: 0,
  });
  const seen: [number, number, string][] = [];
  leader.withProgress((id, pr) => seen.push([id, pr.match, pr.state]));
  assert.deepEqual(seen, [[1, 3, "replicate"], [2, 3, "replicate"], [3, 3, "replicate"]]);
  // A follower has no progress to visit.
  let visited = 0;
  c.get(2).node.withProgress(() => visited++);
  assert.equal(visited, 0);
  assert.equal(c.get(2).node.basicStatus().lead, 1);
});

Deno.test("RawNode.basicStatus() counts ReadIndex requests waiting for a quorum of acks", () => {
  const c = new TestCluster([1, 2, 3]);
  c.get(1).node.campaign();
  c.pump();
  c.isolate(1);
  c.get(1).node.readIndex(Uint8Array.of(1));
  c.pump();
  assert.equal(c.get(1).node.basicStatus().pendingReadIndex, 1);
  c.heal();
  c.tick(1);
  assert.equal(c.get(1).node.basicStatus().pendingReadIndex, 0);
  assert.equal(c.get(1).readStates.length, 1);
});
