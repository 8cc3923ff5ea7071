import assert from "node:assert/strict";
import {
  type ConfChange,
  ConfChangeTransition,
  ConfChangeType,
  decodeConfChange,
  encodeConfChange,
  isRaftError,
} from "../../../../src/raft/mod.ts";

Deno.test("encodeConfChange() round-trips through decodeConfChange()", () => {
  const table: ConfChange[] = [
    { transition: ConfChangeTransition.Auto, changes: [], context: new Uint8Array() },
    {
      transition: ConfChangeTransition.JointExplicit,
      changes: [
        { type: ConfChangeType.AddNode, nodeId: 4 },
        { type: ConfChangeType.RemoveNode, nodeId: 2 ** 53 - 1 },
        { type: ConfChangeType.AddLearnerNode, nodeId: 7 },
      ],
      context: new Uint8Array([1, 2, 3]),
    },
  ];
  for (const cc of table) assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
});

Deno.test("decodeConfChange() rejects truncated or corrupt bytes", () => {
  const good = encodeConfChange({
    transition: ConfChangeTransition.Auto,
    changes: [{ type: ConfChangeType.AddNode, nodeId: 4 }],
    context: new Uint8Array([9]),
  });
  const bad = [
    good.slice(0, 5),
    good.slice(0, good.length - 1),
    Uint8Array.of(2, ...good.slice(1)),
    Uint8Array.of(good[0], 9, ...good.slice(2)),
  ];
  for (const b of bad) {
    assert.throws(() => decodeConfChange(b), (e) => isRaftError(e, "ErrCorruptConfChange"));
  }
});
