/**
 * Regression tests from the safety review of the Raft core: each one failed before its fix.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  ConfChangeTransition,
  ConfChangeType,
  decodeConfChange,
  EntryType,
  MemoryStorage,
  type Message,
  MessageType,
  type NodeId,
  RawNode,
  ReadOnlyOption,
  type ReadState,
  StateType,
} from "../../../../src/raft/mod.ts";
import { seededRandom, TestCluster } from "./_cluster.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A node driven by hand: every Ready is persisted, applied and advanced at once. */
interface HandNode {
  node: RawNode;
  storage: MemoryStorage;
  applied: string[];
  readStates: ReadState[];
}

function handNode(id: NodeId, voters: NodeId[]): HandNode {
  const storage = MemoryStorage.fromConfState({
    voters,
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  });
  const node = new RawNode({
    id,
    electionTick: 10,
    heartbeatTick: 1,
    storage,
    maxInflightMsgs: 256,
    random: seededRandom(id),
  });
  return { node, storage, applied: [], readStates: [] };
}

/** Handles one Ready of `n` (persist, apply, advance) and returns its messages. */
function handle(n: HandNode): Message[] {
  if (!n.node.hasReady()) return [];
  const rd = n.node.ready();
  if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
  n.storage.append(rd.entries);
  if (rd.hardState) n.storage.setHardState(rd.hardState);
  n.readStates.push(...rd.readStates);
  for (const e of rd.committedEntries) {
    if (e.type === EntryType.ConfChange) n.node.applyConfChange(decodeConfChange(e.data));
    else if (e.data.length > 0) n.applied.push(dec(e.data));
  }
  n.node.advance();
  return rd.messages;
}

/** Delivers messages until quiet. */
function pumpAll(nodes: Map<NodeId, HandNode>, msgs: Message[] = []): void {
  for (let round = 0; round < 1000; round++) {
    for (const n of nodes.values()) msgs.push(...handle(n));
    if (msgs.length === 0) return;
    const batch = msgs.splice(0);
    for (const m of batch) nodes.get(m.to)?.node.step(m);
  }
  throw new Error("Cannot settle nodes as messages keep flowing: 1000 rounds");
}

Deno.test("RawNode.readIndex() on a new single-voter leader waits for an entry of its term", () => {
  // Two voters {1, 2}, leader 2 removes itself (index 3) and then commits "x" (index 4) with
  // node 1's ack, but node 1 only learns commit 3 before 2 goes away. Node 1 then leads the
  // singleton config {1}; its commit index (3) lags the entry "x" that 2 applied and acked.
  const n1 = handNode(1, [1, 2]);
  const n2 = handNode(2, [1, 2]);
  const nodes = new Map([[1, n1], [2, n2]]);
  n2.node.campaign();
  pumpAll(nodes);
  assert.equal(n2.node.status().softState.raftState, StateType.Leader);

  n2.node.proposeConfChange({
    transition: ConfChangeTransition.Auto,
    changes: [{ type: ConfChangeType.RemoveNode, nodeId: 2 }],
    context: new Uint8Array(0),
  });
  for (const m of handle(n2)) n1.node.step(m);
  const ackRemoval = handle(n1);
  n2.node.propose(enc("x"));
  for (const m of handle(n2)) n1.node.step(m);
  const ackX = handle(n1);
  assert.equal(ackRemoval.length, 1);
  assert.equal(ackX.length, 1);

  for (const m of ackRemoval) n2.node.step(m); // commit 3
  n2.node.tick(); // heartbeat carrying commit 3
  for (const m of ackX) n2.node.step(m); // commit 4
  const out = handle(n2); // applies the removal (2 hands leadership to 1) and "x"
  assert.deepEqual(n2.applied, ["x"]);
  assert.equal(n2.node.status().leadTransferee, 1);
  // The appends telling node 1 about commit 4 are lost; the heartbeat (commit 3) arrives.
  for (const m of out) if (m.type === MessageType.Heartbeat && m.to === 1) n1.node.step(m);
  handle(n1);
  assert.deepEqual(n1.node.status().config.voters, [1]);
  assert.equal(n1.node.status().hardState.commit, 3);

  n1.node.campaign();
  assert.equal(n1.node.status().softState.raftState, StateType.Leader);
  n1.node.readIndex(enc("r"));
  for (let i = 0; i < 5; i++) handle(n1);
  assert.equal(n1.readStates.length, 1);
  // "x" (index 4) was acknowledged by node 2: a read must not be served below it.
  assert.ok(
    n1.readStates[0].index >= 4,
    `read served at index ${n1.readStates[0].index}, below the acknowledged write at 4`,
  );
});

