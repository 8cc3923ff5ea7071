import assert from "node:assert/strict";
import {
  type Message,
  MessageType,
  type PlantedBug,
  RawNode,
  StateType,
} from "../../../../src/raft/mod.ts";
import { seededRandom, TestCluster } from "./_cluster.ts";

const enc = (s: string) => new TextEncoder().encode(s);

function voteRequest(from: number, to: number, term: number): Message {
  return {
    type: MessageType.Vote,
    from,
    to,
    term,
    logTerm: 1,
    index: 1,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(),
  };
}

function follower(bugs: PlantedBug[]): { node: RawNode; cluster: TestCluster } {
  const cluster = new TestCluster([1, 2, 3], {
    plantedBugs: new Set(bugs),
    random: seededRandom(1),
  });
  return { node: cluster.get(1).node, cluster };
}

function grants(node: RawNode): boolean[] {
  return node.ready().messages.filter((m) => m.type === MessageType.VoteResp).map((m) => !m.reject);
}

for (const [bugs, want] of [[[], [true, false]], [["double-vote"], [true, true]]] as const) {
  Deno.test(`Raft.step() grants votes to ${want.filter((g) => g).length} candidates in one term with bugs [${bugs}]`, () => {
    const { node } = follower([...bugs]);
    node.step(voteRequest(2, 1, 2));
    node.step(voteRequest(3, 1, 2));
    assert.deepEqual(grants(node), want);
  });
}

for (const [bugs, wantVote] of [[[], 2], [["vote-not-persisted"], 0]] as const) {
  Deno.test(`RawNode.ready() persists vote ${wantVote} after granting with bugs [${bugs}]`, () => {
    const { node } = follower([...bugs]);
    node.step(voteRequest(2, 1, 2));
    const rd = node.ready();
    assert.equal(rd.messages.filter((m) => m.type === MessageType.VoteResp && !m.reject).length, 1);
    assert.deepEqual(rd.hardState, { term: 2, vote: wantVote, commit: 1 });
  });
}

for (const [bugs, wantCommitted] of [[[], false], [["commit-on-minority"], true]] as const) {
  Deno.test(`Raft.maybeCommit() lets an isolated leader commit alone: ${wantCommitted} with bugs [${bugs}]`, () => {
    const c = new TestCluster([1, 2, 3], { plantedBugs: new Set<PlantedBug>([...bugs]) });
    c.get(1).node.campaign();
    c.pump();
    assert.equal(c.get(1).node.status().softState.raftState, StateType.Leader);
    const before = c.get(1).node.status().hardState.commit;
    c.isolate(1);
    c.get(1).node.propose(enc("x"));
    c.pump();
    assert.equal(c.get(1).node.status().hardState.commit > before, wantCommitted);
  });
}

for (const [bugs, wantLeaders] of [[[], [2]], [["vote-not-persisted"], [1, 2]]] as const) {
  Deno.test(`RawNode restarted after voting lets ${wantLeaders.length} leader(s) win one term with bugs [${bugs}]`, () => {
    const overrides = { plantedBugs: new Set<PlantedBug>([...bugs]) };
    const c = new TestCluster([1, 2, 3], overrides);
    c.cutBoth(1, 2);
    // Node 2 wins term 2 with node 3's vote; its appends are lost, so node 3's log stays short.
    c.drop = (m) => m.type === MessageType.App;
    c.get(2).node.campaign();
    c.pump();
    c.drop = () => false;
    c.add(3, c.get(3).storage, overrides); // node 3 crashes and restarts from storage
    c.cutBoth(2, 3);
    c.get(1).node.campaign(); // also asks for term 2
    c.pump();
    const leaders = c.leaders();
    assert.deepEqual(leaders, [...wantLeaders]);
    for (const id of leaders) assert.equal(c.get(id).node.status().hardState.term, 2);
  });
}
