/**
 * The run's trace hash: a 64-bit FNV-1a style digest (two 32-bit lanes) of every observable
 * event (message deliveries, commits, client results). Two runs of the same seed and options must
 * end with the same hash; a difference means some nondeterminism leaked in.
 *
 * @module
 */

/** An incremental digest of the events of one run. */
export class TraceHash {
  private lo = 0x811c9dc5;
  private hi = 0x01000193;

  /** Folds one event, given as a few numbers, into the hash. */
  add(...xs: number[]): void {
    for (const x of xs) {
      const v = x | 0;
      const w = Math.floor(x / 0x100000000) | 0;
      this.lo = Math.imul(this.lo ^ v, 0x01000193);
      this.hi = Math.imul(this.hi ^ w ^ (this.lo >>> 7), 0x01000193);
    }
  }

  /** The digest as 16 hex digits. */
  hex(): string {
    return (this.hi >>> 0).toString(16).padStart(8, "0") +
      (this.lo >>> 0).toString(16).padStart(8, "0");
  }
}