Deno.test("RawNode keeps applying when maxSizePerMsg is 0 (one entry per message)", () => {
  const c = new TestCluster([1, 2, 3], { maxSizePerMsg: 0 });
  c.get(1).node.campaign();
  c.pump();
  for (const s of ["a", "b", "c"]) {
    c.get(1).node.propose(enc(s));
    c.pump();
  }
  c.tick(2);
  for (const m of c.members.values()) assert.deepEqual(m.applied, ["a", "b", "c"]);
});

Deno.test("RawNode with LeaseBased reads stops serving from the lease once it sent TimeoutNow", () => {
  // The transferee campaigns with the transfer context, which bypasses the followers' lease, so
  // the old leader's lease no longer guarantees that nobody else leads.
  const c = new TestCluster([1, 2, 3], {
    checkQuorum: true,
    readOnlyOption: ReadOnlyOption.LeaseBased,
  });
  c.get(1).node.campaign();
  c.pump();
  assert.deepEqual(c.leaders(), [1]);
  // Node 1 is cut off right after its TimeoutNow leaves.
  c.drop = (m) => (m.from === 1 || m.to === 1) && m.type !== MessageType.TimeoutNow;
  c.get(1).node.transferLeader(2);
  c.pump();
  assert.equal(c.get(2).node.status().softState.raftState, StateType.Leader);
  c.get(2).node.propose(enc("w"));
  c.pump();
  assert.deepEqual(c.get(2).applied, ["w"]);
  const wIndex = c.get(2).node.status().hardState.commit;

  assert.equal(c.get(1).node.status().softState.raftState, StateType.Leader);
  c.get(1).node.readIndex(enc("r"));
  c.pump();
  for (const rs of c.get(1).readStates) {
    assert.ok(rs.index >= wIndex, `stale read at ${rs.index}, "w" is committed at ${wIndex}`);
  }
  // Cut off from the quorum, node 1 cannot confirm its leadership at all.
  assert.deepEqual(c.get(1).readStates, []);
});

Deno.test("RawNode with LeaseBased reads still answers after TimeoutNow once a quorum acks", () => {
  const c = new TestCluster([1, 2, 3], {
    checkQuorum: true,
    readOnlyOption: ReadOnlyOption.LeaseBased,
  });
  c.get(1).node.campaign();
  c.pump();
  c.drop = (m) => m.type === MessageType.TimeoutNow;
  c.get(1).node.transferLeader(2);
  c.pump();
  assert.deepEqual(c.leaders(), [1]);
  c.get(1).node.readIndex(enc("r"));
  c.pump();
  assert.equal(c.get(1).readStates.length, 1);
  assert.equal(c.get(1).readStates[0].index, c.get(1).node.status().hardState.commit);
});

Deno.test("RawNode leader that removes itself hands leadership over instead of deadlocking", () => {
  // Voters {1, 2}, leader 1. Node 2 acks the removal of 1 (index 3) but never gets "tail"
  // (index 4), so 1's log is longer. 1 commits and applies its removal while 2 does not yet know
  // index 3 committed: 2 still needs 1's vote, and 1 refuses it for the longer log unless 1
  // first brings 2 up to date and hands leadership over.
  const n1 = handNode(1, [1, 2]);
  const n2 = handNode(2, [1, 2]);
  const nodes = new Map([[1, n1], [2, n2]]);
  n1.node.campaign();
  pumpAll(nodes);
  assert.equal(n1.node.status().softState.raftState, StateType.Leader);

  n1.node.proposeConfChange({
    transition: ConfChangeTransition.Auto,
    changes: [{ type: ConfChangeType.RemoveNode, nodeId: 1 }],
    context: new Uint8Array(0),
  });
  for (const m of handle(n1)) n2.node.step(m);
  const ackRemoval = handle(n2);
  n1.node.propose(enc("tail"));
  handle(n1); // the append of "tail" to node 2 is lost
  for (const m of ackRemoval) n1.node.step(m); // commit 3
  handle(n1); // applies its removal; what it sends now is lost too
  handle(n1);
  assert.deepEqual(n1.node.status().config.voters, [2]);
  assert.equal(n2.node.status().hardState.commit < 3, true);

  // From here on the network works: the group must get a leader that is a voter, and node 2
  // must learn that the removal committed.
  for (let i = 0; i < 100; i++) {
    n1.node.tick();
    n2.node.tick();
    pumpAll(nodes);
    if (
      n2.node.status().softState.raftState === StateType.Leader &&
      n2.node.status().config.voters.length === 1
    ) break;
  }
  assert.equal(n2.node.status().softState.raftState, StateType.Leader);
  assert.deepEqual(n2.node.status().config.voters, [2]);
  n2.node.propose(enc("after"));
  for (let i = 0; i < 3; i++) pumpAll(nodes); // a lone voter commits one Ready after appending
  assert.deepEqual(n2.applied, ["tail", "after"]);
});
