import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { SystemClock } from "../../../src/base/clock.ts";
import { ErrorCode, isRangeDbError, RangeDbError } from "../../../src/base/errors.ts";
import type { KvStore, VersionedValue } from "../../../src/kv/kv_store.ts";
import { Forwarder, type PeerCaller } from "../../../src/rpc/forwarder.ts";
import { KvHandlers } from "../../../src/rpc/kv_handlers.ts";
import { addKvService, KV_SERVICE_DEFINITION } from "../../../src/rpc/kv_service.ts";
import { addPeerService } from "../../../src/rpc/peer_service.ts";
import { ERROR_CODE_KEY, LEADER_CLIENT_ADDRESS_KEY } from "../../../src/rpc/status.ts";
import {
  BatchRequestSchema,
  CompareAndSwapRequestSchema,
  GetRequestSchema,
  type GetResponse,
  PutRequestSchema,
  type PutResponse,
  RangeRequestSchema,
  type RangeResponse,
} from "../../../proto/gen/rangedb/v1/kv_pb.ts";
import { JoinRequestSchema } from "../../../proto/gen/rangedb/v1/peer_pb.ts";
import {
  callUnary,
  fakeStore,
  notLeader,
  quietLogger,
  RecordingHandler,
  startServer,
  type TestServer,
} from "./_grpc_fixture.ts";

const enc = new TextEncoder();
const KvClient = grpc.makeGenericClientConstructor(KV_SERVICE_DEFINITION, "KV");
const clock = new SystemClock();

const noPeers: PeerCaller = {
  forward: () => Promise.reject(new Error("Cannot forward in this test")),
  join: () => Promise.reject(new Error("Cannot join in this test")),
};

async function kvNode(store: KvStore, peers: PeerCaller = noPeers) {
  const observed: [string, string][] = [];
  const handlers = new KvHandlers({ store, peers, clock, logger: quietLogger() });
  const server = await startServer((s) =>
    addKvService(s, {
      handlers,
      store,
      clock,
      logger: quietLogger(),
      observe: (method, code) => observed.push([method, code]),
    })
  );
  const client = new KvClient(server.address, grpc.credentials.createInsecure());
  return {
    server,
    client,
    observed,
    async stop() {
      client.close();
      await server.stop();
    },
  };
}

const BIG_KEY = new Uint8Array(5000).fill(0x61);
BIG_KEY[0] = 0x2f;

