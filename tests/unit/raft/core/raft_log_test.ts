import assert from "node:assert/strict";
import { RaftLog } from "../../../../src/raft/raft_log.ts";
import { type Entry, EntryType, isRaftError, MemoryStorage } from "../../../../src/raft/mod.ts";

function ent(index: number, term: number, data = ""): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(data) };
}

/** A log whose storage holds entries 1..n with the given terms. */
function logWith(terms: number[], maxApply = Infinity): RaftLog {
  const s = new MemoryStorage();
  s.append(terms.map((t, i) => ent(i + 1, t)));
  return new RaftLog(s, maxApply);
}

function terms(log: RaftLog): number[] {
  const out: number[] = [];
  for (let i = log.firstIndex(); i <= log.lastIndex(); i++) out.push(log.termOrUndefined(i)!);
  return out;
}

Deno.test("RaftLog.findConflict() finds the first missing or mismatching entry", () => {
  const log = logWith([1, 2, 3]);
  const table: [Entry[], number][] = [
    [[], 0],
    [[ent(1, 1), ent(2, 2), ent(3, 3)], 0],
    [[ent(2, 2), ent(3, 3)], 0],
    [[ent(2, 2), ent(3, 3), ent(4, 4)], 4],
    [[ent(1, 4), ent(2, 4)], 1],
    [[ent(3, 4), ent(4, 4)], 3],
  ];
  for (const [ents, want] of table) assert.equal(log.findConflict(ents), want);
});

Deno.test("RaftLog.findConflictByTerm() skips back to the last entry of at most the term", () => {
  // Index:  1 2 3 4 5 6
  // Term:   1 1 2 2 4 4
  const log = logWith([1, 1, 2, 2, 4, 4]);
  const table: [number, number, [number, number]][] = [
    [6, 5, [6, 4]],
    [6, 3, [4, 2]],
    [6, 4, [6, 4]],
    [4, 1, [2, 1]],
    [2, 0, [0, 0]],
    [10, 3, [10, 0]],
  ];
  for (const [index, term, want] of table) {
    assert.deepEqual(log.findConflictByTerm(index, term), want, `(${index}, ${term})`);
  }
});

Deno.test("RaftLog.maybeAppend() appends only after a matching entry and commits the new part", () => {
  const table: {
    index: number;
    logTerm: number;
    commit: number;
    ents: Entry[];
    want: number | undefined;
    wantCommit: number;
    wantTerms: number[];
  }[] = [
    {
      index: 3,
      logTerm: 2,
      commit: 3,
      ents: [],
      want: undefined,
      wantCommit: 1,
      wantTerms: [1, 2, 3],
    },
    {
      index: 4,
      logTerm: 3,
      commit: 3,
      ents: [],
      want: undefined,
      wantCommit: 1,
      wantTerms: [1, 2, 3],
    },
    { index: 3, logTerm: 3, commit: 3, ents: [], want: 3, wantCommit: 3, wantTerms: [1, 2, 3] },
    {
      index: 3,
      logTerm: 3,
      commit: 4,
      ents: [ent(4, 4)],
      want: 4,
      wantCommit: 4,
      wantTerms: [1, 2, 3, 4],
    },
    { index: 2, logTerm: 2, commit: 3, ents: [], want: 2, wantCommit: 2, wantTerms: [1, 2, 3] },
    {
      index: 2,
      logTerm: 2,
      commit: 3,
      ents: [ent(3, 4)],
      want: 3,
      wantCommit: 3,
      wantTerms: [1, 2, 4],
    },
    {
      index: 1,
      logTerm: 1,
      commit: 2,
      ents: [ent(2, 2)],
      want: 2,
      wantCommit: 2,
      wantTerms: [1, 2, 3],
    },
  ];
  for (const t of table) {
    const log = logWith([1, 2, 3]);
    log.committed = 1;
    assert.equal(log.maybeAppend(t.index, t.logTerm, t.commit, t.ents), t.want);
    assert.equal(log.committed, t.wantCommit);
    assert.deepEqual(terms(log), t.wantTerms);
  }
});

Deno.test("RaftLog.maybeAppend() refuses to overwrite a committed entry", () => {
  const log = logWith([1, 2, 3]);
  log.committed = 2;
  assert.throws(() => log.maybeAppend(1, 1, 3, [ent(2, 4)]), (e) => isRaftError(e, "ErrInvariant"));
});

