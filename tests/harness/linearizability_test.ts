import assert from "node:assert/strict";
import { Rng } from "../sim/rng.ts";
import {
  checkEachKey,
  checkLinearizable,
  type HistoryOp,
  pruneUnobserved,
  type RegisterOp,
  type RegisterValue,
} from "./linearizability.ts";

let nextId = 1;
function op(key: string, call: number, ret: number | undefined, o: RegisterOp): HistoryOp {
  return { id: nextId++, key, call, ret, op: o };
}
const w = (value: string): RegisterOp => ({ kind: "write", value });
const r = (value: string | null): RegisterOp => ({ kind: "read", value });
const cas = (
  expected: string | null,
  value: string,
  ok: boolean,
  actual?: RegisterValue,
): RegisterOp => (actual === undefined
  ? { kind: "cas", expected, value, ok }
  : { kind: "cas", expected, value, ok, actual });

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

Deno.test("checkLinearizable() rejects a completed write overwritten by an earlier one", () => {
  // a then b, both acknowledged in that order: seeing a afterwards means b was lost or reordered.
  const h = [op("x", 0, 1, w("a")), op("x", 2, 3, w("b")), op("x", 4, 5, r("a"))];
  const res = checkLinearizable(h);
  assert.equal(res.ok, false);
  assert.equal(res.ok === false && res.stuck, h[2]);
});

Deno.test("checkLinearizable() rejects a read of a value never written", () => {
  const h = [op("x", 0, 1, w("a")), op("x", 2, 3, r("b"))];
  const res = checkLinearizable(h);
  assert.equal(res.ok, false);
  assert.equal(res.ok === false && res.stuck, h[1]);
  // An unknown write of "b" from someone else's key does not explain it either.
  assert.equal(checkLinearizable([...h, op("y", 0, undefined, w("b"))]).ok, false);
});

Deno.test("checkLinearizable() checks the value a failed cas found", () => {
  const found = [op("x", 0, 1, w("a")), op("x", 2, 3, cas(null, "b", false, "a"))];
  assert.deepEqual(checkLinearizable(found), { ok: true });
  const foundAbsent = [op("x", 0, 1, cas("z", "b", false, null))];
  assert.deepEqual(checkLinearizable(foundAbsent), { ok: true });
  // Found a stale value: a was overwritten by the acknowledged write c before the cas began.
  const stale = [
    op("x", 0, 1, w("a")),
    op("x", 2, 3, w("c")),
    op("x", 4, 5, cas(null, "b", false, "a")),
  ];
  assert.equal(checkLinearizable(stale).ok, false);
  // A failed cas cannot have found the value it expected.
  assert.equal(checkLinearizable([op("x", 0, 1, cas(null, "b", false, null))]).ok, false);
});

Deno.test("checkLinearizable() accepts a cas that took an unknown write's value both ways", () => {
  // The unknown write of a took effect: a cas from a succeeds later.
  const took = [op("x", 0, undefined, w("a")), op("x", 3, 4, cas("a", "b", true))];
  assert.deepEqual(checkLinearizable(took), { ok: true });
  // It did not (yet): a cas from a failed finding nothing, and a cas from nothing succeeds.
  const notYet = [
    op("x", 0, undefined, w("a")),
    op("x", 3, 4, cas("a", "b", false, null)),
    op("x", 5, 6, cas(null, "c", true)),
  ];
  assert.deepEqual(checkLinearizable(notYet), { ok: true });
});

Deno.test("checkEachKey() returns a verdict for every key", () => {
  const h = [
    op("a", 0, 1, w("1")),
    op("b", 0, 1, r("never written")),
    op("c", 0, 1, w("1")),
    op("c", 2, 3, r(null)),
  ];
  assert.deepEqual(checkEachKey(h).map((v) => [v.key, v.ok]), [["a", true], ["b", false], [
    "c",
    false,
  ]]);
  assert.deepEqual(checkEachKey(h, {}, { stopAtFirst: true }).map((v) => v.key), ["a", "b"]);
});

