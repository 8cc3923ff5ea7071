import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ErrorCode, isRangeDbError, RangeDbError } from "../../../src/base/errors.ts";
import type { JoinResult, NodeInfo } from "../../../src/kv/kv_store.ts";
import type { PeerCaller } from "../../../src/rpc/forwarder.ts";
import { createJoinHandler } from "../../../src/rpc/join_handler.ts";
import { JoinRequestSchema } from "../../../proto/gen/rangedb/v1/peer_pb.ts";
import { fakeStore, quietLogger } from "./_grpc_fixture.ts";

const refusingPeers: PeerCaller = {
  forward: () => Promise.reject(new Error("Cannot forward in this test")),
  join: () => Promise.reject(new Error("Cannot forward a join in this test")),
};

function node(nodeId: number, role: NodeInfo["role"]): NodeInfo {
  return {
    name: `n${nodeId}`,
    nodeId,
    peerAddress: `127.0.0.1:${7000 + nodeId}`,
    clientAddress: "",
    adminAddress: "",
    role,
    leader: false,
    reachable: true,
    matchIndex: 0,
    updatedAtMs: 0,
  };
}

const ctx = () => ({ deadline: Date.now() + 5_000, forwarded: false });

Deno.test("createJoinHandler() answers a check_only join locally with the cluster id and peers", async () => {
  const checked: [string, string, string][] = [];
  const store = fakeStore({
    nodeId: 2,
    // A leader elsewhere: a real join would be forwarded there, a check never is.
    leaderNodeId: () => 1,
    peerAddressOf: () => "127.0.0.1:7001",
    checkMember: (name, incarnation, clusterId) => {
      checked.push([name, incarnation, clusterId]);
    },
    nodes: () => [node(1, "voter"), node(2, "learner"), node(3, "none")],
  });
  const join = createJoinHandler({ store, peers: refusingPeers, logger: quietLogger() });
  const res = await join(
    create(JoinRequestSchema, { name: "n4", checkOnly: true, incarnation: "i4", clusterId: "c1" }),
    ctx(),
  );
  assert.deepEqual(checked, [["n4", "i4", "c1"]]);
  assert.equal(res.clusterId, "c1");
  assert.equal(res.nodeId, 0n);
  assert.deepEqual(res.peerAddresses, { "1": "127.0.0.1:7001", "2": "127.0.0.1:7002" });
});

Deno.test("createJoinHandler() refuses a check_only join with the store's FAILED_PRECONDITION", async () => {
  const store = fakeStore({
    checkMember: () => {
      throw new RangeDbError(
        ErrorCode.FAILED_PRECONDITION,
        "Cannot admit node as its name is recorded with another incarnation: name is n2",
      );
    },
  });
  const join = createJoinHandler({ store, peers: refusingPeers, logger: quietLogger() });
  const err = await join(create(JoinRequestSchema, { name: "n2", checkOnly: true }), ctx()).then(
    () => assert.fail("the check passed"),
    (e: unknown) => e,
  );
  assert.ok(isRangeDbError(err, ErrorCode.FAILED_PRECONDITION), String(err));
  assert.match(err.message, /another incarnation: name is n2/);
});

Deno.test("createJoinHandler() passes the incarnation to store.join()", async () => {
  const records: { name: string; incarnation: string }[] = [];
  const store = fakeStore({
    join: (record) => {
      records.push({ name: record.name, incarnation: record.incarnation });
      const result: JoinResult = {
        clusterId: "c1",
        nodeId: 4,
        peerAddresses: new Map([[1, "127.0.0.1:7001"]]),
      };
      return Promise.resolve(result);
    },
  });
  const join = createJoinHandler({ store, peers: refusingPeers, logger: quietLogger() });
  const res = await join(
    create(JoinRequestSchema, { name: "n4", peerAddress: "127.0.0.1:7004", incarnation: "i4" }),
    ctx(),
  );
  assert.deepEqual(records, [{ name: "n4", incarnation: "i4" }]);
  assert.equal(res.nodeId, 4n);
  assert.deepEqual(res.peerAddresses, { "1": "127.0.0.1:7001" });
});
