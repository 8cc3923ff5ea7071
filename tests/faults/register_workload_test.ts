import assert from "node:assert/strict";
import type { RegisterOp } from "../harness/linearizability.ts";
import { checkRegisterHistory, type RegisterRecord } from "./register_workload.ts";

let nextId = 1;
/** An operation on /k; `ret` undefined with status "unknown" (default) or "failed". */
function rec(
  call: number,
  ret: number | undefined,
  op: RegisterOp,
  status: RegisterRecord["status"] = ret === undefined ? "unknown" : "ok",
  key = "/k",
): RegisterRecord {
  return {
    id: nextId++,
    key,
    call,
    ret,
    op,
    worker: 1,
    via: "node 1",
    status,
    end: ret ?? call + 100,
    error: status === "ok" ? undefined : "UNAVAILABLE: Cannot reach 127.0.0.1:1",
  };
}
const w = (value: string): RegisterOp => ({ kind: "write", value });
const r = (value: string | null): RegisterOp => ({ kind: "read", value });
const cas = (expected: string | null, value: string, ok: boolean, actual?: string | null) =>
  ({ kind: "cas", expected, value, ok, ...(actual === undefined ? {} : { actual }) }) as RegisterOp;

Deno.test("checkRegisterHistory() accepts valid histories with unknown writes both ways", () => {
  const h = [
    rec(0, 1, w("a")),
    rec(2, undefined, w("b")), // unknown, seen later
    rec(2, undefined, w("c")), // unknown, never seen
    rec(3, undefined, r(null), "failed"), // a failed read constrains nothing
    rec(4, undefined, w("d"), "failed"), // definitely not applied, never seen
    rec(5, 6, r("b")),
    rec(7, 8, cas("b", "e", true)),
    rec(9, 10, cas("b", "f", false, "e")),
  ];
  assert.deepEqual(checkRegisterHistory(h), {
    ops: 8,
    ok: 4,
    failed: 2,
    unknown: 2,
    valid: true,
    anomalies: [],
  });
});

Deno.test("checkRegisterHistory() names the key and the stuck read of a stale read", () => {
  const write = rec(0, 1, w("a"));
  const stale = rec(2, 3, r(null));
  const res = checkRegisterHistory([write, stale]);
  assert.equal(res.valid, false);
  assert.equal(res.anomalies.length, 1);
  const [line, ...around] = res.anomalies[0].split("\n");
  assert.match(
    line,
    new RegExp(
      `^register /k: not linearizable: no order of its 2 operations places #${stale.id} read absent by w1 via node 1 \\[2\\.0 → 3\\.0 ms\\] before it returned`,
    ),
  );
  assert.deepEqual(around.map((l) => l.trim().split(" ")[0]), [`#${write.id}`, `#${stale.id}`]);
});

Deno.test("checkRegisterHistory() rejects an acknowledged write lost to an earlier one", () => {
  const res = checkRegisterHistory([rec(0, 1, w("a")), rec(2, 3, w("b")), rec(4, 5, r("a"))]);
  assert.equal(res.valid, false);
  assert.match(res.anomalies[0], /^register \/k: not linearizable/);
});

Deno.test("checkRegisterHistory() names reads of values no operation wrote", () => {
  const intruder = rec(2, 3, r("intruder"));
  const res = checkRegisterHistory([rec(0, 1, w("a")), intruder]);
  assert.equal(res.valid, false);
  assert.equal(res.anomalies.length, 2);
  assert.match(
    res.anomalies[0],
    new RegExp(
      `^register /k: #${intruder.id} read "intruder" .* saw "intruder", which no operation wrote$`,
    ),
  );
  // A value whose write definitely failed counts as never written.
  const failed = checkRegisterHistory([rec(0, undefined, w("x"), "failed"), rec(5, 6, r("x"))]);
  assert.match(failed.anomalies[0], /saw "x", which no operation wrote/);
  // So does what a failed cas claims to have found.
  const found = checkRegisterHistory([rec(0, 1, cas("a", "b", false, "ghost"))]);
  assert.match(found.anomalies[0], /found "ghost".* saw "ghost", which no operation wrote/);
});

Deno.test("checkRegisterHistory() rejects two successful cas from one value", () => {
  const res = checkRegisterHistory([
    rec(0, 1, w("a")),
    rec(2, 6, cas("a", "b", true)),
    rec(3, 7, cas("a", "c", true)),
  ]);
  assert.equal(res.valid, false);
});

Deno.test("checkRegisterHistory() rejects an unknown write observed before its call", () => {
  const res = checkRegisterHistory([rec(0, 1, r("a")), rec(2, undefined, w("a"))]);
  assert.equal(res.valid, false);
});

Deno.test("checkRegisterHistory() reports each failing key and keeps checking the others", () => {
  const res = checkRegisterHistory([
    rec(0, 1, w("a"), "ok", "/a"),
    rec(2, 3, r(null), "ok", "/a"),
    rec(0, 1, w("b"), "ok", "/b"),
    rec(2, 3, r("b"), "ok", "/b"),
    rec(0, 1, r("z"), "ok", "/c"),
  ]);
  assert.equal(res.valid, false);
  assert.deepEqual(res.anomalies.map((a) => a.split(":")[0]), [
    "register /a",
    "register /c",
    "register /c",
  ]);
});

Deno.test("checkRegisterHistory() reports a key over budget as undecided", () => {
  const h = Array.from({ length: 12 }, (_, i) => rec(i, 100 + i, w(`v${i}`)));
  h.push(rec(200, 201, r("v3")), rec(202, 203, r("v7")));
  const res = checkRegisterHistory(h, { maxSteps: 10 });
  assert.equal(res.valid, "unknown");
  assert.deepEqual(res.anomalies, [
    "register /k: undecided: the checker ran out of its 10-step budget on 14 operations",
  ]);
});
