import assert from "node:assert/strict";
import { Unstable } from "../../../../src/raft/log_unstable.ts";
import { type Entry, EntryType, type Snapshot } from "../../../../src/raft/mod.ts";

function ent(index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: new Uint8Array() };
}

function snap(index: number, term: number): Snapshot {
  return {
    metadata: {
      index,
      term,
      confState: {
        voters: [1],
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      },
    },
    data: new Uint8Array(),
  };
}

function unstable(offset: number, ents: Entry[], s?: Snapshot): Unstable {
  const u = new Unstable(offset);
  u.entries = ents;
  u.snapshot = s;
  return u;
}

Deno.test("Unstable.maybeTerm() answers from entries and the snapshot only", () => {
  const table: [Unstable, number, number | undefined][] = [
    [unstable(5, [ent(5, 1)]), 5, 1],
    [unstable(5, [ent(5, 1)]), 6, undefined],
    [unstable(5, [ent(5, 1)]), 4, undefined],
    [unstable(5, [ent(5, 1)], snap(4, 1)), 4, 1],
    [unstable(5, [], snap(4, 1)), 5, undefined],
    [unstable(5, [], snap(4, 1)), 4, 1],
  ];
  for (const [u, i, want] of table) assert.equal(u.maybeTerm(i), want);
});

Deno.test("Unstable.truncateAndAppend() appends, replaces or truncates the tail", () => {
  const table: [number, Entry[], Entry[], number, number[], number][] = [
    // offset, entries, to append, want offset, want terms, want offsetInProgress
    [5, [ent(5, 1)], [ent(6, 1), ent(7, 1)], 5, [1, 1, 1], 5],
    [5, [ent(5, 1)], [ent(5, 2), ent(6, 2)], 5, [2, 2], 5],
    [5, [ent(5, 1)], [ent(4, 2), ent(5, 2), ent(6, 2)], 4, [2, 2, 2], 4],
    [5, [ent(5, 1), ent(6, 1), ent(7, 1)], [ent(6, 2)], 5, [1, 2], 5],
    [5, [ent(5, 1), ent(6, 1), ent(7, 1)], [ent(7, 2), ent(8, 2)], 5, [1, 1, 2, 2], 5],
  ];
  for (const [offset, ents, toAppend, wantOffset, wantTerms, wantInProgress] of table) {
    const u = unstable(offset, ents);
    u.truncateAndAppend(toAppend);
    assert.equal(u.offset, wantOffset);
    assert.deepEqual(u.entries.map((e) => e.term), wantTerms);
    assert.equal(u.offsetInProgress, wantInProgress);
  }
});

Deno.test("Unstable.truncateAndAppend() lowers offsetInProgress when it truncates handed-out entries", () => {
  const u = unstable(5, [ent(5, 1), ent(6, 1), ent(7, 1)]);
  u.acceptInProgress();
  assert.equal(u.offsetInProgress, 8);
  assert.equal(u.nextEntries().length, 0);
  u.truncateAndAppend([ent(6, 2)]);
  assert.equal(u.offsetInProgress, 6);
  assert.deepEqual(u.nextEntries().map((e) => [e.index, e.term]), [[6, 2]]);
});

Deno.test("Unstable.truncateAndAppend() never keeps or mutates the caller's array", () => {
  const msgEntries = [ent(5, 1)];
  const u = new Unstable(5);
  u.truncateAndAppend(msgEntries);
  u.truncateAndAppend([ent(6, 1)]);
  assert.equal(msgEntries.length, 1);
});

Deno.test("Unstable.stableTo() forgets persisted entries only when the term still matches", () => {
  const table: [Unstable, number, number, number, number][] = [
    // u, index, term, want offset, want len
    [unstable(5, [ent(5, 1)]), 5, 1, 6, 0],
    [unstable(5, [ent(5, 1), ent(6, 1)]), 5, 1, 6, 1],
    [unstable(5, [ent(5, 1)]), 5, 2, 5, 1], // rewritten in the meantime
    [unstable(5, [ent(5, 1)]), 4, 1, 5, 1], // older than the unstable part
    [unstable(5, [ent(5, 1)], snap(4, 1)), 4, 1, 5, 1], // the snapshot, not an entry
  ];
  for (const [u, index, term, wantOffset, wantLen] of table) {
    u.stableTo(index, term);
    assert.equal(u.offset, wantOffset);
    assert.equal(u.entries.length, wantLen);
  }
});

Deno.test("Unstable.restore() replaces everything by the snapshot", () => {
  const u = unstable(5, [ent(5, 1)], snap(4, 1));
  u.acceptInProgress();
  u.restore(snap(6, 2));
  assert.equal(u.offset, 7);
  assert.equal(u.offsetInProgress, 7);
  assert.equal(u.entries.length, 0);
  assert.equal(u.nextSnapshot()?.metadata.index, 6);
  assert.equal(u.maybeLastIndex(), 6);
  assert.equal(u.maybeFirstIndex(), 7);
  u.stableSnapTo(6);
  assert.equal(u.snapshot, undefined);
});
