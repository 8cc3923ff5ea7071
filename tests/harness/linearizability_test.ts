import assert from "node:assert/strict";
import { checkLinearizable, type HistoryOp, type RegisterOp } from "./linearizability.ts";

let nextId = 1;
function op(key: string, call: number, ret: number | undefined, o: RegisterOp): HistoryOp {
  return { id: nextId++, key, call, ret, op: o };
}
const w = (value: string): RegisterOp => ({ kind: "write", value });
const r = (value: string | null): RegisterOp => ({ kind: "read", value });
const cas = (expected: string | null, value: string, ok: boolean): RegisterOp => ({
  kind: "cas",
  expected,
  value,
  ok,
});

Deno.test("checkLinearizable() accepts an empty history and reads of the initial value", () => {
  assert.deepEqual(checkLinearizable([]), { ok: true });
  assert.deepEqual(checkLinearizable([op("x", 0, 1, r(null))]), { ok: true });
});

Deno.test("checkLinearizable() accepts sequential write then read", () => {
  const h = [op("x", 0, 1, w("a")), op("x", 2, 3, r("a"))];
  assert.deepEqual(checkLinearizable(h), { ok: true });
});

Deno.test("checkLinearizable() rejects a stale read after a completed write", () => {
  const h = [op("x", 0, 1, w("a")), op("x", 2, 3, r(null))];
  const res = checkLinearizable(h);
  assert.equal(res.ok, false);
  assert.equal(res.ok === false && res.key, "x");
  // The search gets stuck on the read, which no order can place.
  assert.equal(res.ok === false && res.stuck, h[1]);
});

Deno.test("checkLinearizable() accepts either order of concurrent ops", () => {
  // write a and read overlap: the read may see the old or the new value.
  for (const seen of [null, "a"]) {
    const h = [op("x", 0, 5, w("a")), op("x", 1, 2, r(seen))];
    assert.deepEqual(checkLinearizable(h), { ok: true });
  }
});

Deno.test("checkLinearizable() rejects reads going back in time", () => {
  // Two sequential reads during a long write: new value then old value is impossible.
  const h = [op("x", 0, 10, w("a")), op("x", 1, 2, r("a")), op("x", 3, 4, r(null))];
  assert.equal(checkLinearizable(h).ok, false);
});

Deno.test("checkLinearizable() checks cas outcomes against the register", () => {
  const good = [op("x", 0, 1, w("a")), op("x", 2, 3, cas("a", "b", true)), op("x", 4, 5, r("b"))];
  assert.deepEqual(checkLinearizable(good), { ok: true });
  const failedOk = [
    op("x", 0, 1, w("a")),
    op("x", 2, 3, cas("z", "b", false)),
    op("x", 4, 5, r("a")),
  ];
  assert.deepEqual(checkLinearizable(failedOk), { ok: true });
  const wrongFail = [op("x", 0, 1, w("a")), op("x", 2, 3, cas("a", "b", false))];
  assert.equal(checkLinearizable(wrongFail).ok, false);
  const wrongOk = [op("x", 0, 1, w("a")), op("x", 2, 3, cas("z", "b", true))];
  assert.equal(checkLinearizable(wrongOk).ok, false);
});

Deno.test("checkLinearizable() rejects two successful cas from the same value", () => {
  const h = [
    op("x", 0, 1, w("a")),
    op("x", 2, 6, cas("a", "b", true)),
    op("x", 3, 7, cas("a", "c", true)),
  ];
  assert.equal(checkLinearizable(h).ok, false);
});

Deno.test("checkLinearizable() lets an unknown write take effect or not", () => {
  const took = [op("x", 0, undefined, w("a")), op("x", 5, 6, r("a"))];
  assert.deepEqual(checkLinearizable(took), { ok: true });
  const didNot = [op("x", 0, undefined, w("a")), op("x", 5, 6, r(null))];
  assert.deepEqual(checkLinearizable(didNot), { ok: true });
  // Taking effect late (after a later read saw the old value) is allowed too.
  const late = [op("x", 0, undefined, w("a")), op("x", 5, 6, r(null)), op("x", 7, 8, r("a"))];
  assert.deepEqual(checkLinearizable(late), { ok: true });
});

Deno.test("checkLinearizable() never lets an unknown write take effect before its call", () => {
  const h = [op("x", 0, 1, r("a")), op("x", 2, undefined, w("a"))];
  assert.equal(checkLinearizable(h).ok, false);
});

Deno.test("checkLinearizable() lets an unknown write take effect at most once", () => {
  // a, then b overwrites it; seeing a again would need the unknown write twice.
  const h = [
    op("x", 0, undefined, w("a")),
    op("x", 1, 2, r("a")),
    op("x", 3, 4, w("b")),
    op("x", 5, 6, r("a")),
  ];
  assert.equal(checkLinearizable(h).ok, false);
});

Deno.test("checkLinearizable() ignores reads with an unknown outcome", () => {
  const h = [op("x", 0, 1, w("a")), op("x", 2, undefined, r("zzz"))];
  assert.deepEqual(checkLinearizable(h), { ok: true });
});

Deno.test("checkLinearizable() checks keys independently", () => {
  const h = [
    op("x", 0, 1, w("a")),
    op("y", 0, 1, w("b")),
    op("y", 2, 3, r("b")),
    op("x", 2, 3, r("b")),
  ];
  const res = checkLinearizable(h);
  assert.equal(res.ok, false);
  assert.equal(res.ok === false && res.key, "x");
});

Deno.test("checkLinearizable() handles many concurrent writers within budget", () => {
  // 12 clients each write then read their own value concurrently; reads see the last writer.
  const h: HistoryOp[] = [];
  for (let i = 0; i < 12; i++) h.push(op("x", i, 100 + i, w(`v${i}`)));
  h.push(op("x", 200, 201, r("v7")));
  assert.deepEqual(checkLinearizable(h), { ok: true });
  h.push(op("x", 202, 203, r("v3")));
  assert.equal(checkLinearizable(h).ok, false);
});

Deno.test("checkLinearizable() reports unknown when the budget runs out", () => {
  const h: HistoryOp[] = [];
  for (let i = 0; i < 14; i++) h.push(op("x", i, 100 + i, w(`v${i}`)));
  h.push(op("x", 200, 201, r("nobody wrote this")));
  assert.deepEqual(checkLinearizable(h, { maxSteps: 100 }), { ok: "unknown", key: "x" });
});
