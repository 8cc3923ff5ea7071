/**
 * {@linkcode Unstable}: the tail of the log (and possibly a snapshot) not yet persisted by the
 * caller.
 *
 * @module
 */

import { RaftError } from "./errors.ts";
import type { Entry, Snapshot } from "./types.ts";

const NO_ENTRIES: Entry[] = [];

/**
 * Entries and a snapshot that the node accepted but the caller has not yet persisted.
 *
 * Invariants: `entries[i]` has log index `offset + i`; when `snapshot` is set, `offset` is
 * `snapshot.metadata.index + 1`. Entries before `offsetInProgress` (and the snapshot when
 * `snapshotInProgress`) were handed out in a Ready and are being persisted.
 */
export class Unstable {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];
  offset: number;
  snapshotInProgress = false;
  offsetInProgress: number;

  /** @param offset the index of the first entry that will be unstable (storage's last + 1) */
  constructor(offset: number) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  /** The index of the first entry, when a snapshot is unstable. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.metadata.index + 1;
  }

  /** The index of the last unstable entry, or of the unstable snapshot. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot === undefined ? undefined : this.snapshot.metadata.index;
  }

  /** The term of entry `i` when the unstable part knows it. */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.metadata.index === i) {
        return this.snapshot.metadata.term;
      }
      return undefined;
    }
    const k = i - this.offset;
    return k < this.entries.length ? this.entries[k].term : undefined;
  }

  /** Entries not yet handed out for persisting. */
  nextEntries(): Entry[] {
    const inProgress = this.offsetInProgress - this.offset;
    if (this.entries.length === inProgress) return NO_ENTRIES;
    return this.entries.slice(inProgress);
  }

  /** True when some entries were not yet handed out. */
  hasNextEntries(): boolean {
    return this.entries.length > this.offsetInProgress - this.offset;
  }

  /** The snapshot, when not yet handed out for persisting. */
  nextSnapshot(): Snapshot | undefined {
    return this.snapshotInProgress ? undefined : this.snapshot;
  }

  /** Marks everything unstable as handed out (in a Ready). */
  acceptInProgress(): void {
    if (this.entries.length > 0) this.offsetInProgress = this.offset + this.entries.length;
    if (this.snapshot !== undefined) this.snapshotInProgress = true;
  }

  /**
   * Forgets entries up to `index` once persisted, provided entry `index` still has `term` (an
   * entry rewritten in the meantime is not the one that was persisted).
   */
  stableTo(index: number, term: number): void {
    const t = this.maybeTerm(index);
    if (t === undefined || index < this.offset || t !== term) return;
    const num = index + 1 - this.offset;
    this.entries = num === this.entries.length ? [] : this.entries.slice(num);
    this.offset = index + 1;
    this.offsetInProgress = Math.max(this.offsetInProgress, this.offset);
  }

  /** Forgets the snapshot at `index` once persisted. */
  stableSnapTo(index: number): void {
    if (this.snapshot !== undefined && this.snapshot.metadata.index === index) {
      this.snapshot = undefined;
      this.snapshotInProgress = false;
    }
  }

  /** Replaces everything by a snapshot received from the leader. */
  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.offsetInProgress = this.offset;
    this.entries = [];
    this.snapshot = s;
    this.snapshotInProgress = false;
  }

  /**
   * Appends `ents` (contiguous, non-empty), replacing any unstable entries from
   * `ents[0].index` on. `ents` is copied, never kept.
   */
  truncateAndAppend(ents: readonly Entry[]): void {
    const from = ents[0].index;
    if (from === this.offset + this.entries.length) {
      for (let i = 0; i < ents.length; i++) this.entries.push(ents[i]);
    } else if (from <= this.offset) {
      // Everything unstable is replaced, and the new entries start before the stable tail ends.
      this.entries = ents.slice();
      this.offset = from;
      this.offsetInProgress = from;
    } else {
      this.entries.length = from - this.offset;
      for (let i = 0; i < ents.length; i++) this.entries.push(ents[i]);
      this.offsetInProgress = Math.min(this.offsetInProgress, from);
    }
  }

  /**
   * Entries `[lo, hi)`, which must lie within the unstable entries.
   * @throws {RaftError} ErrInvariant when out of bounds
   */
  slice(lo: number, hi: number): Entry[] {
    const upper = this.offset + this.entries.length;
    if (lo > hi || lo < this.offset || hi > upper) {
      throw new RaftError(
        "ErrInvariant",
        `Cannot slice unstable entries as the range is out of bounds: [${lo}, ${hi}) outside [${this.offset}, ${upper})`,
      );
    }
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
