import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { SystemClock } from "../../../src/base/clock.ts";
import type { SnapshotPair } from "../../../src/kv/transport.ts";
import { type Message, MessageType } from "../../../src/raft/mod.ts";
import { addPeerService } from "../../../src/rpc/peer_service.ts";
import { GrpcPeerTransport } from "../../../src/rpc/peer_transport.ts";
import { quietLogger, RecordingHandler, startServer, waitFor } from "./_grpc_fixture.ts";
import { msg, rawDial, type RawStream, startNode, type TestNode } from "./_peer_fixture.ts";

function lone(resolve: (id: number) => string | undefined) {
  const t = new GrpcPeerTransport({
    clusterId: "c1",
    nodeId: 1,
    resolve,
    logger: quietLogger(),
    clock: new SystemClock(),
  });
  const handler = new RecordingHandler();
  t.setHandler(handler);
  return { t, handler };
}

/** Sends one batch `from` → `to` per poll until `to` has received `count` batches. */
function sendUntil(from: TestNode, to: TestNode, count: number, index = 1) {
  return waitFor(
    () => {
      from.transport.send(to.id, [{ rangeId: 1, message: msg(index) }]);
      return to.handler.batches.length >= count;
    },
    5000,
    `batch ${from.id} → ${to.id}`,
  );
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("GrpcPeerTransport.send() carries both directions in order over one stream dialled by the lower id", async () => {
  const addresses = new Map<number, string>();
  const n1 = await startNode(1, { addresses });
  const n2 = await startNode(2, { addresses });
  try {
    n1.transport.send(2, [{ rangeId: 1, message: msg(0) }]);
    await waitFor(() => n2.handler.batches.length === 1, 5000, "first batch 1 → 2");
    n2.transport.send(1, [{ rangeId: 1, message: msg(0) }]);
    await waitFor(() => n1.handler.batches.length === 1, 5000, "first batch 2 → 1");
    // One batch per scheduler turn: turns are separate macrotasks.
    for (let i = 1; i <= 200; i++) {
      n1.transport.send(2, [{ rangeId: 1, message: msg(i) }, { rangeId: 3, message: msg(i) }]);
      n2.transport.send(1, [{ rangeId: 1, message: msg(i) }, { rangeId: 3, message: msg(i) }]);
      await tick();
    }
    for (const [to, from] of [[n2, 1], [n1, 2]] as const) {
      await waitFor(() => to.handler.batches.length === 201, 5000, `201 batches at ${to.id}`);
      assert.deepEqual(
        to.handler.batches.map((b) => b.messages[0].message.index),
        Array.from({ length: 201 }, (_, i) => i),
      );
      assert.ok(to.handler.batches.every((b) => b.from === from));
      assert.ok(to.handler.batches.slice(1).every((b) => b.messages[1].rangeId === 3));
    }
    assert.equal(n2.calls, 1);
    assert.equal(n1.calls, 0);
    assert.deepEqual(n1.handler.unreachable, []);
    assert.deepEqual(n2.handler.unreachable, []);
  } finally {
    await n1.stop();
    await n2.stop();
  }
});

Deno.test("GrpcPeerTransport.send() delivers empty (liveness) batches and coalesced heartbeats with their quiesce mark", async () => {
  const addresses = new Map<number, string>();
  const n1 = await startNode(1, { addresses });
  const n2 = await startNode(2, { addresses });
  try {
    const hb = { ...msg(0, MessageType.Heartbeat), logTerm: 0, commit: 9 };
    const resp = { ...msg(0, MessageType.HeartbeatResp), logTerm: 0, to: 1, from: 2 };
    await sendUntil(n1, n2, 1);
    n1.transport.send(2, []);
    n1.transport.send(2, [
      { rangeId: 4, message: hb, quiesce: true },
      { rangeId: 1, message: msg(3) },
      { rangeId: 5, message: hb },
    ]);
    await waitFor(() => n2.handler.batches.length >= 3, 5000, "three batches at 2");
    const [, empty, mixed] = n2.handler.batches.slice(-3);
    assert.deepEqual(empty, { from: 1, messages: [] });
    assert.deepEqual(mixed.messages, [
      { rangeId: 4, message: hb, quiesce: true },
      { rangeId: 5, message: hb },
      { rangeId: 1, message: msg(3) },
    ]);
    n2.transport.send(1, [{ rangeId: 4, message: resp, quiesce: true }]);
    await waitFor(() => n1.handler.batches.length === 1, 5000, "a batch at 1");
    assert.deepEqual(n1.handler.batches[0].messages, [{
      rangeId: 4,
      message: resp,
      quiesce: true,
    }]);
  } finally {
    await n1.stop();
    await n2.stop();
  }
});

Deno.test("GrpcPeerTransport.send() drops batches beyond a full write buffer, in order, on both sides", async () => {
  const addresses = new Map<number, string>();
  const n2 = await startNode(2, { addresses });
  const n1 = await startNode(1, { addresses, peers: () => [2] });
  try {
    await sendUntil(n2, n1, 1, 0);
    for (const [from, to] of [[n1, n2], [n2, n1]] as const) {
      const reports = from.handler.unreachable.length;
      for (let i = 1; i <= 200; i++) from.transport.send(to.id, [{ rangeId: 1, message: msg(i) }]);
      await waitFor(
        () => from.handler.unreachable.length === reports + 1,
        5000,
        "unreachable report",
      );
      await new Promise((r) => setTimeout(r, 200));
      // Index 0: batches of the setup that were still on their way.
      const got = to.handler.batches.map((b) => b.messages[0].message.index).filter((i) => i > 0);
      assert.ok(got.length > 0 && got.length < 200, `received ${got.length}`);
      assert.deepEqual(got, Array.from({ length: got.length }, (_, i) => i + 1));
      // Once drained, the stream takes batches again.
      from.transport.send(to.id, [{ rangeId: 1, message: msg(500) }]);
      await waitFor(
        () => to.handler.batches.at(-1)?.messages[0].message.index === 500,
        5000,
        "batch 500",
      );
    }
    assert.equal(n2.calls, 1);
  } finally {
    await n1.stop();
    await n2.stop();
  }
});

Deno.test("GrpcPeerTransport.send() reconnects after the accepting node restarts", async () => {
  const addresses = new Map<number, string>();
  const n1 = await startNode(1, { addresses, peers: () => [1, 2] });
  let n2 = await startNode(2, { addresses });
  try {
    await sendUntil(n1, n2, 1);
    await n2.stop();
    // Sends while the acceptor is down are dropped and reported once.
    await waitFor(
      () => {
        n1.transport.send(2, [{ rangeId: 1, message: msg(2) }]);
        return n1.handler.unreachable.length > 0;
      },
      5000,
      "unreachable report",
    );
    for (let i = 0; i < 10; i++) n1.transport.send(2, [{ rangeId: 1, message: msg(3) }]);
    assert.deepEqual(n1.handler.unreachable, [2]);
    n2 = await startNode(2, { addresses, port: n2.port });
    // Node 1 redials by itself: the restarted node can send before node 1 does.
    await sendUntil(n2, n1, 1);
    assert.equal(n1.handler.batches[0].from, 2);
    await sendUntil(n1, n2, 1);
    assert.equal(n2.calls, 1);
  } finally {
    await n1.stop();
    await n2.stop();
  }
});

Deno.test("GrpcPeerTransport.accept() replaces the stream of a restarted dialling node", async () => {
  const addresses = new Map<number, string>();
  let n1 = await startNode(1, { addresses, peers: () => [1, 2] });
  const n2 = await startNode(2, { addresses });
  try {
    await sendUntil(n2, n1, 1);
    await n1.stop();
    await waitFor(
      () => {
        n2.transport.send(1, [{ rangeId: 1, message: msg(2) }]);
        return n2.handler.unreachable.length > 0;
      },
      5000,
      "unreachable report",
    );
    for (let i = 0; i < 10; i++) n2.transport.send(1, [{ rangeId: 1, message: msg(3) }]);
    assert.deepEqual(n2.handler.unreachable, [1]);
    n1 = await startNode(1, { addresses, peers: () => [1, 2], port: n1.port });
    await sendUntil(n2, n1, 1);
    await sendUntil(n1, n2, 1);
    assert.equal(n2.calls, 2);
    assert.equal(n1.calls, 0);
  } finally {
    await n1.stop();
    await n2.stop();
  }
});

Deno.test("GrpcPeerTransport.accept() ends a stale stream when the same node dials again", async () => {
  const addresses = new Map<number, string>();
  const n2 = await startNode(2, { addresses });
  const first = rawDial(n2.address, "c1", 1, 2);
  let second: RawStream | undefined;
  try {
    await waitFor(first.accepted, 5000, "first stream accepted");
    second = rawDial(n2.address, "c1", 1, 2);
    const status = await first.status;
    assert.equal(status.code, grpc.status.UNAVAILABLE);
    assert.match(status.details, /dialled a newer one/);
    await waitFor(
      () => {
        n2.transport.send(1, [{ rangeId: 1, message: msg(7) }]);
        return second!.batches.length > 0;
      },
      5000,
      "batch on the newer stream",
    );
    assert.equal(second.batches[0].messages[0].message?.index, 7n);
    assert.equal(first.batches.length, 0);
    assert.equal(n2.calls, 2);
  } finally {
    first.close();
    second?.close();
    await n2.stop();
  }
});

Deno.test("GrpcPeerTransport.send() reports the node unreachable on the higher-id side until the lower-id node dials", async () => {
  const addresses = new Map<number, string>();
  const n2 = await startNode(2, { addresses });
  let n1: TestNode | undefined;
  try {
    for (let i = 0; i < 20; i++) n2.transport.send(1, [{ rangeId: 1, message: msg(i) }]);
    assert.deepEqual(n2.handler.unreachable, [1]);
    assert.equal(n2.calls, 0);
    // Node 1 knows node 2 from its peer list only: it dials without having sent anything.
    n1 = await startNode(1, { addresses, peers: () => [2] });
    await sendUntil(n2, n1, 1);
    assert.deepEqual(n2.handler.unreachable, [1]);
    assert.deepEqual(n1.handler.unreachable, []);
  } finally {
    await n1?.stop();
    await n2.stop();
  }
});

Deno.test("GrpcPeerTransport.send() reports an unreachable node once per failure episode", async () => {
  const closed = await startServer(() => {});
  const address = closed.address;
  await closed.stop();
  const { t, handler } = lone((id) => (id === 2 ? address : undefined));
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
    // Node 3's address is unknown: reported at once, once.
    t.send(3, [{ rangeId: 1, message: msg(1) }]);
    t.send(3, [{ rangeId: 1, message: msg(1) }]);
    assert.deepEqual(handler.unreachable, [2, 3]);
  } finally {
    t.close();
  }
});

