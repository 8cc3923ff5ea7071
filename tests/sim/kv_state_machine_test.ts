import assert from "node:assert/strict";
import { decodeCommand, encodeCommand, KvStateMachine } from "./kv_state_machine.ts";
import { Rng } from "./rng.ts";

Deno.test("KvStateMachine.apply() applies a retried command once and returns its first result", () => {
  const sm = new KvStateMachine();
  assert.deepEqual(
    sm.apply({ kind: "cas", client: 1, seq: 1, key: "k", expected: null, value: "a" }),
    {
      kind: "cas",
      ok: true,
    },
  );
  // The retry would fail as a new cas; the session returns the recorded success instead.
  assert.deepEqual(
    sm.apply({ kind: "cas", client: 1, seq: 1, key: "k", expected: null, value: "a" }),
    {
      kind: "cas",
      ok: true,
    },
  );
  sm.apply({ kind: "put", client: 2, seq: 1, key: "k", value: "b" });
  sm.apply({ kind: "put", client: 1, seq: 2, key: "k", value: "c" });
  // A stale command arriving after a newer one of the same client is ignored.
  assert.equal(sm.apply({ kind: "put", client: 1, seq: 1, key: "k", value: "zzz" }), undefined);
  assert.equal(sm.get("k"), "c");
});

Deno.test("KvStateMachine.restore() rebuilds an identical state", () => {
  const sm = new KvStateMachine();
  sm.apply({ kind: "put", client: 1, seq: 1, key: "x", value: "1" });
  sm.apply({ kind: "put", client: 2, seq: 7, key: "y", value: "2" });
  const copy = KvStateMachine.restore(sm.serialize());
  assert.equal(copy.digest(), sm.digest());
  assert.equal(copy.get("y"), "2");
  assert.notEqual(new KvStateMachine().digest(), sm.digest());
  assert.equal(KvStateMachine.restore(new Uint8Array(0)).digest(), new KvStateMachine().digest());
});

Deno.test("encodeCommand() round-trips through decodeCommand()", () => {
  const cmd = { kind: "cas" as const, client: 3, seq: 9, key: "k1", expected: null, value: "v" };
  assert.deepEqual(decodeCommand(encodeCommand(cmd)), cmd);
});

Deno.test("Rng draws the same sequence for the same seed and differs across seeds", () => {
  const a = new Rng(123), b = new Rng(123), c = new Rng(124);
  const xs = Array.from({ length: 8 }, () => a.nextU32());
  assert.deepEqual(Array.from({ length: 8 }, () => b.nextU32()), xs);
  assert.notDeepEqual(Array.from({ length: 8 }, () => c.nextU32()), xs);
  const r = new Rng(5);
  for (let i = 0; i < 1000; i++) {
    const x = r.range(2, 4);
    assert.ok(x >= 2 && x <= 4 && Number.isInteger(x));
  }
});
