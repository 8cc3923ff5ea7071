/**
 * The {@linkcode Storage} a Raft node reads its persisted log from, and {@linkcode MemoryStorage},
 * an in-memory implementation for tests, the simulation and benchmarks.
 *
 * @module
 */

import { RaftError } from "./errors.ts";
import { limitSize } from "./entries.ts";
import type { ConfState, Entry, HardState, Snapshot } from "./types.ts";
import { EntryType } from "./types.ts";

/**
 * Read access to the persisted Raft state. The node reads through it but never writes: the caller
 * persists what each Ready hands out (into its own storage; MemoryStorage offers `append`,
 * `setHardState`, `applySnapshot` for that).
 *
 * Indexes: entries `[firstIndex(), lastIndex()]` are readable; `term(firstIndex() - 1)` is the
 * term of the last entry covered by the snapshot and must stay readable.
 */
export interface Storage {
  /** The persisted hard state and the membership at the last snapshot. */
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * Entries in `[lo, hi)`, at most `maxSize` bytes of data but at least one entry.
   * @throws {RaftError} ErrCompacted when `lo <= firstIndex() - 1`, ErrUnavailable when `hi - 1`
   * is past `lastIndex()`
   */
  entries(lo: number, hi: number, maxSize: number): Entry[];
  /**
   * The term of entry `i`, for `i` in `[firstIndex() - 1, lastIndex()]`.
   * @throws {RaftError} ErrCompacted when `i < firstIndex() - 1`, ErrUnavailable when
   * `i > lastIndex()`
   */
  term(i: number): number;
  /** The index of the last entry (the snapshot's index when the log is empty). */
  lastIndex(): number;
  /** The index of the first readable entry (the snapshot's index + 1). */
  firstIndex(): number;
  /**
   * The most recent snapshot.
   * @throws {RaftError} ErrSnapshotTemporarilyUnavailable when it is being prepared
   */
  snapshot(): Snapshot;
}

const NO_DATA = new Uint8Array(0);

function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

function copyConfState(cs: ConfState): ConfState {
  return {
    voters: [...cs.voters],
    learners: [...cs.learners],
    votersOutgoing: [...cs.votersOutgoing],
    learnersNext: [...cs.learnersNext],
    autoLeave: cs.autoLeave,
  };
}

/**
 * A {@linkcode Storage} held in memory.
 *
 * Invariant: `ents[0]` is a dummy entry standing for the snapshot (its index and term are the
 * snapshot's), so `ents[i]` has log index `ents[0].index + i`.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "./storage.ts";
 * const s = MemoryStorage.fromConfState({ voters: [1, 2, 3], learners: [], votersOutgoing: [],
 *   learnersNext: [], autoLeave: false });
 * s.lastIndex(); // 1: the initial snapshot's index, with no entries after it
 * ```
 */
export class MemoryStorage implements Storage {
  private hard: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = {
    metadata: { index: 0, term: 0, confState: emptyConfState() },
    data: NO_DATA,
  };
  private ents: Entry[] = [{ index: 0, term: 0, type: EntryType.Normal, data: NO_DATA }];

