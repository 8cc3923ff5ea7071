import assert from "node:assert/strict";
import { ReplicaMap, ReplicaWorkSet } from "../../../src/kv/raft_work_set.ts";
import type { Replica } from "../../../src/kv/replica.ts";
import { StateType } from "../../../src/raft/mod.ts";

/** A stand-in replica: what the work set reads (quiesced, and the Raft role and leader). */
function fake(rangeId: number, lead = 0, raftState: StateType = StateType.Follower): Replica {
  return {
    rangeId,
    quiesced: false,
    raw: { basicStatus: () => ({ lead, raftState }) },
  } as unknown as Replica;
}

Deno.test("ReplicaMap reports replicas added, replaced and removed to its observer", () => {
  const map = new ReplicaMap();
  const a = fake(1);
  const b = fake(1);
  const c = fake(2);
  const name = (r: Replica) => r === a ? "a" : r === b ? "b" : "c";
  map.set(1, a);
  const events: string[] = [];
  map.observe({
    added: (r) => events.push(`+${name(r)}`),
    removed: (r) => events.push(`-${name(r)}`),
  });
  map.set(1, a);
  map.set(1, b);
  map.set(2, c);
  map.delete(3);
  map.delete(1);
  map.clear();
  assert.deepEqual(events, ["+a", "-a", "+b", "+c", "-b", "-c"]);
  assert.equal(map.size, 0);
});

Deno.test("ReplicaWorkSet.takeDirty() hands out each marked replica once", () => {
  const w = new ReplicaWorkSet();
  const a = fake(1);
  const b = fake(2);
  w.add(a);
  w.markDirty(b);
  w.markDirty(b);
  assert.deepEqual([...w.takeDirty()], [a, b]);
  assert.equal(w.hasDirty, false);
  w.markDirty(a);
  w.remove(a);
  assert.deepEqual([...w.takeDirty()], []);
});

Deno.test("ReplicaWorkSet.wakeOrphans() wakes the quiesced followers of nodes that are not live", () => {
  const w = new ReplicaWorkSet();
  const of2 = [fake(1, 2), fake(2, 2)];
  const of3 = fake(3, 3);
  const leader = fake(4, 1, StateType.Leader);
  for (const r of [...of2, of3, leader]) {
    w.add(r);
    r.quiesced = true;
    w.settle(r);
  }
  assert.equal(w.awake.size, 0);
  assert.equal(w.wakeOrphans((id) => id !== 2), 2);
  assert.deepEqual([...w.awake], of2);
  assert.ok(of2.every((r) => !r.quiesced) && of3.quiesced && leader.quiesced);
  // Woken once: they are no longer indexed under node 2.
  assert.equal(w.wakeOrphans((id) => id !== 2), 0);
  // A removed follower is forgotten; a woken one leaves the index.
  w.remove(of3);
  assert.equal(w.wakeOrphans(() => false), 0);
});