Deno.test("pruneUnobserved() drops unknown writes and cas that nothing observed", () => {
  const h = [
    op("x", 0, undefined, w("seen")),
    op("x", 0, undefined, w("lost")),
    op("x", 1, undefined, cas("seen", "unseen", true)),
    op("x", 1, undefined, cas("lost", "unseen2", true)),
    op("x", 2, 3, r("seen")),
    op("x", 4, undefined, r("anything")),
  ];
  // "lost" survives the first pass (an unknown cas expects it) but not the second.
  assert.deepEqual(pruneUnobserved(h).map((x) => x.id), [h[0].id, h[4].id]);
});

Deno.test("pruneUnobserved() keeps unknown writes that a cas expected or found", () => {
  const h = [
    op("x", 0, undefined, w("a")),
    op("x", 0, undefined, w("b")),
    op("x", 0, undefined, w("c")),
    op("x", 1, 2, cas("a", "d", true)),
    op("x", 3, 4, cas("zz", "e", false, "b")),
  ];
  assert.deepEqual(pruneUnobserved(h).map((x) => x.id), [h[0].id, h[1].id, h[3].id, h[4].id]);
});

Deno.test("pruneUnobserved() prunes nothing on a key with a failed cas that found nothing known", () => {
  // Unpruned, the unknown write of a explains why the cas from null failed.
  const h = [op("x", 0, undefined, w("a")), op("x", 2, 3, cas(null, "b", false))];
  assert.equal(pruneUnobserved(h).length, 2);
  assert.deepEqual(checkLinearizable(h), { ok: true });
});

/** Options of {@linkcode simulateRegisters}. */
interface SimulatedHistoryOptions {
  keys: number;
  opsPerKey: number;
  workers: number;
  /** Share of writes and cas whose outcome the client never learns. */
  unknownRate: number;
  /** Share of failed cas that do not say what they found. */
  blindCasRate?: number;
}

/**
 * A linearizable history of workers doing 50% reads, 25% writes and 25% cas (from the value the
 * worker last saw) on shared registers: each operation takes effect at a random point of its
 * interval, in that order; an unknown one takes effect at a random later point or never.
 */
function simulateRegisters(rng: Rng, o: SimulatedHistoryOptions): HistoryOp[] {
  type Planned = { h: HistoryOp; at: number; worker: number };
  const clock = new Array<number>(o.workers).fill(0);
  const planned: Planned[] = [];
  let seq = 0;
  for (let i = 0; i < o.keys * o.opsPerKey; i++) {
    const worker = rng.int(o.workers);
    const key = `k${rng.int(o.keys)}`;
    const call = clock[worker] + rng.range(0, 3);
    const took = rng.range(1, 12);
    clock[worker] = call + took;
    const p = rng.next();
    const value = `w${worker}-${seq++}`;
    const opKind: RegisterOp = p < 0.5 ? r(null) : p < 0.75 ? w(value) : cas(null, value, false);
    const unknown = opKind.kind !== "read" && rng.chance(o.unknownRate);
    const at = unknown
      ? (rng.chance(0.5) ? call + rng.next() * took * 3 : Infinity)
      : call + rng.next() * took;
    planned.push({
      h: { id: i + 1, key, call, ret: unknown ? undefined : call + took, op: opKind },
      at,
      worker,
    });
  }
  const state = new Map<string, RegisterValue>();
  const lastSeen = new Map<string, RegisterValue>();
  for (const { h, at, worker } of [...planned].sort((a, b) => a.at - b.at)) {
    const seenKey = `${worker}/${h.key}`;
    const now = state.get(h.key) ?? null;
    if (h.op.kind === "cas") {
      const expected = lastSeen.get(seenKey) ?? null;
      const ok = at !== Infinity && now === expected;
      h.op = ok || h.ret === undefined || rng.chance(o.blindCasRate ?? 0)
        ? cas(expected, h.op.value, ok)
        : cas(expected, h.op.value, ok, now);
    }
    if (at === Infinity) continue;
    if (h.op.kind === "read") h.op = r(now);
    if (h.op.kind === "write" || (h.op.kind === "cas" && h.op.ok)) state.set(h.key, h.op.value);
    if (h.ret === undefined) continue;
    const after = state.get(h.key) ?? null;
    lastSeen.set(seenKey, after);
  }
  return planned.map((p) => p.h);
}