  /**
   * Storage for bootstrapping a new cluster: an empty log behind an initial snapshot at index 1,
   * term 1 (empty data) that carries the initial membership, and a hard state of term 1, commit
   * 1. Every founding member is created this way with the same `cs`. A node that joins later
   * starts from `new MemoryStorage()` instead and receives the membership in a snapshot.
   *
   * @param cs the initial membership
   * @returns the new storage
   */
  static fromConfState(cs: ConfState): MemoryStorage {
    const s = new MemoryStorage();
    s.snap = { metadata: { index: 1, term: 1, confState: copyConfState(cs) }, data: NO_DATA };
    s.ents = [{ index: 1, term: 1, type: EntryType.Normal, data: NO_DATA }];
    s.hard = { term: 1, vote: 0, commit: 1 };
    return s;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hard }, confState: copyConfState(this.snap.metadata.confState) };
  }

  /** The persisted hard state. */
  hardState(): HardState {
    return { ...this.hard };
  }

  /** Persists the hard state of a Ready. */
  setHardState(hs: HardState): void {
    this.hard = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const offset = this.ents[0].index;
    if (lo <= offset) {
      throw new RaftError(
        "ErrCompacted",
        `Cannot read entries as they are compacted: lo is ${lo}, first index is ${offset + 1}`,
      );
    }
    if (hi > this.lastIndex() + 1) {
      throw new RaftError(
        "ErrUnavailable",
        `Cannot read entries as they are past the log: hi is ${hi}, last index is ${this.lastIndex()}`,
      );
    }
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(i: number): number {
    const offset = this.ents[0].index;
    if (i < offset) {
      throw new RaftError(
        "ErrCompacted",
        `Cannot read term as the entry is compacted: index is ${i}, snapshot index is ${offset}`,
      );
    }
    if (i - offset >= this.ents.length) {
      throw new RaftError(
        "ErrUnavailable",
        `Cannot read term as the entry is past the log: index is ${i}, last index is ${this.lastIndex()}`,
      );
    }
    return this.ents[i - offset].term;
  }

  lastIndex(): number {
    return this.ents[0].index + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.ents[0].index + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Replaces the whole log by a snapshot received from the leader.
   * @throws {RaftError} ErrSnapOutOfDate when `snap` is not newer than the current snapshot
   */
  applySnapshot(snap: Snapshot): void {
    const cur = this.snap.metadata.index;
    if (cur >= snap.metadata.index) {
      throw new RaftError(
        "ErrSnapOutOfDate",
        `Cannot apply snapshot as it is out of date: index is ${snap.metadata.index}, current is ${cur}`,
      );
    }
    this.snap = snap;
    this.ents = [{
      index: snap.metadata.index,
      term: snap.metadata.term,
      type: EntryType.Normal,
      data: NO_DATA,
    }];
  }

  /**
   * Records a snapshot of the state machine at applied index `index` (the log is not compacted;
   * call {@linkcode MemoryStorage.compact} for that).
   *
   * @param index the applied index the data reflects, at most `lastIndex()`
   * @param cs the membership at `index`; the previous one when undefined
   * @param data the state machine's serialized state
   * @returns the new snapshot
   * @throws {RaftError} ErrSnapOutOfDate when `index` is not past the current snapshot,
   * ErrUnavailable when it is past the log
   */
  createSnapshot(index: number, cs: ConfState | undefined, data: Uint8Array): Snapshot {
    const cur = this.snap.metadata.index;
    if (index <= cur) {
      throw new RaftError(
        "ErrSnapOutOfDate",
        `Cannot create snapshot as it is out of date: index is ${index}, current is ${cur}`,
      );
    }
    if (index > this.lastIndex()) {
      throw new RaftError(
        "ErrUnavailable",
        `Cannot create snapshot as the index is past the log: index is ${index}, last index is ${this.lastIndex()}`,
      );
    }
    const offset = this.ents[0].index;
    this.snap = {
      metadata: {
        index,
        term: this.ents[index - offset].term,
        confState: cs === undefined ? this.snap.metadata.confState : copyConfState(cs),
      },
      data,
    };
    return this.snap;
  }

  /**
   * Discards entries up to and including `index`, which must be applied and at most
   * `lastIndex()`; entry `index` becomes the dummy entry.
   * @throws {RaftError} ErrCompacted when `index` is already compacted, ErrUnavailable when it is
   * past the log
   */
  compact(index: number): void {
    const offset = this.ents[0].index;
    if (index <= offset) {
      throw new RaftError(
        "ErrCompacted",
        `Cannot compact log as the index is already compacted: index is ${index}, first index is ${
          offset + 1
        }`,
      );
    }
    if (index > this.lastIndex()) {
      throw new RaftError(
        "ErrUnavailable",
        `Cannot compact log as the index is past the log: index is ${index}, last index is ${this.lastIndex()}`,
      );
    }
    const i = index - offset;
    const rest = this.ents.slice(i);
    rest[0] = {
      index: this.ents[i].index,
      term: this.ents[i].term,
      type: EntryType.Normal,
      data: NO_DATA,
    };
    this.ents = rest;
  }

  /**
   * Persists entries of a Ready; entries that conflict with `entries` (from its first index on)
   * are replaced, entries already compacted are skipped.
   * @throws {RaftError} ErrUnavailable when `entries` would leave a gap after the last index
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0].index + entries.length - 1;
    if (last < first) return;
    let start = 0;
    if (first > entries[0].index) start = first - entries[0].index;
    const offset = entries[start].index - this.ents[0].index;
    if (offset > this.ents.length) {
      throw new RaftError(
        "ErrUnavailable",
        `Cannot append entries as they leave a gap: first new index is ${
          entries[start].index
        }, last index is ${this.lastIndex()}`,
      );
    }
    this.ents.length = offset;
    for (let i = start; i < entries.length; i++) this.ents.push(entries[i]);
  }
}
