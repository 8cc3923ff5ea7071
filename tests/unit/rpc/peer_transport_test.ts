import assert from "node:assert/strict";
import { SystemClock } from "../../../src/base/clock.ts";
import type { SnapshotPair } from "../../../src/kv/transport.ts";
import { type Message, MessageType } from "../../../src/raft/mod.ts";
import { addPeerService } from "../../../src/rpc/peer_service.ts";
import { GrpcPeerTransport } from "../../../src/rpc/peer_transport.ts";
import {
  quietLogger,
  RecordingHandler,
  startServer,
  type TestServer,
  waitFor,
} from "./_grpc_fixture.ts";

function msg(index: number, type: MessageType = MessageType.App): Message {
  return {
    type,
    to: 2,
    from: 1,
    term: 1,
    logTerm: 1,
    index,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
  };
}

function peerServer(handler: RecordingHandler, port = 0, clusterId = "c1"): Promise<TestServer> {
  return startServer((server) =>
    addPeerService(server, {
      clusterId: () => clusterId,
      handler,
      forward: () => Promise.reject(new Error("unused")),
      join: () => Promise.reject(new Error("unused")),
      logger: quietLogger(),
    }), port);
}

function transport(resolve: (id: number) => string | undefined, clusterId = "c1") {
  const t = new GrpcPeerTransport({
    clusterId,
    nodeId: 1,
    resolve,
    logger: quietLogger(),
    clock: new SystemClock(),
  });
  const handler = new RecordingHandler();
  t.setHandler(handler);
  return { t, handler };
}

Deno.test("GrpcPeerTransport.send() delivers batches in order on one stream", async () => {
  const receiver = new RecordingHandler();
  const server = await peerServer(receiver);
  const { t, handler } = transport(() => server.address);
  try {
    t.send(2, [{ rangeId: 1, message: msg(0) }]);
    await waitFor(() => receiver.batches.length === 1, 5000, "first batch");
    // One batch per scheduler turn: turns are separate macrotasks.
    for (let i = 1; i <= 200; i++) {
      t.send(2, [{ rangeId: 1, message: msg(i) }, { rangeId: 3, message: msg(i) }]);
      await new Promise((r) => setTimeout(r, 0));
    }
    await waitFor(() => receiver.batches.length === 201, 5000, "201 batches");
    assert.deepEqual(
      receiver.batches.map((b) => b.messages[0].message.index),
      Array.from({ length: 201 }, (_, i) => i),
    );
    assert.ok(receiver.batches.slice(1).every((b) => b.from === 1 && b.messages[1].rangeId === 3));
    assert.deepEqual(handler.unreachable, []);
  } finally {
    t.close();
    await server.stop();
  }
});

Deno.test("GrpcPeerTransport.send() drops batches beyond a full write buffer, in order", async () => {
  const receiver = new RecordingHandler();
  const server = await peerServer(receiver);
  const { t, handler } = transport(() => server.address);
  try {
    for (let i = 1; i <= 200; i++) t.send(2, [{ rangeId: 1, message: msg(i) }]);
    await waitFor(() => handler.unreachable.length === 1, 5000, "unreachable report");
    await new Promise((r) => setTimeout(r, 200));
    const got = receiver.batches.map((b) => b.messages[0].message.index);
    assert.ok(got.length > 0 && got.length < 200, `received ${got.length}`);
    assert.deepEqual(got, Array.from({ length: got.length }, (_, i) => i + 1));
    // Once drained, the stream takes batches again.
    t.send(2, [{ rangeId: 1, message: msg(500) }]);
    await waitFor(
      () => receiver.batches.at(-1)?.messages[0].message.index === 500,
      5000,
      "batch 500",
    );
  } finally {
    t.close();
    await server.stop();
  }
});

Deno.test("GrpcPeerTransport.send() reconnects after the receiver restarts", async () => {
  const first = new RecordingHandler();
  let server = await peerServer(first);
  const port = server.port;
  const { t, handler } = transport(() => `127.0.0.1:${port}`);
  try {
    t.send(2, [{ rangeId: 1, message: msg(1) }]);
    await waitFor(() => first.batches.length === 1, 5000, "first batch");
    await server.stop();
    // Sends while the receiver is down are dropped and reported once.
    await waitFor(
      () => {
        t.send(2, [{ rangeId: 1, message: msg(2) }]);
        return handler.unreachable.length > 0;
      },
      5000,
      "unreachable report",
    );
    for (let i = 0; i < 10; i++) t.send(2, [{ rangeId: 1, message: msg(3) }]);
    assert.deepEqual(handler.unreachable, [2]);
    const second = new RecordingHandler();
    server = await peerServer(second, port);
    await waitFor(
      () => {
        t.send(2, [{ rangeId: 1, message: msg(4) }]);
        return second.batches.length > 0;
      },
      5000,
      "batch after restart",
    );
    assert.equal(second.batches[0].from, 1);
  } finally {
    t.close();
    await server.stop();
  }
});

