/**
 * {@linkcode Inflights}: the window of append messages sent to one follower and not yet
 * acknowledged, bounded by a count and optionally by bytes (flow control in replicate state).
 *
 * @module
 */

import { RaftError } from "../errors.ts";

/**
 * A ring buffer of in-flight appends, each identified by the last entry index it carried.
 *
 * Invariant: the indexes of the `count` entries from `start` are strictly increasing, and `bytes`
 * is the sum of their sizes. Storage is two parallel number arrays so that adding an append
 * allocates nothing once the buffer has grown to its size.
 */
export class Inflights {
  private start = 0;
  private n = 0;
  private totalBytes = 0;
  private readonly indexes: number[] = [];
  private readonly sizes: number[] = [];

  /**
   * @param size maximum number of appends in flight
   * @param maxBytes maximum bytes in flight, 0 for no byte limit
   */
  constructor(readonly size: number, readonly maxBytes: number) {}

  /** The number of appends in flight. */
  get count(): number {
    return this.n;
  }

  /** The bytes of entry data in flight. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** A copy with the same window (used when a configuration change copies progress). */
  clone(): Inflights {
    const c = new Inflights(this.size, this.maxBytes);
    for (let i = 0; i < this.n; i++) {
      const j = (this.start + i) % this.size;
      c.add(this.indexes[j], this.sizes[j]);
    }
    return c;
  }

  /**
   * Records an append whose last entry is `index`, carrying `bytes` of data.
   * @throws {RaftError} ErrInvariant when the window is full
   */
  add(index: number, bytes: number): void {
    if (this.n === this.size) {
      throw new RaftError(
        "ErrInvariant",
        `Cannot add inflight as the window is full: size is ${this.size}`,
      );
    }
    let next = this.start + this.n;
    if (next >= this.size) next -= this.size;
    this.indexes[next] = index;
    this.sizes[next] = bytes;
    this.n++;
    this.totalBytes += bytes;
  }

  /** Frees every append whose index is at most `to` (they were acknowledged). */
  freeLE(to: number): void {
    if (this.n === 0 || to < this.indexes[this.start]) return;
    let idx = this.start;
    let i = 0;
    for (; i < this.n; i++) {
      if (to < this.indexes[idx]) break;
      this.totalBytes -= this.sizes[idx];
      idx++;
      if (idx >= this.size) idx -= this.size;
    }
    this.n -= i;
    this.start = this.n === 0 ? 0 : idx;
  }

  /** Frees the oldest append (lets a stalled window probe again after lost messages). */
  freeFirstOne(): void {
    if (this.n === 0) return;
    this.freeLE(this.indexes[this.start]);
  }

  /** True when no further append may be sent: the count or the byte limit is reached. */
  full(): boolean {
    return this.n === this.size || (this.maxBytes !== 0 && this.totalBytes >= this.maxBytes);
  }

  /** Frees everything. */
  reset(): void {
    this.start = 0;
    this.n = 0;
    this.totalBytes = 0;
  }
}
