/**
 * {@linkcode RateCounter}: events per second over the last 10 s, in one-second buckets (a
 * replica's applied writes, for `ranges()` and the load-based split queue).
 *
 * @module
 */

/** Seconds the rate is averaged over. */
export const RATE_WINDOW_SECONDS = 10;

/** Counts events in one-second buckets of the last {@linkcode RATE_WINDOW_SECONDS}. */
export class RateCounter {
  readonly #counts = new Array<number>(RATE_WINDOW_SECONDS).fill(0);
  readonly #seconds = new Array<number>(RATE_WINDOW_SECONDS).fill(-1);
  /** The latest second that had events; -1 before the first. */
  #latest = -1;

  /** Adds `n` events at `nowMs`. */
  add(nowMs: number, n: number): void {
    if (n === 0) return;
    const second = Math.floor(nowMs / 1000);
    const slot = second % RATE_WINDOW_SECONDS;
    if (second > this.#latest) this.#latest = second;
    if (this.#seconds[slot] !== second) {
      this.#seconds[slot] = second;
      this.#counts[slot] = 0;
    }
    this.#counts[slot] += n;
  }

  /** Events per second over the window ending at `nowMs` (the current second included). */
  perSecond(nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    // An idle counter (most ranges of a large node) answers without looking at its buckets.
    if (second - this.#latest >= RATE_WINDOW_SECONDS) return 0;
    let sum = 0;
    for (let i = 0; i < RATE_WINDOW_SECONDS; i++) {
      const s = this.#seconds[i];
      if (s > second - RATE_WINDOW_SECONDS && s <= second) sum += this.#counts[i];
    }
    return sum / RATE_WINDOW_SECONDS;
  }
}
