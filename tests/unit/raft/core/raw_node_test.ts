import assert from "node:assert/strict";
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
