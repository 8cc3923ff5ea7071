import assert from "node:assert/strict";
import fc from "fast-check";
import { timestampOf, versionOf } from "../../../src/kv/version.ts";
import {
  confStateOf,
  decodeCommand,
  decodeProposalId,
  encodeCommand,
  encodeProposalId,
  newCommand,
  newDescriptor,
} from "../../../src/kv/command.ts";
import { decodeEntry, encodeEntry } from "../../../src/kv/raft_log_codec.ts";
import { systemKeys } from "../../../src/kv/keys.ts";

Deno.test("versionOf() and timestampOf() round-trip and keep the order of timestamps", () => {
  assert.equal(versionOf({ wallMs: 1, logical: 2 }), 65538n);
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 2 ** 48 - 1 }),
    fc.integer({ min: 0, max: 0xffff }),
    fc.integer({ min: 0, max: 2 ** 48 - 1 }),
    fc.integer({ min: 0, max: 0xffff }),
    (w1, l1, w2, l2) => {
      const a = { wallMs: w1, logical: l1 };
      const b = { wallMs: w2, logical: l2 };
      assert.deepEqual(timestampOf(versionOf(a)), a);
      const order = w1 !== w2 ? Math.sign(w1 - w2) : Math.sign(l1 - l2);
      const vOrder = versionOf(a) === versionOf(b) ? 0 : versionOf(a) < versionOf(b) ? -1 : 1;
      assert.equal(vOrder, order);
    },
  ));
});

Deno.test("encodeCommand() round-trips every command body", () => {
  type Body = NonNullable<Parameters<typeof newCommand>[0]>["body"];
  const bodies: Body[] = [
    {
      case: "write",
      value: { ops: [{ key: new Uint8Array([47, 97]), value: new Uint8Array([1]) }] },
    },
    { case: "compareAndSwap", value: { key: new Uint8Array([47]), expectAbsent: true } },
    { case: "tsoReserve", value: { upToWallMs: 123n } },
    { case: "addNode", value: { record: { name: "n4", peerAddress: "h:1" } } },
  ];
  for (const body of bodies) {
    const cmd = newCommand({
      proposerNodeId: 3n,
      proposalSeq: 9n,
      requestId: "r",
      timestamp: 5n,
      body,
    });
    const back = decodeCommand(encodeCommand(cmd));
    assert.equal(back.body.case, body!.case);
    assert.equal(back.proposalSeq, 9n);
    assert.equal(back.requestId, "r");
  }
  assert.deepEqual(decodeProposalId(encodeProposalId(4, 2 ** 50)), { proposer: 4, seq: 2 ** 50 });
  assert.equal(decodeProposalId(new Uint8Array(0)), undefined);
});

Deno.test("encodeEntry() round-trips entries and confStateOf() reads a descriptor's members", () => {
  const e = { index: 9, term: 2 ** 40, type: 1 as const, data: new Uint8Array([1, 2, 3]) };
  assert.deepEqual(decodeEntry(9, encodeEntry(e)), e);
  assert.throws(() => decodeEntry(1, new Uint8Array([7])), /malformed/);
  const d = newDescriptor({
    rangeId: 1,
    start: new Uint8Array(),
    end: new Uint8Array(),
    generation: 1,
    voters: [3, 1],
    learners: [4],
  });
  assert.deepEqual(confStateOf(d).voters, [1, 3]);
  assert.deepEqual(confStateOf(d).learners, [4]);
});

Deno.test("systemKeys sort ids numerically", () => {
  const dec = new TextDecoder();
  assert.equal(dec.decode(systemKeys.partition(1)), "_/partitions/00000000000000000001");
  assert.ok(dec.decode(systemKeys.raftGroup(9)) < dec.decode(systemKeys.raftGroup(10)));
  assert.equal(dec.decode(systemKeys.node("a")), "_/cluster/nodes/a");
  assert.equal(
    dec.decode(systemKeys.config("replication_factor")),
    "_/cluster/config/replication_factor",
  );
});