/** Changes one definite operation's outcome: the history usually stops being linearizable. */
function corrupt(rng: Rng, h: HistoryOp[]): void {
  const definite = h.filter((x) => x.ret !== undefined);
  if (definite.length === 0) return;
  const victim = rng.pick(definite);
  const values = [null, ...h.filter((x) => x.op.kind !== "read").map((x) => x.op.value as string)];
  const o = victim.op;
  if (o.kind === "read") victim.op = r(rng.pick(values));
  else if (o.kind === "cas") {
    victim.op = cas(o.expected, o.value, !o.ok, o.ok ? rng.pick(values) : undefined);
  } else victim.call = Math.max(0, victim.call - rng.range(1, 20));
}

Deno.test("simulateRegisters() histories are linearizable and corrupting one makes most not", () => {
  const rng = new Rng(7);
  let rejected = 0;
  for (let i = 0; i < 100; i++) {
    const h = simulateRegisters(rng, { keys: 1, opsPerKey: 12, workers: 3, unknownRate: 0.3 });
    assert.deepEqual(checkLinearizable(h, { prune: false }), { ok: true }, JSON.stringify(h));
    corrupt(rng, h);
    if (checkLinearizable(h, { prune: false }).ok === false) rejected++;
  }
  assert.ok(rejected > 50, `only ${rejected} of 100 corrupted histories were rejected`);
});

Deno.test("checkLinearizable() gives the same verdict with and without pruning", () => {
  const rng = new Rng(2024);
  const seen = { valid: 0, invalid: 0, prunedValid: 0, prunedInvalid: 0 };
  for (let i = 0; i < 3000; i++) {
    const h = simulateRegisters(rng, {
      keys: 1,
      opsPerKey: rng.range(2, 9),
      workers: rng.range(1, 3),
      unknownRate: 0.4,
      blindCasRate: 0.2,
    });
    if (rng.chance(0.5)) corrupt(rng, h);
    const full = checkLinearizable(h, { prune: false }).ok;
    const pruned = checkLinearizable(h, { prune: true }).ok;
    assert.equal(pruned, full, `verdicts differ on ${JSON.stringify(h)}`);
    const didPrune = pruneUnobserved(h).length < h.filter((x) =>
      x.ret !== undefined || x.op.kind !== "read"
    ).length;
    if (full === true) seen.valid++, didPrune && seen.prunedValid++;
    else seen.invalid++, didPrune && seen.prunedInvalid++;
  }
  // Both verdicts, with pruning at work, are well represented.
  for (const [what, count] of Object.entries(seen)) assert.ok(count > 100, `${what}: ${count}`);
});

Deno.test("checkLinearizable() decides a long workload history within a small step budget", () => {
  // The fault workload's shape: 8 keys × 150 ops, 8 concurrent workers, 10% unknown writes.
  // A step budget is the deterministic stand-in for "fast": a step places one operation, and
  // about 100,000 steps take a second here.
  const h = simulateRegisters(new Rng(6), {
    keys: 8,
    opsPerKey: 150,
    workers: 8,
    unknownRate: 0.1,
  });
  let started = performance.now();
  assert.deepEqual(checkLinearizable(h, { maxSteps: 5_000 }), { ok: true });
  console.log(`accepted ${h.length} operations in ${(performance.now() - started).toFixed(1)} ms`);

  // A stale read in a history with 30% unknown writes: the unknown writes nobody observed make
  // the unpruned search try them everywhere before it can refute the history.
  const bad = simulateRegisters(new Rng(1), {
    keys: 8,
    opsPerKey: 150,
    workers: 8,
    unknownRate: 0.3,
  });
  const reads = bad.filter((x) => x.op.kind === "read" && x.ret !== undefined);
  const victim = reads[Math.floor(reads.length * 0.9)];
  const old = bad.find((x) =>
    x.key === victim.key && x.op.kind === "write" && x.ret !== undefined && x.ret < victim.call
  )!;
  victim.op = r(old.op.value as string);
  started = performance.now();
  const verdict = checkLinearizable(bad, { maxSteps: 5_000 });
  assert.equal(verdict.ok, false);
  assert.equal(verdict.ok === false && verdict.stuck, victim);
  console.log(
    `rejected ${bad.length} operations in ${(performance.now() - started).toFixed(1)} ms`,
  );
  assert.equal(checkLinearizable(bad, { maxSteps: 5_000, prune: false }).ok, "unknown");
});
