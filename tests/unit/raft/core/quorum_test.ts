import assert from "node:assert/strict";
import { JointConfig } from "../../../../src/raft/quorum/joint.ts";
import { MajorityConfig, VoteResult } from "../../../../src/raft/quorum/majority.ts";
import { Inflights } from "../../../../src/raft/tracker/inflights.ts";
import { Progress } from "../../../../src/raft/tracker/progress.ts";
import { ProgressTracker, TrackerConfig } from "../../../../src/raft/tracker/progress_tracker.ts";

const acked = (m: Record<number, number>) => (id: number) => m[id];

Deno.test("MajorityConfig.committedIndex() is the highest index a majority acked", () => {
  const table: [number[], Record<number, number>, number][] = [
    [[], {}, Infinity],
    [[1], { 1: 5 }, 5],
    [[1], {}, 0],
    [[1, 2], { 1: 5, 2: 3 }, 3],
    [[1, 2, 3], { 1: 5, 2: 3, 3: 1 }, 3],
    [[1, 2, 3], { 1: 5, 2: 5 }, 5],
    [[1, 2, 3], { 1: 5 }, 0],
    [[1, 2, 3, 4], { 1: 9, 2: 8, 3: 7, 4: 1 }, 7], // three of four hold 7
    [[1, 2, 3, 4, 5], { 1: 9, 2: 8, 3: 7, 4: 1, 5: 2 }, 7],
  ];
  for (const [ids, m, want] of table) {
    assert.equal(
      new MajorityConfig(ids).committedIndex(acked(m)),
      want,
      `${ids} ${JSON.stringify(m)}`,
    );
  }
});

Deno.test("MajorityConfig.voteResult() is won, lost or pending by majority", () => {
  const votes = (m: Record<number, boolean>) => new Map(Object.entries(m).map(([k, v]) => [+k, v]));
  const table: [number[], Record<number, boolean>, VoteResult][] = [
    [[], {}, VoteResult.Won],
    [[1], {}, VoteResult.Pending],
    [[1], { 1: true }, VoteResult.Won],
    [[1], { 1: false }, VoteResult.Lost],
    [[1, 2, 3], { 1: true }, VoteResult.Pending],
    [[1, 2, 3], { 1: true, 2: true }, VoteResult.Won],
    [[1, 2, 3], { 1: true, 2: false }, VoteResult.Pending],
    [[1, 2, 3], { 1: false, 2: false }, VoteResult.Lost],
    [[1, 2, 3, 4], { 1: true, 2: true }, VoteResult.Pending],
    [[1, 2, 3, 4], { 1: false, 2: false }, VoteResult.Lost],
    [[1, 2, 3], { 4: true, 5: true }, VoteResult.Pending], // votes of non-members do not count
  ];
  for (const [ids, m, want] of table) {
    assert.equal(new MajorityConfig(ids).voteResult(votes(m)), want, `${ids} ${JSON.stringify(m)}`);
  }
});

Deno.test("JointConfig.committedIndex() is the minimum of both halves", () => {
  const table: [number[], number[], Record<number, number>, number][] = [
    [[1, 2, 3], [], { 1: 5, 2: 5, 3: 1 }, 5],
    [[1, 2, 3], [1, 2, 3], { 1: 5, 2: 5, 3: 1 }, 5],
    [[1, 2, 3], [4, 5, 6], { 1: 5, 2: 5, 3: 5, 4: 2 }, 0],
    [[1, 2, 3], [3, 4, 5], { 1: 7, 2: 7, 3: 6, 4: 6, 5: 1 }, 6],
    [[1, 2, 3], [3, 4, 5], { 1: 7, 2: 7, 3: 1, 4: 1, 5: 9 }, 1],
    [[1], [1, 2], { 1: 9, 2: 3 }, 3],
  ];
  for (const [inc, out, m, want] of table) {
    const c = new JointConfig(new MajorityConfig(inc), new MajorityConfig(out));
    assert.equal(c.committedIndex(acked(m)), want, `${c} ${JSON.stringify(m)}`);
  }
});

Deno.test("JointConfig.voteResult() needs both halves to win and loses if either loses", () => {
  const votes = (m: Record<number, boolean>) => new Map(Object.entries(m).map(([k, v]) => [+k, v]));
  const table: [number[], number[], Record<number, boolean>, VoteResult][] = [
    [[1, 2, 3], [], { 1: true, 2: true }, VoteResult.Won],
    [[1, 2, 3], [4, 5, 6], { 1: true, 2: true }, VoteResult.Pending],
    [[1, 2, 3], [4, 5, 6], { 1: true, 2: true, 4: true, 5: true }, VoteResult.Won],
    [[1, 2, 3], [4, 5, 6], { 1: true, 2: true, 4: false, 5: false }, VoteResult.Lost],
    [[1, 2, 3], [3, 4, 5], { 3: true, 4: true }, VoteResult.Pending],
    [[1, 2, 3], [3, 4, 5], { 1: true, 3: true, 4: true }, VoteResult.Won],
    [[1, 2, 3], [1, 2, 3], { 1: false, 2: false }, VoteResult.Lost],
  ];
  for (const [inc, out, m, want] of table) {
    const c = new JointConfig(new MajorityConfig(inc), new MajorityConfig(out));
    assert.equal(c.voteResult(votes(m)), want, `${c} ${JSON.stringify(m)}`);
  }
});

function tracker(voters: number[], learners: number[], outgoing: number[] = []): ProgressTracker {
  const t = new ProgressTracker(256, 0);
  t.config = new TrackerConfig(
    new JointConfig(new MajorityConfig(voters), new MajorityConfig(outgoing)),
    new Set(learners),
  );
  for (const id of new Set([...voters, ...outgoing, ...learners])) {
    t.progress.set(id, new Progress(1, new Inflights(256, 0), learners.includes(id), false));
  }
  return t;
}

Deno.test("ProgressTracker never counts learners toward commit, votes or activity", () => {
  const t = tracker([1, 2, 3], [4, 5]);
  const match: Record<number, number> = { 1: 9, 2: 1, 3: 1, 4: 9, 5: 9 };
  for (const [id, pr] of t.progress) pr.match = match[id];
  assert.equal(t.committed(), 1, "learners 4 and 5 hold 9 but are no quorum");

  for (const id of [1, 4, 5]) t.recordVote(id, true);
  assert.deepEqual(t.tallyVotes(), { granted: 1, rejected: 0, result: VoteResult.Pending });
  t.recordVote(2, true);
  assert.equal(t.tallyVotes().result, VoteResult.Won);

  for (const id of [1, 4, 5]) t.progress.get(id)!.recentActive = true;
  assert.equal(t.quorumActive(), false);
  t.progress.get(3)!.recentActive = true;
  assert.equal(t.quorumActive(), true);
});

Deno.test("ProgressTracker.committed() in a joint config needs both majorities", () => {
  const t = tracker([1, 2, 3], [], [3, 4, 5]);
  const match: Record<number, number> = { 1: 7, 2: 7, 3: 1, 4: 1, 5: 7 };
  for (const [id, pr] of t.progress) pr.match = match[id];
  assert.equal(t.committed(), 1);
  t.progress.get(4)!.match = 7;
  assert.equal(t.committed(), 7);
});

Deno.test("ProgressTracker.recordVote() keeps the first vote of a node", () => {
  const t = tracker([1, 2, 3], []);
  t.recordVote(2, false);
  t.recordVote(2, true);
  assert.deepEqual(t.tallyVotes(), { granted: 0, rejected: 1, result: VoteResult.Pending });
});
