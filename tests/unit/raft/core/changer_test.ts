import assert from "node:assert/strict";
import { Changer, type ConfChangeSingle } from "../../../../src/raft/confchange/changer.ts";
import { restoreConfState } from "../../../../src/raft/confchange/restore.ts";
import { ProgressTracker } from "../../../../src/raft/tracker/progress_tracker.ts";
import { ConfChangeType, type ConfState, isRaftError } from "../../../../src/raft/mod.ts";

const v = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.AddNode, nodeId });
const l = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.AddLearnerNode, nodeId });
const r = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.RemoveNode, nodeId });

/** Applies steps to a tracker in turn, returning each resulting config as text. */
function run(steps: ((c: Changer) => ReturnType<Changer["simple"]>)[]): string[] {
  const t = new ProgressTracker(256, 0);
  const out: string[] = [];
  for (const step of steps) {
    const res = step(new Changer(t, 10));
    t.config = res.config;
    t.progress = res.progress;
    out.push(t.config.toString());
  }
  return out;
}

Deno.test("Changer.simple() adds, removes and demotes one voter at a time", () => {
  assert.deepEqual(
    run([
      (c) => c.simple([v(1)]),
      (c) => c.simple([v(2)]),
      (c) => c.simple([l(3)]),
      (c) => c.simple([v(3)]), // promote the learner
      (c) => c.simple([l(2)]), // demote a voter
      (c) => c.simple([r(2)]),
    ]),
    [
      "voters=(1)",
      "voters=(1 2)",
      "voters=(1 2) learners=(3)",
      "voters=(1 2 3)",
      "voters=(1 3) learners=(2)",
      "voters=(1 3)",
    ],
  );
});

Deno.test("Changer.simple() refuses to change two voters or to remove every voter", () => {
  const t = new ProgressTracker(256, 0);
  const res = new Changer(t, 0).simple([v(1)]);
  t.config = res.config;
  t.progress = res.progress;
  assert.throws(
    () => new Changer(t, 0).simple([v(2), v(3)]),
    (e) => isRaftError(e, "ErrInvalidConfChange"),
  );
  assert.throws(
    () => new Changer(t, 0).simple([r(1)]),
    (e) => isRaftError(e, "ErrInvalidConfChange"),
  );
  assert.throws(
    () => new Changer(t, 0).leaveJoint(),
    (e) => isRaftError(e, "ErrInvalidConfChange"),
  );
});

Deno.test("Changer.enterJoint() keeps the old voters outgoing and learnersNext until leaving", () => {
  assert.deepEqual(
    run([
      (c) => c.simple([v(1)]),
      (c) => c.simple([v(2)]),
      (c) => c.simple([v(3)]),
      (c) => c.enterJoint(true, [r(1), l(3), v(4)]),
      (c) => c.leaveJoint(),
    ]),
    [
      "voters=(1)",
      "voters=(1 2)",
      "voters=(1 2 3)",
      "voters=(2 4)&&(1 2 3) learners_next=(3) autoleave",
      "voters=(2 4) learners=(3)",
    ],
  );
});

Deno.test("Changer.enterJoint() refuses when already joint; simple() refuses when joint", () => {
  const t = new ProgressTracker(256, 0);
  for (
    const step of [(c: Changer) => c.simple([v(1)]), (c: Changer) => c.enterJoint(false, [v(2)])]
  ) {
    const res = step(new Changer(t, 0));
    t.config = res.config;
    t.progress = res.progress;
  }
  assert.throws(
    () => new Changer(t, 0).enterJoint(false, [v(3)]),
    (e) => isRaftError(e, "ErrInvalidConfChange"),
  );
  assert.throws(
    () => new Changer(t, 0).simple([v(3)]),
    (e) => isRaftError(e, "ErrInvalidConfChange"),
  );
});

Deno.test("Changer leaves the current tracker untouched", () => {
  const t = new ProgressTracker(256, 0);
  const res = new Changer(t, 5).simple([v(1)]);
  assert.equal(t.progress.size, 0);
  assert.equal(res.progress.get(1)!.next, 5);
  assert.equal(res.progress.get(1)!.recentActive, true);
});

Deno.test("restoreConfState() rebuilds simple and joint configurations exactly", () => {
  const table: ConfState[] = [
    { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    { voters: [1, 2], learners: [4], votersOutgoing: [], learnersNext: [], autoLeave: false },
    {
      voters: [1, 2, 4],
      learners: [5],
      votersOutgoing: [1, 2, 3],
      learnersNext: [3],
      autoLeave: true,
    },
    { voters: [4, 5], learners: [], votersOutgoing: [1, 2, 3], learnersNext: [], autoLeave: false },
  ];
  for (const cs of table) {
    const t = new ProgressTracker(256, 0);
    const res = restoreConfState(t, 0, cs);
    t.config = res.config;
    t.progress = res.progress;
    assert.deepEqual(t.confState(), cs);
  }
});
