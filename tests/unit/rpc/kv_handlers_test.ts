import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { SystemClock } from "../../../src/base/clock.ts";
import { ErrorCode, isRangeDbError, RangeDbError } from "../../../src/base/errors.ts";
import type { PeerCaller } from "../../../src/rpc/forwarder.ts";
import { KvHandlers, storeDeadline } from "../../../src/rpc/kv_handlers.ts";
import {
  GetRequestSchema,
  PutRequestSchema,
  RangeRequestSchema,
} from "../../../proto/gen/rangedb/v1/kv_pb.ts";
import { fakeStore, quietLogger } from "./_grpc_fixture.ts";

const enc = new TextEncoder();
const clock = new SystemClock();
const noPeers: PeerCaller = {
  forward: () => Promise.reject(new Error("Cannot forward in this test")),
  join: () => Promise.reject(new Error("Cannot join in this test")),
};

function ctx(ms: number, forwarded = false) {
  return { deadline: Date.now() + ms, forwarded };
}

/** Rejects with `code` at `deadline`, as the store does when its deadline passes. */
function failAt(deadline: number | undefined, code: ErrorCode): Promise<never> {
  return new Promise((_, reject) =>
    setTimeout(
      () => reject(new RangeDbError(code, "Cannot read as the deadline passed")),
      Math.max(0, (deadline ?? 0) - Date.now()),
    )
  );
}

Deno.test("storeDeadline() leaves 10% of the budget, at least 100 ms and at most half", () => {
  assert.equal(storeDeadline(10_000, 5_000), 9_500);
  assert.equal(storeDeadline(1_500, 1_000), 1_400);
  assert.equal(storeDeadline(1_100, 1_000), 1_050);
  assert.equal(storeDeadline(1_000, 2_000), 1_000);
});

Deno.test("KvHandlers.get() answers UNAVAILABLE before the call's deadline when no read point is confirmed", async () => {
  const deadlines: number[] = [];
  const store = fakeStore({
    leaderNodeId: () => 0,
    get: (_key, options) => {
      deadlines.push(options?.deadline ?? 0);
      return failAt(options?.deadline, ErrorCode.TIMEOUT);
    },
  });
  const handlers = new KvHandlers({ store, peers: noPeers, clock, logger: quietLogger() });
  const c = ctx(1_000);
  await assert.rejects(
    handlers.get(create(GetRequestSchema, { key: enc.encode("/k") }), c),
    (err) =>
      isRangeDbError(err, ErrorCode.UNAVAILABLE) &&
      /^Cannot read as range 1 has no leader: no quorum reachable within \d+ ms$/.test(
        err.message,
      ),
  );
  assert.ok(Date.now() < c.deadline, "answered before the call's deadline");
  assert.ok(
    deadlines[0] <= c.deadline - 100,
    `store deadline ${c.deadline - deadlines[0]} ms early`,
  );
});

Deno.test("KvHandlers.get() answers UNAVAILABLE when the read point times out under a known leader", async () => {
  const store = fakeStore({
    leaderNodeId: () => 2,
    get: (_key, options) => failAt(options?.deadline, ErrorCode.TIMEOUT),
  });
  const handlers = new KvHandlers({ store, peers: noPeers, clock, logger: quietLogger() });
  await assert.rejects(
    handlers.get(create(GetRequestSchema, { key: enc.encode("/k") }), ctx(500)),
    (err) =>
      isRangeDbError(err, ErrorCode.UNAVAILABLE) &&
      /no quorum confirmed a read point within \d+ ms: leader is node 2$/.test(err.message),
  );
});

Deno.test("KvHandlers.range() answers UNAVAILABLE when the scan's read point times out", async () => {
  const store = fakeStore({
    leaderNodeId: () => 0,
    scan: (_start, _end, options) =>
      (async function* () {
        await failAt(options?.deadline, ErrorCode.TIMEOUT);
        yield [];
      })(),
  });
  const handlers = new KvHandlers({ store, peers: noPeers, clock, logger: quietLogger() });
  const c = ctx(500);
  const chunks = handlers.range(create(RangeRequestSchema, {}), c)[Symbol.asyncIterator]();
  await assert.rejects(chunks.next(), (err) => isRangeDbError(err, ErrorCode.UNAVAILABLE));
  assert.ok(Date.now() < c.deadline);
});

Deno.test("KvHandlers.put() answers ambiguous UNAVAILABLE when a write times out without a leader", async () => {
  const store = fakeStore({
    leaderNodeId: () => 0,
    put: (_key, _value, options) => failAt(options?.deadline, ErrorCode.TIMEOUT),
  });
  const handlers = new KvHandlers({ store, peers: noPeers, clock, logger: quietLogger() });
  const c = ctx(600);
  await assert.rejects(
    handlers.put(create(PutRequestSchema, { key: enc.encode("/k") }), c),
    (err) =>
      isRangeDbError(err, ErrorCode.UNAVAILABLE) && err.details.ambiguous === true &&
      /^Cannot write as range 1 has no leader/.test(err.message),
  );
  assert.ok(Date.now() < c.deadline);
});

Deno.test("KvHandlers.runForwarded() reports forwarded requests to observe by method and status", async () => {
  const observed: [string, string][] = [];
  const store = fakeStore({
    put: () => Promise.resolve({ version: 1n }),
    get: () => Promise.reject(new RangeDbError(ErrorCode.UNAVAILABLE, "Cannot read: test")),
  });
  const handlers = new KvHandlers({
    store,
    peers: noPeers,
    clock,
    logger: quietLogger(),
    observe: (method, code) => observed.push([method, code]),
  });
  const deadline = Date.now() + 1_000;
  await handlers.runForwarded(
    "Put",
    toBinary(PutRequestSchema, create(PutRequestSchema, { key: enc.encode("/k") })),
    deadline,
  );
  await assert.rejects(
    handlers.runForwarded(
      "Get",
      toBinary(GetRequestSchema, create(GetRequestSchema, { key: enc.encode("/k") })),
      deadline,
    ),
  );
  await assert.rejects(handlers.runForwarded("Txn", new Uint8Array(0), deadline));
  assert.deepEqual(observed, [
    ["Put", "OK"],
    ["Get", "UNAVAILABLE"],
    ["Unknown", "INVALID_ARGUMENT"],
  ]);
});