const invalid: { name: string; method: string; request: unknown; message: RegExp }[] = [
  {
    name: "an empty key",
    method: "Put",
    request: create(PutRequestSchema, {}),
    message: /^Cannot write key as it is empty$/,
  },
  {
    name: "a key outside '/'",
    method: "Put",
    request: create(PutRequestSchema, { key: enc.encode("abc") }),
    message: /^Cannot write key as it does not start with '\/': key is abc$/,
  },
  {
    name: "a system key",
    method: "Put",
    request: create(PutRequestSchema, { key: enc.encode("_/x") }),
    message:
      /^Cannot write key as the system keyspace '_\/' is written only through admin commands: key is _\/x$/,
  },
  {
    name: "a key over 4096 bytes",
    method: "Put",
    request: create(PutRequestSchema, { key: BIG_KEY }),
    message: /maximum key size: key is 5000 bytes, limit is 4096 bytes$/,
  },
  {
    name: "a value over 8 MiB",
    method: "Put",
    request: create(PutRequestSchema, {
      key: enc.encode("/a"),
      value: new Uint8Array(8 * 1024 * 1024 + 1),
    }),
    message: /maximum value size: value is 8388609 bytes, limit is 8388608 bytes$/,
  },
  {
    name: "a read of a system key",
    method: "Get",
    request: create(GetRequestSchema, { key: enc.encode("_/cluster") }),
    message: /^Cannot read key as the system keyspace '_\/' is read only through admin commands/,
  },
  {
    name: "an empty batch",
    method: "Batch",
    request: create(BatchRequestSchema, {}),
    message: /^Cannot write batch as it has no operations$/,
  },
  {
    name: "a batch operation without a kind",
    method: "Batch",
    request: create(BatchRequestSchema, {
      ops: [{ op: { case: "put", value: { key: enc.encode("/a") } } }, {}],
    }),
    message: /neither put nor delete \(operation 1\)$/,
  },
  {
    name: "a batch with a system key",
    method: "Batch",
    request: create(BatchRequestSchema, {
      ops: [{ op: { case: "delete", value: { key: enc.encode("_/a") } } }],
    }),
    message: /system keyspace .* \(operation 0\)$/,
  },
  {
    name: "a batch over 10,000 operations",
    method: "Batch",
    request: create(BatchRequestSchema, {
      ops: Array.from(
        { length: 10_001 },
        (_, i) => ({ op: { case: "delete" as const, value: { key: enc.encode(`/k${i}`) } } }),
      ),
    }),
    message: /maximum number of operations: batch has 10001 operations, limit is 10000$/,
  },
  {
    name: "a batch over 16 MiB of keys and values",
    method: "Batch",
    request: create(BatchRequestSchema, {
      ops: Array.from({ length: 3 }, (_, i) => ({
        op: {
          case: "put" as const,
          value: { key: enc.encode(`/k${i}`), value: new Uint8Array(6 * 1024 * 1024) },
        },
      })),
    }),
    message: /maximum batch size: keys and values are 18874377 bytes, limit is 16777216 bytes$/,
  },
  {
    name: "a request id over 128 bytes",
    method: "Put",
    request: create(PutRequestSchema, { key: enc.encode("/a"), requestId: "r".repeat(129) }),
    message: /request id exceeds the maximum size: request id is 129 bytes, limit is 128 bytes$/,
  },
  {
    name: "a compare-and-swap expecting a value over 8 MiB",
    method: "CompareAndSwap",
    request: create(CompareAndSwapRequestSchema, {
      key: enc.encode("/a"),
      expected: new Uint8Array(8 * 1024 * 1024 + 1),
    }),
    message: /expected value exceeds the maximum value size: expected is 8388609 bytes/,
  },
  {
    name: "a compare-and-swap expecting absence and a value",
    method: "CompareAndSwap",
    request: create(CompareAndSwapRequestSchema, {
      key: enc.encode("/a"),
      expectAbsent: true,
      expected: enc.encode("v"),
    }),
    message: /^Cannot compare and swap as expect_absent contradicts a non-empty expected value/,
  },
];

Deno.test("addKvService() refuses invalid requests with INVALID_ARGUMENT and a specific message", async () => {
  const node = await kvNode(fakeStore());
  try {
    for (const c of invalid) {
      await assert.rejects(
        callUnary(node.client, c.method, c.request),
        (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.INVALID_ARGUMENT, c.name);
          assert.match(err.details, c.message, c.name);
          assert.deepEqual(err.metadata.get(ERROR_CODE_KEY), ["INVALID_ARGUMENT"], c.name);
          return true;
        },
      );
    }
    assert.ok(node.observed.every(([, code]) => code === "INVALID_ARGUMENT"));
  } finally {
    await node.stop();
  }
});

const badRanges: { name: string; start: string; end: string; message: RegExp }[] = [
  {
    name: "a start outside '/'",
    start: "b",
    end: "",
    message: /start key does not start with '\/'/,
  },
  {
    name: "a start after the end",
    start: "/b",
    end: "/a",
    message: /start key is after the end key/,
  },
  {
    name: "an end past user keys",
    start: "/a",
    end: "1",
    message: /end key is past the user keyspace/,
  },
];

for (const c of badRanges) {
  Deno.test(`addKvService() refuses a Range with ${c.name}`, async () => {
    const node = await kvNode(fakeStore());
    try {
      const call = (node.client as unknown as Record<
        string,
        (r: unknown) => grpc.ClientReadableStream<RangeResponse>
      >)
        .Range(
          create(RangeRequestSchema, { start: enc.encode(c.start), end: enc.encode(c.end) }),
        );
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        call.on("data", () => {});
        call.on("error", resolve);
      });
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, c.message);
    } finally {
      await node.stop();
    }
  });
}

