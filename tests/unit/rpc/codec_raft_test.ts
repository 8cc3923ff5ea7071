import assert from "node:assert/strict";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { isRangeDbError } from "../../../src/base/errors.ts";
import { EntryType, type Message, MessageType } from "../../../src/raft/mod.ts";
import type { RangeMessage } from "../../../src/kv/transport.ts";
import {
  isCoalescable,
  messageFromProto,
  messageToProto,
  raftBatchFromProto,
  raftBatchToProto,
  rangeMessageFromProto,
  rangeMessageToProto,
} from "../../../src/rpc/codec_raft.ts";
import {
  MessageSchema,
  RaftMessageBatchSchema,
  RangeMessageSchema,
} from "../../../proto/gen/rangedb/v1/raft_pb.ts";

function message(type: MessageType, over: Partial<Message> = {}): Message {
  return {
    type,
    to: 2,
    from: 1,
    term: 7,
    logTerm: 6,
    index: 41,
    entries: [],
    commit: 40,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
    ...over,
  };
}

function roundTrip(m: Message): Message {
  return messageFromProto(fromBinary(MessageSchema, toBinary(MessageSchema, messageToProto(m))));
}

for (const [name, type] of Object.entries(MessageType)) {
  Deno.test(`messageToProto() round-trips a ${name} message`, () => {
    const m = message(type, {
      entries: [
        { term: 7, index: 42, type: EntryType.Normal, data: Uint8Array.of(1, 2, 3) },
        { term: 7, index: 43, type: EntryType.ConfChange, data: Uint8Array.of(9) },
      ],
      reject: type === MessageType.AppResp,
      rejectHint: 12,
      context: Uint8Array.of(5, 5),
    });
    assert.deepEqual(roundTrip(m), m);
  });
}

Deno.test("messageToProto() round-trips a snapshot with a joint configuration", () => {
  const m = message(MessageType.Snap, {
    snapshot: {
      metadata: {
        index: 2 ** 40,
        term: 9,
        confState: {
          voters: [1, 2, 3],
          learners: [4],
          votersOutgoing: [1, 2, 5],
          learnersNext: [5],
          autoLeave: true,
        },
      },
      data: Uint8Array.of(7, 7, 7),
    },
  });
  assert.deepEqual(roundTrip(m), m);
});

Deno.test("messageFromProto() leaves snapshot unset when the message carries none", () => {
  assert.equal("snapshot" in roundTrip(message(MessageType.Heartbeat)), false);
});

Deno.test("rangeMessageToProto() round-trips the range id", () => {
  const rm = { rangeId: 17, message: message(MessageType.Vote) };
  const back = rangeMessageFromProto(
    fromBinary(RangeMessageSchema, toBinary(RangeMessageSchema, rangeMessageToProto(rm))),
  );
  assert.deepEqual(back, rm);
});

Deno.test("messageFromProto() refuses numbers beyond 2^53 - 1 as CORRUPTION", () => {
  const pb = messageToProto(message(MessageType.App));
  pb.term = 2n ** 60n;
  assert.throws(() => messageFromProto(pb), (err) => isRangeDbError(err, "CORRUPTION"));
});

Deno.test("rangeMessageFromProto() refuses a range message without its message", () => {
  const pb = rangeMessageToProto({ rangeId: 1, message: message(MessageType.App) });
  pb.message = undefined;
  assert.throws(() => rangeMessageFromProto(pb), (err) => isRangeDbError(err, "CORRUPTION"));
});

/** A heartbeat (or response) as Raft sends it: nothing but from, to, term and commit. */
function heartbeat(type: MessageType, over: Partial<Message> = {}): Message {
  return message(type, { logTerm: 0, index: 0, ...over });
}

function batchRoundTrip(messages: RangeMessage[]) {
  const wire = fromBinary(
    RaftMessageBatchSchema,
    toBinary(RaftMessageBatchSchema, raftBatchToProto(1, 2, messages)),
  );
  return { wire, back: raftBatchFromProto(wire) };
}

