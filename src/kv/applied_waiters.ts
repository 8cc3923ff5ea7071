/**
 * {@linkcode AppliedWaiters}: callers of one replica waiting until its durable applied index
 * reaches an index (`KvStore.waitApplied`, used by a merge coordinator to learn that every
 * replica of a range applied its freeze).
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { Clock } from "../base/clock.ts";

interface AppliedWaiter {
  index: number;
  resolve(applied: number): void;
  reject(err: Error): void;
  cancelTimer(): void;
}

/** The callers waiting for a replica's applied index. */
export class AppliedWaiters {
  #waiters: AppliedWaiter[] = [];

  /**
   * Waits until `resolveApplied` reports an applied index of at least `index`.
   *
   * @param index the index to wait for
   * @param deadline absolute ms (the clock's `now()` scale)
   * @param clock for the deadline's timer
   * @param rangeId for the timeout's message
   * @returns the applied index reached
   * @throws {RangeDbError} TIMEOUT at the deadline
   */
  wait(index: number, deadline: number, clock: Clock, rangeId: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const w: AppliedWaiter = { index, resolve, reject, cancelTimer: () => {} };
      this.#waiters.push(w);
      w.cancelTimer = clock.after(Math.max(0, deadline - clock.now()), () => {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        reject(
          new RangeDbError(
            ErrorCode.TIMEOUT,
            `Cannot confirm the applied index as the deadline passed: range is ${rangeId}, index is ${index}`,
          ),
        );
      });
    });
  }

  /** Resolves the callers whose index is applied. */
  resolveApplied(applied: number): void {
    if (this.#waiters.length === 0) return;
    const keep: AppliedWaiter[] = [];
    for (const w of this.#waiters) {
      if (w.index > applied) {
        keep.push(w);
        continue;
      }
      w.cancelTimer();
      w.resolve(applied);
    }
    this.#waiters = keep;
  }

  /** Moves every waiter to `other` (a replica object replaced by a new one). */
  moveTo(other: AppliedWaiters): void {
    for (const w of this.#waiters) other.#waiters.push(w);
    this.#waiters = [];
  }

  /** Fails every caller. */
  close(err: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      w.cancelTimer();
      w.reject(err);
    }
  }
}
