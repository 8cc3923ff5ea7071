import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock, SystemClock } from "../../../src/base/clock.ts";
import { isRangeDbError } from "../../../src/base/errors.ts";

Deno.test("ManualClock.now() starts at the given time and moves with advance() and jump()", () => {
  const clock = new ManualClock({ now: 1_000 });
  assert.equal(clock.now(), 1_000);
  assert.equal(clock.monotonic(), 0);
  clock.advance(250);
  assert.equal(clock.now(), 1_250);
  assert.equal(clock.monotonic(), 250);
  clock.jump(-500);
  assert.equal(clock.now(), 750);
  assert.equal(clock.monotonic(), 250, "a wall-clock jump leaves monotonic time alone");
});

Deno.test("ManualClock.advance() fires due timers in due order, ties in scheduling order", () => {
  const clock = new ManualClock();
  const fired: string[] = [];
  clock.after(30, () => fired.push(`c@${clock.monotonic()}`));
  clock.after(10, () => fired.push(`a@${clock.monotonic()}`));
  clock.after(10, () => fired.push(`b@${clock.monotonic()}`));
  clock.after(31, () => fired.push("late"));
  clock.advance(30);
  assert.deepEqual(fired, ["a@10", "b@10", "c@30"]);
  assert.equal(clock.pending, 1);
  clock.advance(1);
  assert.deepEqual(fired, ["a@10", "b@10", "c@30", "late"]);
  assert.equal(clock.pending, 0);
});

Deno.test("ManualClock.advance() fires timers scheduled by callbacks within the same step", () => {
  const clock = new ManualClock();
  const fired: number[] = [];
  const tick = () => {
    fired.push(clock.monotonic());
    clock.after(10, tick);
  };
  clock.after(10, tick);
  clock.advance(35);
  assert.deepEqual(fired, [10, 20, 30]);
  assert.equal(clock.monotonic(), 35);
});

Deno.test("ManualClock.after() returns a cancel that prevents firing and is idempotent", () => {
  const clock = new ManualClock();
  let fired = 0;
  const cancel = clock.after(5, () => fired++);
  clock.after(5, () => fired += 10);
  cancel();
  cancel();
  clock.advance(5);
  assert.equal(fired, 10);
});

Deno.test("ManualClock fires any mix of timers and cancels in (due, scheduling) order", () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant("after" as const), ms: fc.integer({ min: -5, max: 50 }) }),
    fc.record({ kind: fc.constant("cancel" as const), which: fc.nat() }),
    fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 30 }) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
    const clock = new ManualClock();
    const fired: number[] = [];
    const timers: { id: number; due: number; cancel: () => void; live: boolean }[] = [];
    for (const o of ops) {
      if (o.kind === "after") {
        const id = timers.length;
        const cancel = clock.after(o.ms, () => {
          assert.equal(clock.monotonic(), timers[id].due);
          fired.push(id);
        });
        timers.push({ id, due: clock.monotonic() + Math.max(0, o.ms), cancel, live: true });
      } else if (o.kind === "cancel" && timers.length > 0) {
        const t = timers[o.which % timers.length];
        t.cancel();
        if (!fired.includes(t.id)) t.live = false;
      } else if (o.kind === "advance") {
        const before = fired.length;
        const end = clock.monotonic() + o.ms;
        clock.advance(o.ms);
        const want = timers
          .filter((t) => t.live && t.due <= end && !fired.slice(0, before).includes(t.id))
          .sort((a, b) => a.due - b.due || a.id - b.id)
          .map((t) => t.id);
        assert.deepEqual(fired.slice(before), want);
      }
    }
    const pending = timers.filter((t) => t.live && !fired.includes(t.id)).length;
    assert.equal(clock.pending, pending);
  }));
});

Deno.test("ManualClock.after() cancel called inside its own callback changes nothing", () => {
  const clock = new ManualClock();
  let cancel = () => {};
  cancel = clock.after(1, () => cancel());
  clock.after(5, () => {});
  clock.advance(1);
  assert.equal(clock.pending, 1);
});

Deno.test("ManualClock.after() treats a negative delay as zero", () => {
  const clock = new ManualClock();
  let fired = false;
  clock.after(-5, () => fired = true);
  clock.advance(0);
  assert.equal(fired, true);
});

Deno.test("ManualClock.nextDue() names the earliest live timer, skipping cancelled ones", () => {
  const clock = new ManualClock();
  assert.equal(clock.nextDue(), undefined);
  const cancel = clock.after(5, () => {});
  clock.after(20, () => {});
  assert.equal(clock.nextDue(), 5);
  cancel();
  assert.equal(clock.nextDue(), 20);
  clock.advance(20);
  assert.equal(clock.nextDue(), undefined);
  clock.after(0, () => {});
  assert.equal(clock.nextDue(), 20, "due now, on the monotonic scale");
});

Deno.test("ManualClock.advance() refuses a negative or infinite step", () => {
  const clock = new ManualClock();
  for (const bad of [-1, Infinity, NaN]) {
    assert.throws(() => clock.advance(bad), (e) => isRangeDbError(e, "INVALID_ARGUMENT"));
  }
});

Deno.test("SystemClock.after() runs the callback and its cancel stops it", async () => {
  const clock = new SystemClock();
  const start = clock.monotonic();
  let cancelledFired = false;
  clock.after(1, () => cancelledFired = true)();
  await new Promise<void>((resolve) => clock.after(5, resolve));
  assert.ok(clock.monotonic() - start >= 4);
  assert.equal(cancelledFired, false);
  assert.ok(Math.abs(clock.now() - Date.now()) < 1000);
});
