import assert from "node:assert/strict";
import { ManualClock } from "../../../src/base/clock.ts";
import { NodeLiveness } from "../../../src/kv/node_liveness.ts";

function liveness() {
  const clock = new ManualClock();
  return { clock, l: new NodeLiveness({ nodeId: 1, timeoutMs: 500, clock }) };
}

Deno.test("NodeLiveness.isLive() holds for one timeout after a node was heard from", () => {
  const { clock, l } = liveness();
  assert.equal(l.isLive(2), false, "never heard from");
  assert.equal(l.isLive(1), true, "this node");
  l.heard(2);
  clock.advance(499);
  assert.equal(l.isLive(2), true);
  clock.advance(1);
  assert.equal(l.isLive(2), false);
  l.heard(2);
  assert.equal(l.isLive(2), true, "heard again");
  assert.equal(l.isLive(3), false);
});

Deno.test("NodeLiveness.peers() counts the ranges each other node shares with this one", () => {
  const { l } = liveness();
  l.addMembers([1, 2, 3]);
  l.addMembers([1, 3, 4]);
  assert.deepEqual([...l.peers()].sort(), [2, 3, 4]);
  l.removeMembers([1, 2, 3]);
  assert.deepEqual([...l.peers()].sort(), [3, 4]);
  l.removeMembers([1, 3, 4]);
  assert.deepEqual([...l.peers()], []);
  // A range this node is not (yet) a member of still makes its members peers.
  l.addMembers([5]);
  assert.deepEqual([...l.peers()], [5]);
});
