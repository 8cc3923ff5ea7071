import assert from "node:assert/strict";
import { isRangeDbError } from "../../../src/base/errors.ts";
import { TestCluster, waitFor } from "./_cluster.ts";

const joiner = (name: string, incarnation: string) => ({
  name,
  peerAddress: `${name}:peer`,
  clientAddress: `${name}:client`,
  adminAddress: `${name}:admin`,
  incarnation,
});

const lostData = (err: unknown) =>
  isRangeDbError(err, "FAILED_PRECONDITION") &&
  /^Cannot admit node node-\d as a member of that name exists with another data directory/
    .test(err.message);

Deno.test("Store.join() refuses a node that lost its data directory and rejoins under its old name", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    const leader = await c.waitForLeader();
    await waitFor(
      () => leader.nodes().filter((n) => n.clientAddress !== "").length === 3,
      5000,
      "the node records",
    );
    // node-3 was wiped: it comes back with a new incarnation and asks for its old place.
    await assert.rejects(c.onLeader((l) => l.join(joiner("node-3", "wiped"))), lostData);
    const n3 = leader.nodes().find((n) => n.name === "node-3");
    assert.equal(n3?.nodeId, 3);
    assert.equal(n3?.role, "voter", "the old member stays");
    assert.equal(leader.ranges()[0].voters.length, 3);
    assert.equal(leader.ranges()[0].learners.length, 0);
  } finally {
    await c.close();
  }
});

Deno.test("Store.join() is idempotent for the same name and incarnation only", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    await c.waitForLeader();
    const first = await c.onLeader((l) => l.join(joiner("node-4", "inc-4")));
    const again = await c.onLeader((l) => l.join(joiner("node-4", "inc-4")));
    assert.equal(first.nodeId, 4);
    assert.equal(again.nodeId, 4);
    await assert.rejects(c.onLeader((l) => l.join(joiner("node-4", "inc-other"))), lostData);
    const fifth = await c.onLeader((l) => l.join(joiner("node-5", "inc-5")));
    assert.equal(fifth.nodeId, 5, "a refused join takes no id");
    // The transport's fence: only the recorded incarnation may exchange Raft messages as node 4.
    const leader = await c.waitForLeader();
    assert.equal(leader.incarnationMatches(4, "inc-4"), true);
    assert.equal(leader.incarnationMatches(4, "inc-other"), false);
    assert.equal(leader.incarnationMatches(4, ""), true, "an identity without one passes");
    assert.equal(leader.incarnationMatches(99, "x"), true, "an unknown node passes");
  } finally {
    await c.close();
  }
});

Deno.test("Store.checkMember() refuses another cluster and a name recorded with another incarnation", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    const leader = await c.waitForLeader();
    await waitFor(
      () => leader.nodes().filter((n) => n.clientAddress !== "").length === 3,
      5000,
      "the node records",
    );
    for (const st of c.stores.values()) {
      await waitFor(
        () => {
          try {
            st.checkMember("node-2", "wiped", "");
            return false;
          } catch (err) {
            return lostData(err);
          }
        },
        5000,
        "node-2's record on every store",
      );
      st.checkMember("node-2", "inc-2", "test");
      st.checkMember("node-9", "anything", "");
      assert.throws(
        () => st.checkMember("node-9", "anything", "other"),
        (err) =>
          isRangeDbError(err, "FAILED_PRECONDITION") &&
          err.message ===
            "Cannot admit the node as it belongs to another cluster: its cluster is other, this is test",
      );
    }
  } finally {
    await c.close();
  }
});
