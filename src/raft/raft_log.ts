/**
 * {@linkcode RaftLog}: a node's log, the persisted part (through {@linkcode Storage}) joined with
 * the unstable tail, with the commit, applying and applied indexes.
 *
 * @module
 */

import { entriesSize, limitSize } from "./entries.ts";
import { isRaftError, RaftError } from "./errors.ts";
import { Unstable } from "./log_unstable.ts";
import type { Storage } from "./storage.ts";
import type { Entry, Snapshot } from "./types.ts";

const NO_ENTRIES: Entry[] = [];

/**
 * The log of one node.
 *
 * Invariants: `applied <= applying <= committed <= lastIndex()`; entries in
 * `[firstIndex(), unstable.offset)` are in storage, entries from `unstable.offset` on are
 * unstable; committed entries are never truncated.
 */
export class RaftLog {
  readonly unstable: Unstable;
  /** Highest index known to be committed on a quorum. */
  committed: number;
  /** Highest index handed out for applying (in a Ready not yet advanced). */
  applying: number;
  /** Highest index the caller has applied. */
  applied: number;
  /** Bytes of committed entries being applied; new ones pause above the limit. */
  private applyingEntsSize = 0;
  private applyingEntsPaused = false;

  /**
   * @param storage the persisted log
   * @param maxApplyingEntsSize maximum bytes of committed entries handed out before `advance()`
   */
  constructor(readonly storage: Storage, readonly maxApplyingEntsSize: number) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applying = first - 1;
    this.applied = first - 1;
  }

  /**
   * Appends the leader's entries following `(index, logTerm)` when the log matches there, and
   * advances the commit index to `min(committed, index + ents.length)`.
   * @returns the index of the last new entry, or undefined when the log does not match
   * @throws {RaftError} ErrInvariant when a committed entry would be overwritten
   */
  maybeAppend(
    index: number,
    logTerm: number,
    committed: number,
    ents: readonly Entry[],
    commitBeyondMatch = false,
  ): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        throw new RaftError(
          "ErrInvariant",
          `Cannot append entries as they conflict with a committed entry: conflict at ${ci}, committed is ${this.committed}`,
        );
      }
      this.append(ents.slice(ci - (index + 1)));
    }
    // Only entries up to lastNew are known to match the leader's log; a planted bug may ignore
    // that and commit a stale suffix.
    this.commitTo(Math.min(committed, commitBeyondMatch ? this.lastIndex() : lastNew));
    return lastNew;
  }

  /**
   * Appends `ents` after truncating any conflicting suffix.
   * @returns the new last index
   * @throws {RaftError} ErrInvariant when committed entries would be replaced
   */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0].index - 1;
    if (after < this.committed) {
      throw new RaftError(
        "ErrInvariant",
        `Cannot append entries as they replace committed ones: after is ${after}, committed is ${this.committed}`,
      );
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry of `ents` that is missing or has another term in this log, 0
   * when all match. `ents` must be contiguous.
   */
  findConflict(ents: readonly Entry[]): number {
    for (let i = 0; i < ents.length; i++) {
      if (!this.matchTerm(ents[i].index, ents[i].term)) return ents[i].index;
    }
    return 0;
  }

  /**
   * The largest index at most `index` whose term is at most `term`, with that term: the leader's
   * entries after it cannot match, so probing can jump there (fast conflict back-off). Returns
   * `[index, 0]` when the term is unknown (compacted) at that point.
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (; index > 0; index--) {
      const t = this.termOrUndefined(index);
      if (t === undefined) return [index, 0];
      if (t <= term) return [index, t];
    }
    return [0, 0];
  }

  /** Unstable entries not yet handed out. */
  nextUnstableEnts(): Entry[] {
    return this.unstable.nextEntries();
  }

  /** True when unstable entries wait to be handed out. */
  hasNextUnstableEnts(): boolean {
    return this.unstable.hasNextEntries();
  }

  /** The highest index that may be handed out for applying. */
  private maxAppliableIndex(allowUnstable: boolean): number {
    return allowUnstable ? this.committed : Math.min(this.committed, this.unstable.offset - 1);
  }

  /**
   * Committed entries not yet handed out for applying (bounded by the apply size limit); none
   * while a snapshot is pending.
   */
  nextCommittedEnts(allowUnstable: boolean): Entry[] {
    if (this.applyingEntsPaused || this.hasNextOrInProgressSnapshot()) return NO_ENTRIES;
    const lo = this.applying + 1;
    const hi = this.maxAppliableIndex(allowUnstable) + 1;
    if (lo >= hi) return NO_ENTRIES;
    return this.slice(lo, hi, this.maxApplyingEntsSize - this.applyingEntsSize);
  }

  /** True when committed entries wait to be handed out. */
  hasNextCommittedEnts(allowUnstable: boolean): boolean {
    if (this.applyingEntsPaused || this.hasNextOrInProgressSnapshot()) return false;
    return this.applying + 1 < this.maxAppliableIndex(allowUnstable) + 1;
  }

  /** The unstable snapshot when not yet handed out. */
  nextUnstableSnapshot(): Snapshot | undefined {
    return this.unstable.nextSnapshot();
  }

  /** True when an unstable snapshot exists (handed out or not). */
  hasNextOrInProgressSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  /**
   * The latest snapshot (unstable or from storage).
   * @throws {RaftError} ErrSnapshotTemporarilyUnavailable from storage
   */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Index of the first entry still in the log. */
  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  /** Index of the last entry. */
  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Index of the last entry known to be persisted (in storage, not unstable). */
  lastPersistedIndex(): number {
    return Math.min(this.lastIndex(), this.unstable.offset - 1);
  }

  /**
   * Advances the commit index to `toCommit` (never backwards).
   * @throws {RaftError} ErrInvariant when `toCommit` is past the last index
   */
  commitTo(toCommit: number): void {
    if (this.committed >= toCommit) return;
    if (this.lastIndex() < toCommit) {
      throw new RaftError(
        "ErrInvariant",
        `Cannot commit as the index is past the log (was it truncated or lost?): commit is ${toCommit}, last index is ${this.lastIndex()}`,
      );
    }
    this.committed = toCommit;
  }

  /**
   * Records that entries up to `i` (of `size` bytes) were applied.
   * @throws {RaftError} ErrInvariant when `i` is not committed or goes backwards
   */
  appliedTo(i: number, size: number): void {
    if (this.committed < i || i < this.applied) {
      throw new RaftError(
        "ErrInvariant",
        `Cannot mark applied as the index is out of range: applied would be ${i}, range is [${this.applied}, ${this.committed}]`,
      );
    }
    this.applied = i;
    this.applying = Math.max(this.applying, i);
    this.applyingEntsSize = this.applyingEntsSize > size ? this.applyingEntsSize - size : 0;
    // Nothing outstanding never pauses: with a limit of 0 (one entry per Ready) `0 >= 0` would
    // otherwise stop handing out committed entries for good.
    this.applyingEntsPaused = this.applyingEntsSize > 0 &&
      this.applyingEntsSize >= this.maxApplyingEntsSize;
  }

  /** Records that committed entries up to `i` (of `size` bytes) were handed out. */
  acceptApplying(i: number, size: number, allowUnstable: boolean): void {
    this.applying = i;
    this.applyingEntsSize += size;
    // Pause when the limit is reached or when not everything could be handed out at once, so
    // the next batch waits for advance().
    this.applyingEntsPaused = this.applyingEntsSize >= this.maxApplyingEntsSize ||
      i < this.maxAppliableIndex(allowUnstable);
  }

  /** Marks unstable entries up to `(index, term)` as persisted. */
  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  /** Marks the unstable snapshot at `index` as persisted. */
  stableSnapTo(index: number): void {
    this.unstable.stableSnapTo(index);
  }

  /** Marks everything unstable as handed out in a Ready. */
  acceptUnstable(): void {
    this.unstable.acceptInProgress();
  }

  /** The term of the last entry. */
  lastTerm(): number {
    const t = this.termOrUndefined(this.lastIndex());
    if (t === undefined) {
      throw new RaftError(
        "ErrInvariant",
        `Cannot read last term as it is unavailable: last index is ${this.lastIndex()}`,
      );
    }
    return t;
  }

  /**
   * The term of entry `i`, or undefined when `i` is compacted or past the log.
   * @throws {RaftError} when storage fails in another way
   */
  termOrUndefined(i: number): number | undefined {
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    if (i + 1 < this.firstIndex() || i > this.lastIndex()) return undefined;
    try {
      return this.storage.term(i);
    } catch (err) {
      if (isRaftError(err, "ErrCompacted") || isRaftError(err, "ErrUnavailable")) return undefined;
      throw err;
    }
  }

  /**
   * The entries from `i` on, at most `maxSize` bytes (at least one entry).
   * @throws {RaftError} ErrCompacted when `i` is compacted
   */
  entries(i: number, maxSize: number): Entry[] {
    const last = this.lastIndex();
    if (i > last) return NO_ENTRIES;
    return this.slice(i, last + 1, maxSize);
  }

  /** True when a candidate whose last entry is `(index, term)` is at least as up to date. */
  isUpToDate(index: number, term: number): boolean {
    const lastTerm = this.lastTerm();
    return term > lastTerm || (term === lastTerm && index >= this.lastIndex());
  }

  /** True when entry `i` exists with term `term`. */
  matchTerm(i: number, term: number): boolean {
    const t = this.termOrUndefined(i);
    return t !== undefined && t === term;
  }

  /**
   * Commits up to `index` when a quorum holds it and its term is `term` (a leader commits only
   * entries of its own term by counting).
   * @returns true when the commit index moved
   */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.matchTerm(index, term)) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  /** Replaces the log by a snapshot; everything up to it is committed. */
  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /**
   * Entries `[lo, hi)`, at most `maxSize` bytes (at least one), from storage and/or unstable.
   * @throws {RaftError} ErrCompacted when `lo` is compacted; ErrInvariant when out of bounds
   */
  slice(lo: number, hi: number, maxSize: number): Entry[] {
    this.checkOutOfBounds(lo, hi);
    if (lo === hi) return NO_ENTRIES;
    const offset = this.unstable.offset;
    if (lo >= offset) return limitSize(this.unstable.slice(lo, hi), maxSize);
    const cut = Math.min(hi, offset);
    let ents: Entry[];
    try {
      ents = this.storage.entries(lo, cut, maxSize);
    } catch (err) {
      if (isRaftError(err, "ErrCompacted")) throw err;
      throw new RaftError(
        "ErrInvariant",
        `Cannot read entries as storage failed: range is [${lo}, ${cut})`,
        { cause: err },
      );
    }
    if (hi <= offset || ents.length < cut - lo) return ents;
    const size = entriesSize(ents);
    if (size >= maxSize) return ents;
    const tail = limitSize(this.unstable.slice(offset, hi), maxSize - size);
    if (tail.length === 1 && size + entriesSize(tail) > maxSize) return ents;
    return ents.concat(tail);
  }

  private checkOutOfBounds(lo: number, hi: number): void {
    const fi = this.firstIndex();
    if (lo < fi) {
      throw new RaftError(
        "ErrCompacted",
        `Cannot read entries as they are compacted: lo is ${lo}, first index is ${fi}`,
      );
    }
    const last = this.lastIndex();
    if (lo > hi || hi > last + 1) {
      throw new RaftError(
        "ErrInvariant",
        `Cannot read entries as the range is out of bounds: [${lo}, ${hi}) outside [${fi}, ${
          last + 1
        })`,
      );
    }
  }
}
