/**
 * {@linkcode ReplicaRaftStorage}: a range's Raft log, hard state and truncated state in the
 * engine's `raft_log` and `raft_state` keyspaces, read by Raft through the {@linkcode Storage}
 * interface.
 *
 * Writes are staged into the scheduler turn's engine batch (`appendTo`, `setHardState`,
 * `applySnapshotTo`, `compactTo`) and become visible to Raft only through {@linkcode
 * ReplicaRaftStorage.commit}, which the scheduler calls once the batch is durable: Raft never
 * reads state that a crash could take back. The newest entries are kept in memory (the leader
 * reads them back at once to replicate them), older ones are read from the engine.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import {
  type ConfState,
  type Entry,
  type HardState,
  RaftError,
  type Snapshot,
  type Storage,
} from "../raft/mod.ts";
import type { Engine, WriteBatch } from "../storage/mod.ts";
import { raftLogKey, raftLogSpan, raftStateKey, RaftStateKind } from "./keys.ts";
import {
  decodeEntry,
  decodeHardState,
  decodeTruncatedState,
  encodeEntry,
  encodeHardState,
  encodeTruncatedState,
  entryTermOf,
} from "./raft_log_codec.ts";

/** Entries kept in memory at most (the log's tail). */
const TAIL_ENTRIES = 8192;

/**
 * When the log is truncated: once the applied index is `threshold` entries past the first
 * index, the log keeps the last `keep` entries behind it.
 */
export const DEFAULT_LOG_TRUNCATION = Object.freeze({ threshold: 10_000, keep: 1000 });

function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

/** Options of {@linkcode ReplicaRaftStorage.load}. */
export interface ReplicaRaftStorageOptions {
  /** The membership as of the applied index (Raft's initial configuration). */
  confState?: ConfState;
  /**
   * The snapshot metadata Raft hands to a follower that needs one (the replica's applied state).
   * @default the truncated state with `confState`
   */
  snapshot?: () => Snapshot;
}

/** The Raft storage of one range over an engine. */
export class ReplicaRaftStorage implements Storage {
  readonly #engine: Engine;
  readonly #rangeId: number;
  #hard: HardState;
  #truncIndex: number;
  #truncTerm: number;
  #last: number;
  /** Entries `[last - tail.length + 1, last]`, contiguous. */
  #tail: Entry[] = [];
  readonly #confState: ConfState;
  readonly #snapshot: (() => Snapshot) | undefined;
  /** Changes staged in the current batch, applied to the fields above by commit(). */
  #staged: (() => void)[] = [];
  /** The last index as the staged batch leaves it. */
  #stagedLast: number | undefined;
  /** The hard state as the staged batch leaves it. */
  #stagedHard: HardState | undefined;

  private constructor(engine: Engine, rangeId: number, options: ReplicaRaftStorageOptions) {
    this.#engine = engine;
    this.#rangeId = rangeId;
    const hs = engine.get("raft_state", raftStateKey(rangeId, RaftStateKind.HardState));
    this.#hard = hs === undefined ? { term: 0, vote: 0, commit: 0 } : decodeHardState(hs);
    const ts = engine.get("raft_state", raftStateKey(rangeId, RaftStateKind.TruncatedState));
    const trunc = ts === undefined ? { index: 0, term: 0 } : decodeTruncatedState(ts);
    this.#truncIndex = trunc.index;
    this.#truncTerm = trunc.term;
    this.#last = trunc.index;
    const span = raftLogSpan(rangeId);
    engine.visitViews("raft_log", { ...span, reverse: true, limit: 1 }, (key) => {
      this.#last = Number(new DataView(key.buffer, key.byteOffset).getBigUint64(8));
    });
    this.#confState = options.confState ?? emptyConfState();
    this.#snapshot = options.snapshot;
  }

  /**
   * Reads a range's persisted Raft state (empty when it has none).
   *
   * @param engine the node's engine
   * @param rangeId the range
   * @param options membership and snapshot source
   * @returns the storage
   */
  static load(
    engine: Engine,
    rangeId: number,
    options: ReplicaRaftStorageOptions = {},
  ): ReplicaRaftStorage {
    return new ReplicaRaftStorage(engine, rangeId, options);
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.#hard }, confState: structuredClone(this.#confState) };
  }

  /** The durable hard state. */
  hardState(): HardState {
    return this.#hard;
  }