Deno.test("GrpcPeerTransport.send() is refused by a node of another cluster", async () => {
  const addresses = new Map<number, string>();
  const n2 = await startNode(2, { addresses, serviceClusterId: "c2" });
  const n1 = await startNode(1, { addresses });
  try {
    await waitFor(
      () => {
        n1.transport.send(2, [{ rangeId: 1, message: msg(1) }]);
        return n1.handler.unreachable.length > 0;
      },
      5000,
      "unreachable report",
    );
    assert.equal(n2.handler.batches.length, 0);
  } finally {
    await n1.stop();
    await n2.stop();
  }
});

Deno.test("GrpcPeerTransport refuses a dialling node that lost its data (another incarnation)", async () => {
  const addresses = new Map<number, string>();
  const n2 = await startNode(2, { addresses, incarnation: "b", recorded: new Map([[1, "old"]]) });
  const n1 = await startNode(1, { addresses, incarnation: "new" });
  try {
    await waitFor(
      () => {
        n1.transport.send(2, [{ rangeId: 1, message: msg(1) }]);
        return n1.handler.unreachable.length > 0;
      },
      5000,
      "unreachable report",
    );
    assert.equal(n2.handler.batches.length, 0, "nothing from the wiped node arrives");
  } finally {
    await n1.stop();
    await n2.stop();
  }
});