Deno.test("GrpcPeerTransport.send() reports an unreachable node once per failure episode", async () => {
  const closed = await startServer(() => {});
  const address = closed.address;
  await closed.stop();
  const { t, handler } = transport((id) => (id === 2 ? address : undefined));
  try {
    await waitFor(
      () => {
        t.send(2, [{ rangeId: 1, message: msg(1) }]);
        return handler.unreachable.length > 0;
      },
      5000,
      "unreachable report",
    );
    for (let i = 0; i < 20; i++) t.send(2, [{ rangeId: 1, message: msg(1) }]);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(handler.unreachable, [2]);
    t.send(3, [{ rangeId: 1, message: msg(1) }]);
    t.send(3, [{ rangeId: 1, message: msg(1) }]);
    assert.deepEqual(handler.unreachable, [2, 3]);
  } finally {
    t.close();
  }
});

Deno.test("GrpcPeerTransport.send() is refused by a node of another cluster", async () => {
  const receiver = new RecordingHandler();
  const server = await peerServer(receiver, 0, "c2");
  const { t, handler } = transport(() => server.address);
  try {
    await waitFor(
      () => {
        t.send(2, [{ rangeId: 1, message: msg(1) }]);
        return handler.unreachable.length > 0;
      },
      5000,
      "unreachable report",
    );
    assert.equal(receiver.batches.length, 0);
  } finally {
    t.close();
    await server.stop();
  }
});

Deno.test("GrpcPeerTransport.sendSnapshot() delivers a 3 MiB snapshot complete and in order", async () => {
  const receiver = new RecordingHandler();
  const server = await peerServer(receiver);
  const { t } = transport(() => server.address);
  const value = new Uint8Array(64 * 1024).fill(7);
  const pairs: SnapshotPair[] = [];
  for (let i = 0; i < 48; i++) {
    pairs.push({
      keyspace: i < 40 ? "data" : "raft_state",
      key: new TextEncoder().encode(`/k/${String(i).padStart(3, "0")}`),
      value,
    });
  }
  let closed = 0;
  const snapMsg: Message = {
    ...msg(0, MessageType.Snap),
    snapshot: {
      metadata: {
        index: 500,
        term: 3,
        confState: {
          voters: [1, 2, 3],
          learners: [],
          votersOutgoing: [],
          learnersNext: [],
          autoLeave: false,
        },
      },
      data: new Uint8Array(0),
    },
  };
  try {
    const accepted = await t.sendSnapshot(2, {
      rangeId: 1,
      message: snapMsg,
      appliedState: Uint8Array.of(1, 2, 3),
      pairs,
      close: () => closed++,
    });
    assert.equal(accepted, true);
    assert.equal(closed, 0);
    assert.equal(receiver.snapshots.length, 1);
    const got = receiver.snapshots[0];
    assert.equal(got.rangeId, 1);
    assert.equal(got.fromNodeId, 1);
    assert.deepEqual(got.message, snapMsg);
    assert.deepEqual(Uint8Array.from(got.appliedState), Uint8Array.of(1, 2, 3));
    assert.equal(got.pairs.length, 48);
    assert.deepEqual(
      got.pairs.map((p) => [p.keyspace, new TextDecoder().decode(p.key)]),
      pairs.map((p) => [p.keyspace, new TextDecoder().decode(p.key)]),
    );
    assert.ok(got.pairs.every((p) => p.value.length === value.length && p.value[100] === 7));
  } finally {
    t.close();
    await server.stop();
  }
});

Deno.test("GrpcPeerTransport.sendSnapshot() resolves false and releases the snapshot when the node is down", async () => {
  const closedServer = await startServer(() => {});
  const address = closedServer.address;
  await closedServer.stop();
  const { t } = transport((id) => (id === 2 ? address : undefined));
  let closed = 0;
  let exhausted = false;
  try {
    const pairs = (function* () {
      for (let i = 0; i < 100; i++) {
        yield {
          keyspace: "data" as const,
          key: Uint8Array.of(0x2f, i),
          value: new Uint8Array(64 * 1024),
        };
      }
      exhausted = true;
    })();
    const accepted = await t.sendSnapshot(2, {
      rangeId: 1,
      message: msg(0, MessageType.Snap),
      appliedState: new Uint8Array(0),
      pairs,
      close: () => closed++,
    });
    assert.equal(accepted, false);
    // Released either by running to its end or through close(), never both, never neither.
    assert.ok(exhausted !== (closed === 1), `exhausted ${exhausted}, closed ${closed}`);
    assert.equal(
      await t.sendSnapshot(9, {
        rangeId: 1,
        message: msg(0),
        appliedState: new Uint8Array(0),
        pairs: [],
        close: () => closed++,
      }),
      false,
    );
  } finally {
    t.close();
  }
});