Deno.test("addKvService() streams a Range in chunks with defaults for empty bounds", async () => {
  let seen: { start: string; end: string; chunkSize?: number } | undefined;
  const store = fakeStore({
    scan(start, end, options) {
      seen = {
        start: new TextDecoder().decode(start),
        end: new TextDecoder().decode(end),
        chunkSize: options?.chunkSize,
      };
      return (async function* (): AsyncGenerator<VersionedValue[]> {
        yield [{ key: enc.encode("/a"), value: enc.encode("1"), version: 5n }];
        yield [{ key: enc.encode("/b"), value: enc.encode("2"), version: 6n }];
      })();
    },
  });
  const node = await kvNode(store);
  try {
    const call = (node.client as unknown as Record<
      string,
      (r: unknown) => grpc.ClientReadableStream<RangeResponse>
    >)
      .Range(create(RangeRequestSchema, {}));
    const keys: string[] = [];
    for await (const chunk of call) {
      for (const kv of (chunk as RangeResponse).kvs) {
        keys.push(`${new TextDecoder().decode(kv.key)}@${kv.version}`);
      }
    }
    assert.deepEqual(keys, ["/a@5", "/b@6"]);
    assert.deepEqual(seen, { start: "/", end: "", chunkSize: 256 });
    assert.deepEqual(node.observed, [["Range", "OK"]]);
  } finally {
    await node.stop();
  }
});

Deno.test("addKvService() forwards a write to the known leader over Peer.Forward", async () => {
  const calls: string[] = [];
  const leaderStore = fakeStore({
    nodeId: 2,
    put: (_key, _value, options) => {
      calls.push(`put ${options?.requestId}`);
      return Promise.resolve({ version: 42n });
    },
  });
  const leaderHandlers = new KvHandlers({
    store: leaderStore,
    peers: noPeers,
    clock,
    logger: quietLogger(),
  });
  const peer: TestServer = await startServer((s) =>
    addPeerService(s, {
      clusterId: () => "c1",
      handler: new RecordingHandler(),
      forward: (method, request, deadline) =>
        leaderHandlers.runForwarded(method, request, deadline),
      join: () => Promise.reject(new Error("unused")),
      logger: quietLogger(),
    })
  );
  const forwarder = new Forwarder(() => "c1");
  const follower = fakeStore({
    put: () => Promise.reject(notLeader(2)),
    peerAddressOf: (id) => (id === 2 ? peer.address : undefined),
  });
  const node = await kvNode(follower, forwarder);
  try {
    const res = await callUnary<PutResponse>(
      node.client,
      "Put",
      create(PutRequestSchema, { key: enc.encode("/k"), value: enc.encode("v"), requestId: "r1" }),
    );
    assert.equal(res.version, 42n);
    assert.deepEqual(calls, ["put r1"]);
  } finally {
    await node.stop();
    forwarder.close();
    await peer.stop();
  }
});

Deno.test("addKvService() sends the leader's client address with UNAVAILABLE", async () => {
  const store = fakeStore({
    get: () => Promise.reject(new RangeDbError(ErrorCode.UNAVAILABLE, "Cannot read: no quorum")),
    leaderNodeId: () => 3,
    clientAddressOf: (id) => (id === 3 ? "127.0.0.1:9003" : undefined),
  });
  const node = await kvNode(store);
  try {
    await assert.rejects(
      callUnary<GetResponse>(
        node.client,
        "Get",
        create(GetRequestSchema, { key: enc.encode("/k") }),
      ),
      (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.UNAVAILABLE);
        assert.deepEqual(err.metadata.get(LEADER_CLIENT_ADDRESS_KEY), ["127.0.0.1:9003"]);
        return true;
      },
    );
  } finally {
    await node.stop();
  }
});

function ctx(ms: number, forwarded = false) {
  return { deadline: Date.now() + ms, forwarded };
}

Deno.test("KvHandlers.put() fails with UNAVAILABLE at the deadline while no leader is known", async () => {
  let attempts = 0;
  const store = fakeStore({
    put: () => {
      attempts++;
      return Promise.reject(notLeader(0));
    },
  });
  const handlers = new KvHandlers({ store, peers: noPeers, clock, logger: quietLogger() });
  const started = Date.now();
  await assert.rejects(
    handlers.put(create(PutRequestSchema, { key: enc.encode("/k") }), ctx(300)),
    (err) =>
      isRangeDbError(err, ErrorCode.UNAVAILABLE) &&
      /^Cannot write as range 1 has no leader: no quorum reachable within \d+ ms$/.test(
        err.message,
      ),
  );
  const took = Date.now() - started;
  // The store's deadline is 100 ms before the call's, so the answer comes before the client's
  // (with slack for a busy machine).
  assert.ok(took >= 100 && took < 1_000, `took ${took} ms`);
  assert.ok(attempts >= 3, `attempts ${attempts}`);
});