Deno.test("GrpcPeerTransport drops an accepting node that lost its data (another incarnation)", async () => {
  const addresses = new Map<number, string>();
  const n2 = await startNode(2, { addresses, incarnation: "new" });
  const n1 = await startNode(1, {
    addresses,
    incarnation: "a",
    recorded: new Map([[2, "old"]]),
    peers: () => [2],
  });
  try {
    await waitFor(
      () => {
        n1.transport.send(2, [{ rangeId: 1, message: msg(1) }]);
        n2.transport.send(1, [{ rangeId: 1, message: msg(2) }]);
        return n1.handler.unreachable.length > 0;
      },
      5000,
      "unreachable report",
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(n1.handler.batches.length, 0, "nothing from the wiped node arrives");
  } finally {
    await n1.stop();
    await n2.stop();
  }
});

Deno.test("addPeerService() refuses raft streams of another cluster, from a higher id or to another node", async () => {
  const addresses = new Map<number, string>();
  const n2 = await startNode(2, { addresses });
  const idle = await startServer((server) =>
    addPeerService(server, {
      clusterId: () => "c1",
      handler: new RecordingHandler(),
      forward: () => Promise.reject(new Error("unused")),
      join: () => Promise.reject(new Error("unused")),
      logger: quietLogger(),
    })
  );
  const cases = [
    { address: n2.address, cluster: "c2", from: 1, to: 2, code: grpc.status.FAILED_PRECONDITION },
    { address: n2.address, cluster: "c1", from: 3, to: 2, code: grpc.status.FAILED_PRECONDITION },
    { address: n2.address, cluster: "c1", from: 2, to: 2, code: grpc.status.FAILED_PRECONDITION },
    { address: n2.address, cluster: "c1", from: 1, to: 5, code: grpc.status.FAILED_PRECONDITION },
    { address: n2.address, cluster: "c1", from: 0, to: 2, code: grpc.status.INVALID_ARGUMENT },
    // A node still starting (no transport yet) refuses everything until it can take streams.
    { address: idle.address, cluster: "c1", from: 1, to: 2, code: grpc.status.UNAVAILABLE },
  ];
  const streams = cases.map((c) => rawDial(c.address, c.cluster, c.from, c.to));
  try {
    const statuses = await Promise.all(streams.map((s) => s.status));
    assert.deepEqual(
      statuses.map((s) => grpc.status[s.code]),
      cases.map((c) => grpc.status[c.code]),
    );
    assert.match(statuses[0].details, /another cluster/);
    assert.match(statuses[1].details, /lower id dials: from node is 3, this node is 2/);
    assert.match(statuses[3].details, /addressed to another node: to node is 5/);
    assert.ok(streams.every((s) => !s.accepted()));
    n2.transport.send(1, [{ rangeId: 1, message: msg(1) }]);
    assert.deepEqual(n2.handler.unreachable, [1]);
  } finally {
    for (const s of streams) s.close();
    await idle.stop();
    await n2.stop();
  }
});

Deno.test("GrpcPeerTransport.sendSnapshot() delivers a 3 MiB snapshot complete and in order", async () => {
  const addresses = new Map<number, string>();
  const n2 = await startNode(2, { addresses });
  const { t } = lone((id) => addresses.get(id));
  const value = new Uint8Array(64 * 1024).fill(7);
  const pairs: SnapshotPair[] = [];
  for (let i = 0; i < 48; i++) {
    pairs.push({
      keyspace: i < 40 ? "data" : "dedupe",
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
    assert.equal(n2.handler.snapshots.length, 1);
    const got = n2.handler.snapshots[0];
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
    await n2.stop();
  }
});

Deno.test("GrpcPeerTransport.sendSnapshot() resolves false and releases the snapshot when the node is down", async () => {
  const closedServer = await startServer(() => {});
  const address = closedServer.address;
  await closedServer.stop();
  const { t } = lone((id) => (id === 2 ? address : undefined));
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
