import assert from "node:assert/strict";
import { ManualClock } from "../../../src/base/clock.ts";
import { TimestampOracle, TSO_RESERVE_MS } from "../../../src/kv/tso.ts";
import { wallMsOf } from "../../../src/kv/version.ts";

/** One leader's oracle with its reservations applied at once into `hw`. */
function oracle(clock: ManualClock, hw: { ms: number }) {
  const pending: number[] = [];
  const tso = new TimestampOracle(clock, (upTo) => {
    pending.push(upTo);
    return Promise.resolve();
  });
  const applyReservations = () => {
    for (const p of pending.splice(0)) hw.ms = Math.max(hw.ms, p);
  };
  return { tso, applyReservations };
}

Deno.test("TimestampOracle.next() is strictly increasing across a leader change, even with a clock behind", () => {
  const hw = { ms: 0 };
  const clockA = new ManualClock({ now: 1_000_000 });
  const a = oracle(clockA, hw);
  const state = (term: number) => ({
    isLeader: true,
    term,
    appliedTerm: term,
    highWaterMs: hw.ms,
    lastVersion: 0n,
  });
  a.tso.update({ ...state(2), appliedTerm: 1 });
  assert.equal(a.tso.next(), undefined, "nothing before an entry of its own term applied");
  a.tso.update(state(2));
  assert.equal(a.tso.next(), undefined, "nothing before the reservation applied");
  a.applyReservations();
  a.tso.update(state(2));
  const handed: bigint[] = [];
  for (let i = 0; i < 100; i++) handed.push(a.tso.next()!);
  clockA.advance(TSO_RESERVE_MS - 500);
  a.tso.update(state(2));
  a.applyReservations();
  a.tso.update(state(2));
  handed.push(a.tso.next()!);
  // The new leader's clock is 10 s behind.
  const clockB = new ManualClock({ now: 1_000_000 - 10_000 });
  const b = oracle(clockB, hw);
  a.tso.update({ ...state(3), isLeader: false });
  assert.equal(a.tso.next(), undefined);
  b.tso.update(state(3));
  b.applyReservations();
  b.tso.update(state(3));
  for (let i = 0; i < 100; i++) handed.push(b.tso.next()!);
  for (let i = 1; i < handed.length; i++) assert.ok(handed[i] > handed[i - 1], `at ${i}`);
  assert.ok(wallMsOf(handed[handed.length - 1]) < hw.ms);
});

Deno.test("TimestampOracle.timestamp() waits for readiness and fails at the deadline", async () => {
  const clock = new ManualClock({ now: 5000 });
  const hw = { ms: 0 };
  const o = oracle(clock, hw);
  const late = o.tso.timestamp(5100);
  const soon = o.tso.timestamp(10_000);
  clock.advance(200);
  o.tso.expire(clock.now());
  await assert.rejects(late, /deadline/);
  o.tso.update({ isLeader: true, term: 2, appliedTerm: 2, highWaterMs: 0, lastVersion: 0n });
  o.applyReservations();
  o.tso.update({ isLeader: true, term: 2, appliedTerm: 2, highWaterMs: hw.ms, lastVersion: 0n });
  assert.ok((await soon) > 0n);
});