  /** The hard state as the current batch leaves it (staged, else durable). */
  latestHardState(): HardState {
    return this.#stagedHard ?? this.#hard;
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    if (lo <= this.#truncIndex) {
      throw new RaftError(
        "ErrCompacted",
        `Cannot read entries as they are compacted: lo is ${lo}, first index is ${this.firstIndex()}`,
      );
    }
    if (hi > this.#last + 1) {
      throw new RaftError(
        "ErrUnavailable",
        `Cannot read entries as they are past the log: hi is ${hi}, last index is ${this.#last}`,
      );
    }
    const tailFirst = this.#last - this.#tail.length + 1;
    if (lo >= tailFirst) {
      return limit(this.#tail, lo - tailFirst, hi - tailFirst, maxSize);
    }
    const out: Entry[] = [];
    let size = 0;
    const range = this.#rangeId;
    const start = raftLogKey(range, lo);
    const end = raftLogKey(range, Math.min(hi, tailFirst));
    let expect = lo;
    for (const { key, value } of this.#engine.scan("raft_log", { start, end })) {
      const index = Number(new DataView(key.buffer, key.byteOffset).getBigUint64(8));
      if (index !== expect) break;
      const e = decodeEntry(index, value);
      size += e.data.length;
      if (out.length > 0 && size > maxSize) return out;
      out.push(e);
      expect++;
    }
    if (expect < Math.min(hi, tailFirst)) {
      throw new RangeDbError(
        ErrorCode.CORRUPTION,
        `Cannot read raft log as an entry is missing: range is ${range}, index is ${expect}`,
      );
    }
    if (hi > tailFirst) {
      for (let i = 0; i < hi - tailFirst; i++) {
        const e = this.#tail[i];
        size += e.data.length;
        if (size > maxSize) break;
        out.push(e);
      }
    }
    return out;
  }

  term(i: number): number {
    if (i === this.#truncIndex) return this.#truncTerm;
    if (i < this.#truncIndex) {
      throw new RaftError(
        "ErrCompacted",
        `Cannot read term as the entry is compacted: index is ${i}, snapshot index is ${this.#truncIndex}`,
      );
    }
    if (i > this.#last) {
      throw new RaftError(
        "ErrUnavailable",
        `Cannot read term as the entry is past the log: index is ${i}, last index is ${this.#last}`,
      );
    }
    const tailFirst = this.#last - this.#tail.length + 1;
    if (i >= tailFirst) return this.#tail[i - tailFirst].term;
    const v = this.#engine.get("raft_log", raftLogKey(this.#rangeId, i));
    if (v === undefined) {
      throw new RangeDbError(
        ErrorCode.CORRUPTION,
        `Cannot read raft log as an entry is missing: range is ${this.#rangeId}, index is ${i}`,
      );
    }
    return entryTermOf(v);
  }

  lastIndex(): number {
    return this.#last;
  }

  firstIndex(): number {
    return this.#truncIndex + 1;
  }

  snapshot(): Snapshot {
    if (this.#snapshot !== undefined) return this.#snapshot();
    return {
      metadata: {
        index: this.#truncIndex,
        term: this.#truncTerm,
        confState: structuredClone(this.#confState),
      },
      data: new Uint8Array(0),
    };
  }

  /**
   * Stages entries of a Ready: they replace persisted entries from their first index on, and
   * persisted entries past the new last index are deleted.
   *
   * @throws {RangeDbError} INTERNAL when the entries would leave a gap after the last index
   */
  appendTo(batch: WriteBatch, entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const last = this.#stagedLast ?? this.#last;
    const first = entries[0].index;
    const newLast = entries[entries.length - 1].index;
    if (first > last + 1) {
      throw new RangeDbError(
        ErrorCode.INTERNAL,
        `Cannot append entries as they leave a gap: range is ${this.#rangeId}, first new index is ${first}, last index is ${last}`,
      );
    }
    const range = this.#rangeId;
    for (const e of entries) batch.put("raft_log", raftLogKey(range, e.index), encodeEntry(e));
    for (let i = newLast + 1; i <= last; i++) batch.delete("raft_log", raftLogKey(range, i));
    this.#stagedLast = newLast;
    this.#staged.push(() => {
      const tailFirst = this.#last - this.#tail.length + 1;
      if (first >= tailFirst && first <= this.#last + 1) {
        this.#tail.length = first - tailFirst;
        for (const e of entries) this.#tail.push(e);
      } else {
        this.#tail = [...entries];
      }
      if (this.#tail.length > TAIL_ENTRIES) {
        this.#tail = this.#tail.slice(this.#tail.length - TAIL_ENTRIES / 2);
      }
      this.#last = newLast;
    });
  }

  /** Stages a hard state. */
  setHardState(batch: WriteBatch, hs: HardState): void {
    batch.put(
      "raft_state",
      raftStateKey(this.#rangeId, RaftStateKind.HardState),
      encodeHardState(hs),
    );
    const copy = { term: hs.term, vote: hs.vote, commit: hs.commit };
    this.#stagedHard = copy;
    this.#staged.push(() => this.#hard = copy);
  }

  /** Stages the installation of a snapshot: the whole log is replaced by its index and term. */
  applySnapshotTo(batch: WriteBatch, snap: Snapshot): void {
    const { index, term } = snap.metadata;
    const span = raftLogSpan(this.#rangeId);
    batch.deleteRange("raft_log", span.start, span.end);
    batch.put(
      "raft_state",
      raftStateKey(this.#rangeId, RaftStateKind.TruncatedState),
      encodeTruncatedState({ index, term }),
    );
    this.#stagedLast = index;
    this.#staged.push(() => {
      this.#truncIndex = index;
      this.#truncTerm = term;
      this.#last = index;
      this.#tail = [];
    });
  }

  /**
   * Stages the removal of the entries up to and including `index`, which must be applied.
   *
   * @throws {RaftError} ErrCompacted when `index` is already compacted, ErrUnavailable when it
   * is past the log
   */
  compactTo(batch: WriteBatch, index: number): void {
    if (index <= this.#truncIndex) {
      throw new RaftError(
        "ErrCompacted",
        `Cannot compact log as the index is already compacted: index is ${index}, first index is ${this.firstIndex()}`,
      );
    }
    if (index > this.#last) {
      throw new RaftError(
        "ErrUnavailable",
        `Cannot compact log as the index is past the log: index is ${index}, last index is ${this.#last}`,
      );
    }
    const term = this.term(index);
    // The log is dense from the first index on: delete by index, without a scan of the range.
    for (let i = this.#truncIndex + 1; i <= index; i++) {
      batch.delete("raft_log", raftLogKey(this.#rangeId, i));
    }
    batch.put(
      "raft_state",
      raftStateKey(this.#rangeId, RaftStateKind.TruncatedState),
      encodeTruncatedState({ index, term }),
    );
    this.#staged.push(() => {
      this.#truncIndex = index;
      this.#truncTerm = term;
      const tailFirst = this.#last - this.#tail.length + 1;
      if (index >= tailFirst) this.#tail = this.#tail.slice(index - tailFirst + 1);
    });
  }

  /**
   * Truncates the log to `keep` entries behind `applied` once it holds more than `threshold`
   * entries. A turn may apply entries it appends itself (a follower catching up gets entries and
   * their commit in one Ready), so the truncation stops at the last entry already in the log:
   * what this turn appends is not visible to the storage yet.
   */
  truncateIfLong(
    batch: WriteBatch,
    applied: number,
    limits: { threshold: number; keep: number } = DEFAULT_LOG_TRUNCATION,
  ): void {
    const first = this.firstIndex();
    if (applied - first <= limits.threshold) return;
    const upTo = Math.min(applied - limits.keep, this.lastIndex());
    if (upTo < first) return;
    this.compactTo(batch, upTo);
  }

  /** Makes the staged changes visible; call once their batch is durable. */
  commit(): void {
    for (const change of this.#staged) change();
    this.#staged = [];
    this.#stagedLast = undefined;
    this.#stagedHard = undefined;
  }

  /** Forgets the staged changes (their batch failed). */
  discard(): void {
    this.#staged = [];
    this.#stagedLast = undefined;
    this.#stagedHard = undefined;
  }
}

/** `ents[from, to)` limited to `maxSize` bytes of data, at least one entry. */
function limit(ents: Entry[], from: number, to: number, maxSize: number): Entry[] {
  let size = 0;
  for (let i = from; i < to; i++) {
    size += ents[i].data.length;
    if (i > from && size > maxSize) return ents.slice(from, i);
  }
  return ents.slice(from, to);
}
