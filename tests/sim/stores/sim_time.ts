/**
 * Simulated time for the store simulation: one {@linkcode ManualClock} drives every node, each
 * node sees it through a {@linkcode NodeClock} (its own wall-clock skew; dead once the node
 * crashes, so a crashed store's timers never fire), and {@linkcode Macrotasks} lets every
 * pending promise continuation run between two clock steps.
 *
 * Determinism: timers fire in due order (ties in scheduling order), each step's continuations
 * run to completion before the next step, and nothing in the stores waits on real time or I/O;
 * so the same seed gives the same interleaving.
 *
 * @module
 */

import type { Cancel, Clock, ManualClock } from "../../../src/base/clock.ts";

const NOOP: Cancel = () => {};

/** A node's view of the simulation clock, killed when the node crashes. */
export class NodeClock implements Clock {
  #alive = true;
  readonly #onKill = new Set<() => void>();

  /**
   * @param base the simulation clock
   * @param skewMs this node's wall-clock offset
   * @param onError receives what a timer callback throws (a bug: the run fails)
   */
  constructor(
    readonly base: ManualClock,
    readonly skewMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Whether the node still runs. */
  get alive(): boolean {
    return this.#alive;
  }

  /** Stops every timer of this node for good (a crash), then tells the listeners. */
  kill(): void {
    if (!this.#alive) return;
    this.#alive = false;
    const listeners = [...this.#onKill];
    this.#onKill.clear();
    for (const fn of listeners) fn();
  }

  /**
   * Calls `fn` when the node crashes (at once when it already did).
   *
   * @returns removes the listener
   */
  onKill(fn: () => void): () => void {
    if (!this.#alive) {
      fn();
      return NOOP;
    }
    this.#onKill.add(fn);
    return () => this.#onKill.delete(fn);
  }

  now(): number {
    return this.base.now() + this.skewMs;
  }

  monotonic(): number {
    return this.base.monotonic();
  }

  after(ms: number, fn: () => void): Cancel {
    if (!this.#alive) return NOOP;
    return this.base.after(ms, () => {
      if (!this.#alive) return;
      try {
        fn();
      } catch (err) {
        this.onError(err);
      }
    });
  }
}

/**
 * Yields to the event loop through a MessageChannel, which runs every queued microtask first
 * (a `setTimeout(0)` would do the same but is clamped to milliseconds of real time).
 */
export class Macrotasks {
  readonly #channel = new MessageChannel();
  #waiting: (() => void)[] = [];

  constructor() {
    this.#channel.port1.onmessage = () => {
      const w = this.#waiting;
      this.#waiting = [];
      for (const resolve of w) resolve();
    };
  }

  /** Resolves once every microtask queued before (and by those) has run. */
  yield(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#channel.port2.postMessage(0);
    });
  }

  /** Releases the channel (the run is over). */
  close(): void {
    this.#channel.port1.close();
    this.#channel.port2.close();
  }
}