Deno.test("KvHandlers.put() answers NOT_LEADER to a forwarded request instead of forwarding again", async () => {
  let forwards = 0;
  const peers: PeerCaller = {
    ...noPeers,
    forward: () => (forwards++, Promise.resolve(new Uint8Array(0))),
  };
  const store = fakeStore({
    put: () => Promise.reject(notLeader(3)),
    peerAddressOf: () => "127.0.0.1:1",
  });
  const handlers = new KvHandlers({ store, peers, clock, logger: quietLogger() });
  await assert.rejects(
    handlers.put(create(PutRequestSchema, { key: enc.encode("/k") }), ctx(1000, true)),
    (err) => isRangeDbError(err, ErrorCode.NOT_LEADER),
  );
  assert.equal(forwards, 0);
});

Deno.test("KvHandlers.put() retries when the leader it forwarded to is no longer the leader", async () => {
  let local = 0;
  const peers: PeerCaller = { ...noPeers, forward: () => Promise.reject(notLeader(3)) };
  const store = fakeStore({
    put: () => (++local === 1 ? Promise.reject(notLeader(2)) : Promise.resolve({ version: 7n })),
    peerAddressOf: () => "127.0.0.1:1",
  });
  const handlers = new KvHandlers({ store, peers, clock, logger: quietLogger() });
  const res = await handlers.put(create(PutRequestSchema, { key: enc.encode("/k") }), ctx(2000));
  assert.equal(res.version, 7n);
  assert.equal(local, 2);
});

Deno.test("KvHandlers.put() retries an unreachable leader only when a request id makes it safe", async () => {
  const transportError = new RangeDbError(ErrorCode.UNAVAILABLE, "No connection established", {
    details: { transport: true },
  });
  let local = 0;
  const peers: PeerCaller = { ...noPeers, forward: () => Promise.reject(transportError) };
  const store = fakeStore({
    put: () => (++local === 1 ? Promise.reject(notLeader(2)) : Promise.resolve({ version: 9n })),
    peerAddressOf: () => "127.0.0.1:1",
  });
  const handlers = new KvHandlers({ store, peers, clock, logger: quietLogger() });
  await assert.rejects(
    handlers.put(create(PutRequestSchema, { key: enc.encode("/k") }), ctx(2000)),
    (err) => err === transportError,
  );
  local = 0;
  const res = await handlers.put(
    create(PutRequestSchema, { key: enc.encode("/k"), requestId: "r" }),
    ctx(2000),
  );
  assert.equal(res.version, 9n);
});

Deno.test("KvHandlers.get() retries NOT_LEADER on this node and never forwards a read", async () => {
  let reads = 0;
  const store = fakeStore({
    get: () =>
      ++reads < 3
        ? Promise.reject(notLeader(2))
        : Promise.resolve({ key: enc.encode("/k"), value: enc.encode("v"), version: 3n }),
  });
  const handlers = new KvHandlers({ store, peers: noPeers, clock, logger: quietLogger() });
  const res = await handlers.get(create(GetRequestSchema, { key: enc.encode("/k") }), ctx(2000));
  assert.deepEqual([res.found, res.version, reads], [true, 3n, 3]);
});

Deno.test("KvHandlers.runForwarded() refuses an unknown method", async () => {
  const handlers = new KvHandlers({
    store: fakeStore(),
    peers: noPeers,
    clock,
    logger: quietLogger(),
  });
  await assert.rejects(
    handlers.runForwarded("Txn", new Uint8Array(0), Date.now() + 1000),
    (err) => isRangeDbError(err, ErrorCode.INVALID_ARGUMENT) && /method is Txn$/.test(err.message),
  );
});

Deno.test("Peer.Join answers UNAVAILABLE while the node is still starting, so start-up checks skip it", async () => {
  const peer: TestServer = await startServer((s) =>
    addPeerService(s, {
      clusterId: () => "",
      handler: new RecordingHandler(),
      forward: () => Promise.reject(new Error("unused")),
      join: () => Promise.reject(new Error("must not be reached")),
      logger: quietLogger(),
    })
  );
  const forwarder = new Forwarder(() => "c1");
  try {
    await assert.rejects(
      forwarder.join(
        peer.address,
        create(JoinRequestSchema, { name: "n4", clusterId: "c1", checkOnly: true }),
        Date.now() + 2_000,
      ),
      (e) => isRangeDbError(e, ErrorCode.UNAVAILABLE) && /still starting/.test(e.message),
    );
  } finally {
    forwarder.close();
    await peer.stop();
  }
});
