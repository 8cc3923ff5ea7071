import assert from "node:assert/strict";
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  BatchRequestSchema,
  CompareAndSwapRequestSchema,
  KV,
  PutResponseSchema,
} from "../../../proto/gen/rangedb/v1/kv_pb.ts";
import {
  EntryType,
  MessageType,
  RaftMessageBatchSchema,
} from "../../../proto/gen/rangedb/v1/raft_pb.ts";
import {
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../../../proto/gen/grpc/health/v1/health_pb.ts";
import {
  EntryType as RaftEntryType,
  MessageType as RaftMessageType,
} from "../../../src/raft/types.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("RaftMessageBatch round-trips through toBinary and fromBinary", () => {
  const batch = create(RaftMessageBatchSchema, {
    fromNodeId: 1n,
    toNodeId: 2n,
    messages: [{
      rangeId: 7n,
      message: {
        type: MessageType.APP,
        to: 2n,
        from: 1n,
        term: 3n,
        logTerm: 3n,
        index: 41n,
        commit: 40n,
        entries: [{ term: 3n, index: 42n, type: EntryType.NORMAL, data: bytes("put a=1") }],
        context: new Uint8Array(),
      },
    }],
    heartbeats: [{ rangeId: 8n, from: 1n, to: 2n, term: 5n, commit: 2n ** 53n - 1n }],
  });
  const wire = toBinary(RaftMessageBatchSchema, batch);
  const back = fromBinary(RaftMessageBatchSchema, wire);
  assert.ok(equals(RaftMessageBatchSchema, batch, back));
  assert.deepEqual(back.messages[0].message?.entries[0].data, bytes("put a=1"));
  assert.equal(back.heartbeats[0].commit, 2n ** 53n - 1n);
  assert.equal(back.messages[0].message?.snapshot, undefined);
});

Deno.test("raft.proto enums keep the numbers of src/raft/types.ts", () => {
  for (const [name, value] of Object.entries(RaftMessageType)) {
    const protoName = name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
    assert.equal(MessageType[protoName as keyof typeof MessageType], value, name);
  }
  assert.equal(EntryType.NORMAL, RaftEntryType.Normal);
  assert.equal(EntryType.CONF_CHANGE, RaftEntryType.ConfChange);
});

Deno.test("kv.proto messages keep the oneof of a batch op and bigint versions through the wire", () => {
  const batch = create(BatchRequestSchema, {
    ops: [
      { op: { case: "put", value: { key: bytes("/a"), value: bytes("1") } } },
      { op: { case: "delete", value: { key: bytes("/b") } } },
    ],
    requestId: "r-1",
  });
  const back = fromBinary(BatchRequestSchema, toBinary(BatchRequestSchema, batch));
  assert.equal(back.ops[1].op.case, "delete");
  assert.ok(equals(BatchRequestSchema, batch, back));

  const cas = create(CompareAndSwapRequestSchema, {
    key: bytes("/k"),
    expectAbsent: true,
    value: bytes("v"),
  });
  const casBack = fromBinary(
    CompareAndSwapRequestSchema,
    toBinary(CompareAndSwapRequestSchema, cas),
  );
  assert.equal(casBack.expectAbsent, true);
  assert.deepEqual(casBack.expected, new Uint8Array());

  const put = create(PutResponseSchema, { version: (1_800_000_000_000n << 16n) | 7n });
  assert.equal(
    fromBinary(PutResponseSchema, toBinary(PutResponseSchema, put)).version,
    (1_800_000_000_000n << 16n) | 7n,
    "a 64-bit version survives the wire exactly",
  );
});

Deno.test("generated service descriptors name the methods grpc-js registers", () => {
  assert.equal(KV.typeName, "rangedb.v1.KV");
  assert.deepEqual(Object.keys(KV.method), [
    "get",
    "put",
    "delete",
    "range",
    "batch",
    "compareAndSwap",
  ]);
  assert.equal(KV.method.range.methodKind, "server_streaming");
  const health = create(HealthCheckResponseSchema, {
    status: HealthCheckResponse_ServingStatus.SERVING,
  });
  assert.deepEqual(
    fromBinary(HealthCheckResponseSchema, toBinary(HealthCheckResponseSchema, health)).status,
    HealthCheckResponse_ServingStatus.SERVING,
  );
});
