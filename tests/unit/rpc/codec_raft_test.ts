import assert from "node:assert/strict";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { isRangeDbError } from "../../../src/base/errors.ts";
import { EntryType, type Message, MessageType } from "../../../src/raft/mod.ts";
import {
  messageFromProto,
  messageToProto,
  rangeMessageFromProto,
  rangeMessageToProto,
} from "../../../src/rpc/codec_raft.ts";
import { MessageSchema, RangeMessageSchema } from "../../../proto/gen/rangedb/v1/raft_pb.ts";

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
