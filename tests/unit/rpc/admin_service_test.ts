import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { clusterStatusOf } from "../../../src/rpc/admin_service.ts";
import type { PeerCaller } from "../../../src/rpc/forwarder.ts";
import { createJoinHandler } from "../../../src/rpc/join_handler.ts";
import { JoinRequestSchema, JoinResponseSchema } from "../../../proto/gen/rangedb/v1/peer_pb.ts";
import { fakeStore, quietLogger } from "./_grpc_fixture.ts";

Deno.test("clusterStatusOf() reports the store's nodes, ranges and health", () => {
  const store = fakeStore({
    isReady: () => false,
    replicationFactor: () => 3,
    nodes: () => [{
      name: "n1",
      nodeId: 1,
      peerAddress: "p",
      clientAddress: "c",
      adminAddress: "a",
      role: "voter",
      leader: true,
      reachable: true,
      matchIndex: 9,
      updatedAtMs: 1000,
    }],
    ranges: () => [{
      rangeId: 1,
      start: new Uint8Array(0),
      end: new Uint8Array(0),
      generation: 1,
      voters: [1, 2, 3],
      learners: [4],
      leaderNodeId: 1,
      term: 2,
      commitIndex: 10,
      appliedIndex: 9,
      liveKeys: 0,
      liveBytes: 0,
      writesPerSecond: 0,
      frozenIntoRangeId: 0,
      local: true,
    }],
  });
  const res = clusterStatusOf(store, "n1");
  assert.equal(res.clusterId, "c1");
  assert.equal(res.answeredBy, "n1");
  assert.equal(res.healthy, false);
  assert.equal(res.replicationFactor, 3n);
  assert.deepEqual([res.nodes[0].name, res.nodes[0].nodeId, res.nodes[0].role], [
    "n1",
    1n,
    "voter",
  ]);
  assert.deepEqual(res.ranges[0].voters, [1n, 2n, 3n]);
  assert.equal(res.ranges[0].appliedIndex, 9n);
});

function joinSetup(leader: number) {
  const forwarded: string[] = [];
  const joined: string[] = [];
  const peers: PeerCaller = {
    forward: () => Promise.reject(new Error("unused")),
    join: (address, req) => {
      forwarded.push(`${address} ${req.name}`);
      return Promise.resolve(create(JoinResponseSchema, { clusterId: "c1", nodeId: 4n }));
    },
  };
  const store = fakeStore({
    leaderNodeId: () => leader,
    peerAddressOf: (id) => `10.0.0.${id}:7080`,
    join: (record) => {
      joined.push(record.name);
      return Promise.resolve({
        clusterId: "c1",
        nodeId: 5,
        peerAddresses: new Map([[1, "p1"], [5, "p5"]]),
      });
    },
  });
  return { join: createJoinHandler({ store, peers, logger: quietLogger() }), forwarded, joined };
}

const req = create(JoinRequestSchema, { name: "n5", peerAddress: "p5" });
const deadline = () => Date.now() + 1000;

Deno.test("createJoinHandler() forwards a join to range 1's leader once", async () => {
  const s = joinSetup(2);
  const res = await s.join(req, { deadline: deadline(), forwarded: false });
  assert.equal(res.nodeId, 4n);
  assert.deepEqual(s.forwarded, ["10.0.0.2:7080 n5"]);
  assert.deepEqual(s.joined, []);
});

Deno.test("createJoinHandler() joins locally on the leader and for a forwarded join", async () => {
  for (const [leader, forwarded] of [[1, false], [2, true], [0, false]] as const) {
    const s = joinSetup(leader);
    const res = await s.join(req, { deadline: deadline(), forwarded });
    assert.deepEqual([res.clusterId, res.nodeId, res.peerAddresses], ["c1", 5n, {
      "1": "p1",
      "5": "p5",
    }]);
    assert.deepEqual(s.forwarded, []);
    assert.deepEqual(s.joined, ["n5"]);
  }
});