Deno.test("raftBatchToProto() coalesces plain heartbeats and responses, quiesce mark included", () => {
  const messages: RangeMessage[] = [
    { rangeId: 7, message: heartbeat(MessageType.Heartbeat, { commit: 12 }), quiesce: true },
    { rangeId: 8, message: heartbeat(MessageType.Heartbeat, { commit: 2 ** 40 }) },
    { rangeId: 7, message: heartbeat(MessageType.HeartbeatResp, { commit: 0 }), quiesce: true },
    { rangeId: 9, message: heartbeat(MessageType.HeartbeatResp, { commit: 0, term: 3 }) },
  ];
  const { wire, back } = batchRoundTrip(messages);
  assert.equal(wire.messages.length, 0);
  assert.deepEqual(wire.heartbeats.map((h) => [h.rangeId, h.commit, h.quiesce]), [
    [7n, 12n, true],
    [8n, 2n ** 40n, false],
  ]);
  assert.deepEqual(wire.heartbeatResponses.map((h) => [h.rangeId, h.term, h.quiesce]), [
    [7n, 7n, true],
    [9n, 3n, false],
  ]);
  assert.deepEqual(back, messages);
});

Deno.test("raftBatchToProto() keeps ReadIndex heartbeats and other messages whole, after the coalesced ones", () => {
  const readIndex = heartbeat(MessageType.Heartbeat, { context: Uint8Array.of(1, 2, 3) });
  const readAck = heartbeat(MessageType.HeartbeatResp, { context: Uint8Array.of(1, 2, 3) });
  const app = message(MessageType.App, {
    entries: [{ term: 7, index: 42, type: EntryType.Normal, data: Uint8Array.of(1) }],
  });
  const plain = heartbeat(MessageType.Heartbeat);
  const messages: RangeMessage[] = [
    { rangeId: 1, message: app },
    { rangeId: 1, message: readIndex },
    { rangeId: 2, message: plain, quiesce: true },
    { rangeId: 1, message: readAck },
  ];
  const { wire, back } = batchRoundTrip(messages);
  assert.equal(wire.messages.length, 3);
  assert.equal(wire.heartbeats.length, 1);
  assert.deepEqual(back, [messages[2], messages[0], messages[1], messages[3]]);
});

Deno.test("raftBatchFromProto() decodes an empty (liveness) batch to no messages", () => {
  const { wire, back } = batchRoundTrip([]);
  assert.equal(wire.fromNodeId, 1n);
  assert.equal(wire.toNodeId, 2n);
  assert.deepEqual(back, []);
});

Deno.test("isCoalescable() accepts only heartbeats that carry nothing but from, to, term and commit", () => {
  const cases: [string, Message, boolean][] = [
    ["heartbeat", heartbeat(MessageType.Heartbeat), true],
    ["response", heartbeat(MessageType.HeartbeatResp), true],
    ["with context", heartbeat(MessageType.Heartbeat, { context: Uint8Array.of(1) }), false],
    ["with index", heartbeat(MessageType.Heartbeat, { index: 1 }), false],
    ["with log term", heartbeat(MessageType.HeartbeatResp, { logTerm: 1 }), false],
    ["rejecting", heartbeat(MessageType.HeartbeatResp, { reject: true }), false],
    ["with hint", heartbeat(MessageType.HeartbeatResp, { rejectHint: 4 }), false],
    ["append", heartbeat(MessageType.App), false],
    ["append response", heartbeat(MessageType.AppResp), false],
  ];
  for (const [name, m, want] of cases) assert.equal(isCoalescable(m), want, name);
});

Deno.test("raftBatchFromProto() refuses a coalesced heartbeat with a number beyond 2^53 - 1", () => {
  const wire = raftBatchToProto(1, 2, [{ rangeId: 1, message: heartbeat(MessageType.Heartbeat) }]);
  wire.heartbeats[0].term = 2n ** 60n;
  assert.throws(() => raftBatchFromProto(wire), (err) => isRangeDbError(err, "CORRUPTION"));
});
