import assert from "node:assert/strict";
import { Inflights } from "../../../../src/raft/tracker/inflights.ts";
import { Progress, ProgressState } from "../../../../src/raft/tracker/progress.ts";

function progress(state: ProgressState, match: number, next: number, size = 256): Progress {
  const p = new Progress(next, new Inflights(size, 0), false, true);
  p.match = match;
  p.state = state;
  return p;
}

Deno.test("Progress.maybeDecrTo() ignores stale rejections and backs off using the hint", () => {
  const table: [ProgressState, number, number, number, number, boolean, number][] = [
    // state, match, next, rejected, hint, want ok, want next
    [ProgressState.Replicate, 5, 10, 5, 5, false, 10], // stale: rejected <= match
    [ProgressState.Replicate, 5, 10, 4, 4, false, 10],
    [ProgressState.Replicate, 5, 10, 9, 9, true, 6], // back to match + 1
    [ProgressState.Probe, 0, 0, 0, 0, false, 0], // next - 1 != rejected
    [ProgressState.Probe, 0, 10, 5, 5, false, 10],
    [ProgressState.Probe, 0, 10, 9, 9, true, 9],
    [ProgressState.Probe, 0, 2, 1, 1, true, 1],
    [ProgressState.Probe, 0, 1, 0, 0, true, 1], // never below match + 1
    [ProgressState.Probe, 0, 10, 9, 2, true, 3], // jump to the hint
    [ProgressState.Probe, 0, 10, 9, 0, true, 1],
  ];
  for (const [state, match, next, rejected, hint, wantOk, wantNext] of table) {
    const p = progress(state, match, next);
    assert.equal(p.maybeDecrTo(rejected, hint), wantOk);
    assert.equal(p.next, wantNext);
  }
});

Deno.test("Progress.maybeUpdate() moves match and next forward only", () => {
  const p = progress(ProgressState.Probe, 3, 5);
  assert.equal(p.maybeUpdate(2), false);
  assert.equal(p.maybeUpdate(4), true);
  assert.deepEqual([p.match, p.next], [4, 5]);
  assert.equal(p.maybeUpdate(8), true);
  assert.deepEqual([p.match, p.next], [8, 9]);
});

Deno.test("Progress.isPaused() depends on the state", () => {
  const probe = progress(ProgressState.Probe, 0, 1);
  assert.equal(probe.isPaused(), false);
  probe.sentEntries(1, 1);
  assert.equal(probe.isPaused(), true, "a probe waits for its answer");

  const repl = progress(ProgressState.Replicate, 0, 1, 2);
  repl.sentEntries(1, 1);
  assert.equal(repl.isPaused(), false);
  repl.sentEntries(1, 1);
  assert.equal(repl.isPaused(), true, "the window is full");
  assert.equal(repl.next, 3);

  const snap = progress(ProgressState.Probe, 0, 1);
  snap.becomeSnapshot(10);
  assert.equal(snap.isPaused(), true);
});

Deno.test("Progress.becomeProbe() resumes after a pending snapshot", () => {
  const p = progress(ProgressState.Replicate, 1, 5);
  p.becomeSnapshot(10);
  assert.deepEqual([p.next, p.pendingSnapshot], [11, 10]);
  p.becomeProbe();
  assert.deepEqual([p.state, p.next, p.pendingSnapshot], [ProgressState.Probe, 11, 0]);

  const q = progress(ProgressState.Replicate, 1, 5);
  q.sentEntries(2, 0);
  q.becomeProbe();
  assert.deepEqual([q.next, q.inflights.count], [2, 0]);
});

Deno.test("Progress.canBumpCommit() tells whether a commit index is news", () => {
  const p = progress(ProgressState.Replicate, 3, 6);
  p.setSentCommit(4);
  assert.equal(p.canBumpCommit(4), false);
  assert.equal(p.canBumpCommit(5), true);
  p.setSentCommit(5);
  assert.equal(p.canBumpCommit(7), false, "nothing beyond next - 1 to apply it to");
});

Deno.test("Progress.reset() starts over in probe state with nothing sent or heard", () => {
  const p = progress(ProgressState.Replicate, 3, 4);
  p.sentEntries(2, 10);
  p.setSentCommit(5);
  p.reset(0, 9);
  assert.deepEqual(
    [p.state, p.match, p.next, p.sentCommit, p.recentActive, p.inflights.count],
    [ProgressState.Probe, 0, 9, 0, false, 0],
  );

  const q = progress(ProgressState.Probe, 0, 1);
  q.becomeSnapshot(7);
  q.sentEntries(1, 0);
  assert.deepEqual([q.pendingSnapshot, q.msgAppProbesPaused], [7, true]);
  q.reset(8, 9);
  assert.deepEqual(
    [q.state, q.match, q.next, q.pendingSnapshot, q.msgAppProbesPaused],
    [ProgressState.Probe, 8, 9, 0, false],
  );
});
