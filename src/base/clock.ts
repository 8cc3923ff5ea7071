/**
 * Time as an injected dependency. Code that reads the time or waits goes through a
 * {@linkcode Clock}, so that tests and the deterministic simulation can replace real time with a
 * {@linkcode ManualClock} that moves only when told to.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "./errors.ts";

/** Cancels a scheduled callback. Calling it after the callback ran, or twice, does nothing. */
export type Cancel = () => void;

/** A source of time and a scheduler of callbacks. */
export interface Clock {
  /** Wall-clock time in milliseconds since the Unix epoch; may jump (NTP, manual changes). */
  now(): number;
  /**
   * Monotonic time in milliseconds from an arbitrary origin; never decreases. Use it for
   * durations, timeouts and leases, never for timestamps that leave the process.
   */
  monotonic(): number;
  /**
   * Runs `fn` once, `ms` milliseconds from now (0 when negative).
   *
   * @param ms delay in milliseconds
   * @param fn the callback
   * @returns a function that cancels the callback if it has not run yet
   */
  after(ms: number, fn: () => void): Cancel;
}

/**
 * The real clock: `Date.now()`, `performance.now()` and `setTimeout`.
 *
 * @example
 * ```ts
 * import { SystemClock } from "./clock.ts";
 * const clock = new SystemClock();
 * const cancel = clock.after(1000, () => console.log("late"));
 * cancel();
 * ```
 */
export class SystemClock implements Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number {
    return Date.now();
  }

  /** Milliseconds since process start, monotonic. */
  monotonic(): number {
    return performance.now();
  }

  /** Schedules `fn` with `setTimeout`. */
  after(ms: number, fn: () => void): Cancel {
    const handle = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(handle);
  }
}

interface Timer {
  due: number;
  /** Scheduling order: timers due at the same time fire in the order they were scheduled. */
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** Tells whether timer `a` fires before timer `b`. */
function before(a: Timer, b: Timer): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/**
 * A binary min-heap of timers ordered by {@linkcode before}, so that a simulation with many
 * timers pays O(log n) per timer. Cancelled timers stay in the heap until they reach the top.
 */
class TimerHeap {
  #items: Timer[] = [];

  push(t: Timer): void {
    const items = this.#items;
    items.push(t);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  /** The earliest timer that is not cancelled, discarding cancelled ones on top. */
  peek(): Timer | undefined {
    while (this.#items.length > 0 && this.#items[0].cancelled) this.pop();
    return this.#items[0];
  }

  pop(): Timer | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let min = i;
        if (l < items.length && before(items[l], items[min])) min = l;
        if (r < items.length && before(items[r], items[min])) min = r;
        if (min === i) break;
        [items[i], items[min]] = [items[min], items[i]];
        i = min;
      }
    }
    return top;
  }
}

/** Options of {@linkcode ManualClock}. */
export interface ManualClockOptions {
  /**
   * Initial wall-clock time in milliseconds since the epoch.
   * @default 0
   */
  now?: number;
}

/**
 * A clock that moves only through {@linkcode ManualClock.advance}. Deterministic: timers fire in
 * order of due time, ties in order of scheduling, and a timer scheduled by a callback during an
 * advance fires within the same advance when it falls due before its end.
 *
 * @example
 * ```ts
 * import { ManualClock } from "./clock.ts";
 * const clock = new ManualClock();
 * let fired = false;
 * clock.after(100, () => fired = true);
 * clock.advance(99); // fired === false
 * clock.advance(1); // fired === true
 * ```
 */
export class ManualClock implements Clock {
  #offset: number;
  #elapsed = 0;
  #seq = 0;
  #timers = new TimerHeap();
  /** Timers scheduled and neither fired nor cancelled. */
  #pending = 0;

  /** @param options the initial wall-clock time */
  constructor(options: ManualClockOptions = {}) {
    this.#offset = options.now ?? 0;
  }

  /** Wall-clock time: the initial time plus everything advanced since. */
  now(): number {
    return this.#offset + this.#elapsed;
  }

  /** Milliseconds advanced since construction. */
  monotonic(): number {
    return this.#elapsed;
  }

  /** Schedules `fn` at `monotonic() + max(0, ms)`. */
  after(ms: number, fn: () => void): Cancel {
    const timer: Timer = {
      due: this.#elapsed + Math.max(0, ms),
      seq: this.#seq++,
      fn,
      cancelled: false,
    };
    this.#timers.push(timer);
    this.#pending++;
    return () => {
      if (timer.cancelled) return;
      timer.cancelled = true;
      this.#pending--;
    };
  }

  /** The number of scheduled timers that have not fired or been cancelled. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * When the earliest pending timer falls due, on the {@linkcode ManualClock.monotonic} scale;
   * undefined when none is pending. A simulation advances straight to it instead of stepping
   * through idle milliseconds.
   *
   * @returns the due time of the next timer to fire
   */
  nextDue(): number | undefined {
    return this.#timers.peek()?.due;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, each with the clock set to its
   * due time.
   *
   * @param ms milliseconds to advance, at least 0
   * @throws {RangeDbError} INVALID_ARGUMENT when `ms` is negative or not finite
   */
  advance(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) {
      throw new RangeDbError(
        ErrorCode.INVALID_ARGUMENT,
        `Cannot advance the clock as the step is not a finite non-negative number: got ${ms}`,
      );
    }
    const end = this.#elapsed + ms;
    for (;;) {
      const next = this.#timers.peek();
      if (next === undefined || next.due > end) break;
      this.#timers.pop();
      // Marked like a cancel so that calling its Cancel from inside the callback is a no-op.
      next.cancelled = true;
      this.#pending--;
      this.#elapsed = next.due;
      next.fn();
    }
    this.#elapsed = end;
  }

  /**
   * Moves the wall clock (not the monotonic clock) by `ms`, which may be negative, to simulate
   * clock jumps and skew. Timers are unaffected.
   *
   * @param ms milliseconds to add to the wall clock
   */
  jump(ms: number): void {
    this.#offset += ms;
  }
}