Deno.test("RaftLog.maybeAppend() commits beyond the matched part only with the planted bug", () => {
  const log = logWith([1, 2, 3]);
  assert.equal(log.maybeAppend(1, 1, 3, [], true), 1);
  assert.equal(log.committed, 3);
});

Deno.test("RaftLog.isUpToDate() compares last term, then last index", () => {
  const log = logWith([1, 2, 3]);
  const table: [number, number, boolean][] = [
    [2, 4, true],
    [3, 3, true],
    [4, 3, true],
    [2, 3, false],
    [5, 2, false],
  ];
  for (const [index, term, want] of table) assert.equal(log.isUpToDate(index, term), want);
});

Deno.test("RaftLog.commitTo() never goes backwards and refuses to pass the last index", () => {
  const log = logWith([1, 1, 1]);
  log.commitTo(2);
  log.commitTo(1);
  assert.equal(log.committed, 2);
  assert.throws(() => log.commitTo(4), (e) => isRaftError(e, "ErrInvariant"));
});

Deno.test("RaftLog.maybeCommit() commits only entries of the given term", () => {
  const log = logWith([1, 2]);
  assert.equal(log.maybeCommit(2, 1), false);
  assert.equal(log.maybeCommit(2, 2), true);
  assert.equal(log.committed, 2);
});

Deno.test("RaftLog.slice() joins storage and unstable entries within the size limit", () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1, "a"), ent(2, 1, "b"), ent(3, 1, "c")]);
  const log = new RaftLog(s, Infinity);
  log.append([ent(4, 1, "d"), ent(5, 1, "e")]);
  const table: [number, number, number, number[]][] = [
    [1, 6, Infinity, [1, 2, 3, 4, 5]],
    [2, 5, Infinity, [2, 3, 4]],
    [4, 6, Infinity, [4, 5]],
    [1, 6, 0, [1]],
    [1, 6, 4, [1, 2, 3, 4]],
    [4, 6, 1, [4]],
  ];
  for (const [lo, hi, max, want] of table) {
    assert.deepEqual(log.slice(lo, hi, max).map((e) => e.index), want);
  }
  s.createSnapshot(2, undefined, new Uint8Array());
  s.compact(2);
  assert.throws(() => log.slice(2, 4, Infinity), (e) => isRaftError(e, "ErrCompacted"));
});

Deno.test("RaftLog.nextCommittedEnts() hands out each committed entry once, within the apply limit", () => {
  const log = logWith([1, 1, 1, 1]);
  log.append([ent(5, 1)]);
  log.commitTo(5);
  const first = log.nextCommittedEnts(true);
  assert.deepEqual(first.map((e) => e.index), [1, 2, 3, 4, 5]);
  log.acceptApplying(5, 0, true);
  assert.equal(log.hasNextCommittedEnts(true), false);
  log.appliedTo(5, 0);
  assert.equal(log.applied, 5);

  const s = new MemoryStorage();
  s.append([ent(1, 1, "aa"), ent(2, 1, "bb"), ent(3, 1, "cc")]);
  const limited = new RaftLog(s, 3);
  limited.commitTo(3);
  assert.deepEqual(limited.nextCommittedEnts(true).map((e) => e.index), [1]);
  limited.acceptApplying(1, 2, true);
  assert.equal(limited.hasNextCommittedEnts(true), false, "paused until advance");
  limited.appliedTo(1, 2);
  assert.deepEqual(limited.nextCommittedEnts(true).map((e) => e.index), [2]);
});

Deno.test("RaftLog.nextCommittedEnts() withholds unstable entries unless allowed", () => {
  const log = logWith([1]);
  log.append([ent(2, 1)]);
  log.commitTo(2);
  assert.deepEqual(log.nextCommittedEnts(false).map((e) => e.index), [1]);
  assert.deepEqual(log.nextCommittedEnts(true).map((e) => e.index), [1, 2]);
});

Deno.test("RaftLog.restore() commits up to the snapshot and empties the log", () => {
  const log = logWith([1, 1]);
  log.restore({
    metadata: {
      index: 10,
      term: 3,
      confState: {
        voters: [1],
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      },
    },
    data: new Uint8Array(),
  });
  assert.equal(log.committed, 10);
  assert.equal(log.firstIndex(), 11);
  assert.equal(log.lastIndex(), 10);
  assert.equal(log.lastTerm(), 3);
  assert.equal(log.hasNextCommittedEnts(true), false);
});
