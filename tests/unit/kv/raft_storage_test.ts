import assert from "node:assert/strict";
import { type Entry, EntryType, isRaftError } from "../../../src/raft/mod.ts";
import { bootstrapCluster } from "../../../src/kv/bootstrap.ts";
import { ReplicaRaftStorage } from "../../../src/kv/raft_storage.ts";
import { type Engine, openLmdbEngine } from "../../../src/storage/mod.ts";

function ent(index: number, term: number, data = ""): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(data) };
}

async function withEngine(fn: (engine: Engine) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-raft-storage-" });
  const engine = await openLmdbEngine(dir);
  try {
    await fn(engine);
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function stage(
  engine: Engine,
  s: ReplicaRaftStorage,
  fn: (batch: ReturnType<Engine["batch"]>) => void,
): Promise<void> {
  const batch = engine.batch();
  fn(batch);
  await engine.write(batch, { sync: false });
  s.commit();
}

/** Storage with a snapshot at 3/3 and entries 4/4, 5/5. */
async function filled(engine: Engine): Promise<ReplicaRaftStorage> {
  const s = ReplicaRaftStorage.load(engine, 7);
  await stage(
    engine,
    s,
    (b) => s.appendTo(b, [ent(1, 1), ent(2, 2), ent(3, 3), ent(4, 4), ent(5, 5)]),
  );
  await stage(engine, s, (b) => s.compactTo(b, 3));
  return s;
}

Deno.test("ReplicaRaftStorage.load() starts behind bootstrap's snapshot at index 1, term 1", async () => {
  await withEngine(async (engine) => {
    await bootstrapCluster(engine, { voters: [1, 2, 3] });
    const s = ReplicaRaftStorage.load(engine, 1);
    assert.equal(s.firstIndex(), 2);
    assert.equal(s.lastIndex(), 1);
    assert.equal(s.term(1), 1);
    assert.deepEqual(s.initialState().hardState, { term: 1, vote: 0, commit: 1 });
    const empty = ReplicaRaftStorage.load(engine, 2);
    assert.equal(empty.firstIndex(), 1);
    assert.equal(empty.lastIndex(), 0);
  });
});

Deno.test("ReplicaRaftStorage.term() throws ErrCompacted and ErrUnavailable outside the log", async () => {
  await withEngine(async (engine) => {
    for (const s of [await filled(engine), ReplicaRaftStorage.load(engine, 7)]) {
      assert.equal(s.term(3), 3);
      assert.equal(s.term(5), 5);
      assert.throws(() => s.term(2), (e) => isRaftError(e, "ErrCompacted"));
      assert.throws(() => s.term(6), (e) => isRaftError(e, "ErrUnavailable"));
    }
  });
});

Deno.test("ReplicaRaftStorage.entries() returns [lo, hi) limited by size but at least one", async () => {
  await withEngine(async (engine) => {
    const s = ReplicaRaftStorage.load(engine, 3);
    await stage(
      engine,
      s,
      (b) => s.appendTo(b, [ent(1, 1, "aa"), ent(2, 1, "bb"), ent(3, 1, "cc")]),
    );
    const table: [number, number, number, number[]][] = [
      [1, 4, Infinity, [1, 2, 3]],
      [1, 4, 0, [1]],
      [1, 4, 4, [1, 2]],
      [1, 4, 5, [1, 2]],
      [1, 4, 6, [1, 2, 3]],
      [2, 3, Infinity, [2]],
    ];
    // The same answers from the in-memory tail and, after a reload, from the engine.
    for (const st of [s, ReplicaRaftStorage.load(engine, 3)]) {
      for (const [lo, hi, max, want] of table) {
        assert.deepEqual(st.entries(lo, hi, max).map((e) => e.index), want, `[${lo},${hi}) ${max}`);
      }
      assert.equal(new TextDecoder().decode(st.entries(2, 3, Infinity)[0].data), "bb");
      assert.throws(() => st.entries(0, 2, Infinity), (e) => isRaftError(e, "ErrCompacted"));
      assert.throws(() => st.entries(1, 5, Infinity), (e) => isRaftError(e, "ErrUnavailable"));
    }
  });
});

Deno.test("ReplicaRaftStorage.appendTo() replaces a conflicting suffix, visible only after commit()", async () => {
  await withEngine(async (engine) => {
    const s = ReplicaRaftStorage.load(engine, 1);
    await stage(engine, s, (b) => s.appendTo(b, [ent(1, 1), ent(2, 1), ent(3, 1), ent(4, 1)]));
    const batch = engine.batch();
    s.appendTo(batch, [ent(3, 2)]);
    s.setHardState(batch, { term: 2, vote: 1, commit: 2 });
    assert.equal(s.lastIndex(), 4, "staged entries are invisible before commit");
    assert.equal(s.hardState().term, 0);
    await engine.write(batch);
    s.commit();
    assert.equal(s.lastIndex(), 3);
    assert.equal(s.term(3), 2);
    const reloaded = ReplicaRaftStorage.load(engine, 1);
    assert.equal(reloaded.lastIndex(), 3, "the persisted suffix was deleted");
    assert.equal(reloaded.term(3), 2);
    assert.deepEqual(reloaded.hardState(), { term: 2, vote: 1, commit: 2 });
    assert.throws(() => s.appendTo(engine.batch(), [ent(9, 2)]), /gap/);
  });
});

Deno.test("ReplicaRaftStorage.compactTo() and applySnapshotTo() move the first index durably", async () => {
  await withEngine(async (engine) => {
    const s = await filled(engine);
    assert.equal(s.firstIndex(), 4);
    assert.throws(() => s.entries(3, 5, Infinity), (e) => isRaftError(e, "ErrCompacted"));
    assert.throws(() => s.compactTo(engine.batch(), 3), (e) => isRaftError(e, "ErrCompacted"));
    assert.throws(() => s.compactTo(engine.batch(), 6), (e) => isRaftError(e, "ErrUnavailable"));
    const snap = {
      metadata: {
        index: 10,
        term: 6,
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
    await stage(engine, s, (b) => s.applySnapshotTo(b, snap));
    for (const st of [s, ReplicaRaftStorage.load(engine, 7)]) {
      assert.equal(st.firstIndex(), 11);
      assert.equal(st.lastIndex(), 10);
      assert.equal(st.term(10), 6);
    }
    await stage(engine, s, (b) => s.appendTo(b, [ent(11, 6, "x")]));
    assert.equal(ReplicaRaftStorage.load(engine, 7).entries(11, 12, Infinity)[0].term, 6);
  });
});
