import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ErrorCode, isRangeDbError, RangeDbError } from "../../../src/base/errors.ts";
import { GetRequestSchema, PutRequestSchema } from "../../../proto/gen/rangedb/v1/kv_pb.ts";
import { notLeader } from "./_grpc_fixture.ts";
import { rangeInfo, withNodes } from "./_cluster_fixture.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function rangeNotFound(): RangeDbError {
  return new RangeDbError(ErrorCode.RANGE_NOT_FOUND, "Cannot write as no replica here holds it");
}

const put = create(PutRequestSchema, { key: enc.encode("/k"), value: enc.encode("v") });
const get = create(GetRequestSchema, { key: enc.encode("/k") });
const ctx = (ms = 2_000) => ({ deadline: Date.now() + ms, forwarded: false });
const written = (version: bigint) => () => Promise.resolve({ version });

Deno.test("KvHandlers.put() forwards a write whose range has no replica here to the range's leader", async () => {
  await withNodes({
    1: {
      put: () => Promise.reject(rangeNotFound()),
      lookupRange: () => rangeInfo(5, "/a", "/m", { leaderNodeId: 3 }),
    },
    2: {},
    3: { put: written(7n) },
  }, async (c) => {
    assert.equal((await c.node(1).kv.put(put, ctx())).version, 7n);
    assert.deepEqual(c.received(), ["3:Put"]);
  });
});

Deno.test("KvHandlers.put() follows the NOT_LEADER of a forwarded write to the leader it names", async () => {
  await withNodes({
    1: {
      put: () => Promise.reject(rangeNotFound()),
      lookupRange: () => rangeInfo(5, "/a", "/m", { voters: [2, 3] }),
    },
    2: { put: () => Promise.reject(notLeader(3)) },
    3: { put: written(8n) },
  }, async (c) => {
    assert.equal((await c.node(1).kv.put(put, ctx())).version, 8n);
    assert.deepEqual(c.received(), ["2:Put", "3:Put"]);
  });
});

Deno.test("KvHandlers.put() forwards on NOT_LEADER to the range's leader from the error", async () => {
  await withNodes({
    1: { put: () => Promise.reject(notLeader(2)), leaderNodeId: () => 3 },
    2: { put: written(9n) },
    3: {},
  }, async (c) => {
    assert.equal((await c.node(1).kv.put(put, ctx())).version, 9n);
    assert.deepEqual(c.received(), ["2:Put"]);
  });
});

Deno.test("KvHandlers.put() runs a write again at once after RANGE_MOVED", async () => {
  const answers = [new RangeDbError(ErrorCode.RANGE_MOVED, "Cannot write as the range split")];
  const at: number[] = [];
  await withNodes({
    1: {
      put: () => {
        at.push(Date.now());
        const next = answers.shift();
        return next === undefined ? written(3n)() : Promise.reject(next);
      },
    },
  }, async (c) => {
    assert.equal((await c.node(1).kv.put(put, ctx())).version, 3n);
    assert.equal(at.length, 2);
    assert.ok(at[1] - at[0] < 15);
    assert.deepEqual(c.received(), []);
  });
});

Deno.test("KvHandlers.put() never forwards a forwarded write again", async () => {
  // Node 2 knows the range's leader (3) and could reach it; node 1 cannot. Only node 1 forwards.
  await withNodes({
    1: {
      put: () => Promise.reject(rangeNotFound()),
      lookupRange: () => rangeInfo(5, "/a", "/m", { voters: [2] }),
    },
    2: {
      put: () => Promise.reject(rangeNotFound()),
      lookupRange: () => rangeInfo(5, "/a", "/m", { leaderNodeId: 3 }),
    },
    3: { put: written(1n) },
  }, async (c) => {
    const started = Date.now();
    await assert.rejects(
      c.node(1).kv.put(put, ctx(400)),
      (err) =>
        isRangeDbError(err, ErrorCode.UNAVAILABLE) &&
        /^Cannot write as no node of the range took the request: tried 1 of nodes 2, last error is Cannot write as no replica here holds it/
          .test(err.message),
    );
    assert.ok(Date.now() - started < 400);
    assert.deepEqual(c.node(3).received, []);
    assert.ok(c.received().every((r) => r === "2:Put"));
  });
});

Deno.test("KvHandlers.put() does not send a write without request id to another node after a transport failure", async () => {
  await withNodes({
    1: {
      put: () => Promise.reject(rangeNotFound()),
      lookupRange: () => rangeInfo(5, "/a", "/m", { leaderNodeId: 2, voters: [2, 3] }),
    },
    2: {},
    3: { put: written(1n) },
  }, async (c) => {
    const node1 = c.node(1);
    const reach = node1.store.peerAddressOf;
    // Nothing listens at node 2's peer address: the Forward call fails in transport.
    node1.store.peerAddressOf = (n) => n === 2 ? "127.0.0.1:1" : reach(n);
    await assert.rejects(
      node1.kv.put(put, ctx(300)),
      (err) => isRangeDbError(err, ErrorCode.UNAVAILABLE),
    );
    assert.deepEqual(c.node(3).received, []);
    const withId = create(PutRequestSchema, { ...put, requestId: "r1" });
    assert.equal((await node1.kv.put(withId, ctx())).version, 1n);
    assert.deepEqual(c.node(3).received, ["Put"]);
  });
});

Deno.test("KvHandlers.get() asks range 1's leader for the range and forwards the read", async () => {
  await withNodes({
    1: {
      leaderNodeId: () => 2,
      get: () => Promise.reject(rangeNotFound()),
      lookupRange: () => {
        throw rangeNotFound();
      },
    },
    2: { lookupRange: () => rangeInfo(5, "/a", "/m", { leaderNodeId: 3, local: true }) },
    3: {
      get: (key) => Promise.resolve({ key, value: enc.encode("from 3"), version: 4n }),
    },
  }, async (c) => {
    const res = await c.node(1).kv.get(get, ctx());
    assert.deepEqual([res.found, dec.decode(res.value), res.version], [true, "from 3", 4n]);
    assert.deepEqual(c.received(), ["2:LookupRange", "3:Get"]);
  });
});

Deno.test("KvHandlers.get() tries the next replica when one cannot serve the read", async () => {
  await withNodes({
    1: {
      get: () => Promise.reject(rangeNotFound()),
      lookupRange: () => rangeInfo(5, "/a", "/m", { leaderNodeId: 2, voters: [2, 3] }),
    },
    2: {
      get: () => Promise.reject(new RangeDbError(ErrorCode.UNAVAILABLE, "Cannot read: no quorum")),
    },
    3: { get: () => Promise.resolve(undefined) },
  }, async (c) => {
    const res = await c.node(1).kv.get(get, ctx());
    assert.equal(res.found, false);
    assert.deepEqual(c.received(), ["2:Get", "3:Get"]);
  });
});

Deno.test("KvHandlers.get() answers RANGE_NOT_FOUND for a forwarded read without a replica", async () => {
  await withNodes({
    1: {
      get: () => Promise.reject(rangeNotFound()),
      lookupRange: () => rangeInfo(5, "/a", "/m", { leaderNodeId: 3 }),
    },
  }, async (c) => {
    await assert.rejects(
      c.node(1).kv.get(get, { deadline: Date.now() + 1_000, forwarded: true }),
      (err) => isRangeDbError(err, ErrorCode.RANGE_NOT_FOUND),
    );
    assert.deepEqual(c.received(), []);
  });
});
