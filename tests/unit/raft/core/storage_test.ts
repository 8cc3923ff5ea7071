import assert from "node:assert/strict";
import { type Entry, EntryType, isRaftError, MemoryStorage } from "../../../../src/raft/mod.ts";

const cs = {
  voters: [1, 2, 3],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};

function ent(index: number, term: number, data = ""): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(data) };
}

/** Storage with snapshot at 3/3 and entries 4/4, 5/5. */
function filled(): MemoryStorage {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(2, 2), ent(3, 3), ent(4, 4), ent(5, 5)]);
  s.createSnapshot(3, cs, new Uint8Array());
  s.compact(3);
  return s;
}

Deno.test("MemoryStorage.fromConfState() starts behind a snapshot at index 1, term 1", () => {
  const s = MemoryStorage.fromConfState(cs);
  assert.equal(s.firstIndex(), 2);
  assert.equal(s.lastIndex(), 1);
  assert.equal(s.term(1), 1);
  assert.deepEqual(s.initialState(), { hardState: { term: 1, vote: 0, commit: 1 }, confState: cs });
  assert.equal(s.snapshot().metadata.index, 1);
});

Deno.test("MemoryStorage.term() throws ErrCompacted and ErrUnavailable outside the log", () => {
  const s = filled();
  assert.equal(s.term(3), 3);
  assert.equal(s.term(5), 5);
  assert.throws(() => s.term(2), (e) => isRaftError(e, "ErrCompacted"));
  assert.throws(() => s.term(6), (e) => isRaftError(e, "ErrUnavailable"));
});

Deno.test("MemoryStorage.entries() returns [lo, hi) limited by size but at least one", () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1, "aa"), ent(2, 1, "bb"), ent(3, 1, "cc")]);
  const table: [number, number, number, number[]][] = [
    [1, 4, Infinity, [1, 2, 3]],
    [1, 4, 0, [1]],
    [1, 4, 4, [1, 2]],
    [1, 4, 5, [1, 2]],
    [1, 4, 6, [1, 2, 3]],
    [2, 3, Infinity, [2]],
  ];
  for (const [lo, hi, max, want] of table) {
    assert.deepEqual(s.entries(lo, hi, max).map((e) => e.index), want, `[${lo},${hi}) max ${max}`);
  }
  assert.throws(() => s.entries(0, 2, Infinity), (e) => isRaftError(e, "ErrCompacted"));
  assert.throws(() => s.entries(1, 5, Infinity), (e) => isRaftError(e, "ErrUnavailable"));
});

Deno.test("MemoryStorage.append() truncates a conflicting suffix and skips compacted entries", () => {
  const table: [Entry[], [number, number][]][] = [
    [[ent(4, 4), ent(5, 5)], [[3, 3], [4, 4], [5, 5]]],
    [[ent(4, 4), ent(5, 6), ent(6, 6)], [[3, 3], [4, 4], [5, 6], [6, 6]]],
    [[ent(2, 3), ent(3, 3), ent(4, 5)], [[3, 3], [4, 5]]],
    [[ent(4, 5)], [[3, 3], [4, 5]]],
    [[ent(6, 5)], [[3, 3], [4, 4], [5, 5], [6, 5]]],
  ];
  for (const [ents, want] of table) {
    const s = filled();
    s.append(ents);
    const got: [number, number][] = [];
    for (let i = s.firstIndex() - 1; i <= s.lastIndex(); i++) got.push([i, s.term(i)]);
    assert.deepEqual(got, want);
  }
  const s = filled();
  assert.throws(() => s.append([ent(7, 5)]), (e) => isRaftError(e, "ErrUnavailable"));
});

Deno.test("MemoryStorage.compact() keeps the compacted index's term readable", () => {
  const s = filled();
  s.compact(4);
  assert.equal(s.firstIndex(), 5);
  assert.equal(s.term(4), 4);
  assert.throws(() => s.compact(4), (e) => isRaftError(e, "ErrCompacted"));
  assert.throws(() => s.compact(6), (e) => isRaftError(e, "ErrUnavailable"));
});

Deno.test("MemoryStorage.createSnapshot() and applySnapshot() refuse out-of-date snapshots", () => {
  const s = filled();
  const snap = s.createSnapshot(4, undefined, new Uint8Array([7]));
  assert.deepEqual(snap.metadata, { index: 4, term: 4, confState: cs });
  assert.throws(
    () => s.createSnapshot(4, cs, new Uint8Array()),
    (e) => isRaftError(e, "ErrSnapOutOfDate"),
  );
  const t = new MemoryStorage();
  t.applySnapshot(snap);
  assert.equal(t.firstIndex(), 5);
  assert.equal(t.lastIndex(), 4);
  assert.throws(() => t.applySnapshot(snap), (e) => isRaftError(e, "ErrSnapOutOfDate"));
});
