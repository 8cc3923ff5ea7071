/**
 * {@linkcode TimestampOracle}: hands out strictly increasing timestamps (as versions) on range
 * 1's leader, and never one that a previous leader could have handed out (docs/design/0007).
 *
 * On winning leadership, once the replica has applied an entry of its own term (so every earlier
 * reservation is applied), it reads the persisted high-water mark `H`, proposes `TsoReserve(
 * max(now, H + 1) + 3 s)` and hands out nothing until that applies. It then hands out
 * `max(now, last + 1)` below the reservation and renews the reservation when a second of it
 * remains. An old leader only ever handed out timestamps below its own reservation, which is at
 * most `H`, and the new leader hands out nothing below `H`.
 *
 * @module
 */

import type { Clock } from "../base/clock.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { wallMsOf } from "./version.ts";

/** How far ahead a reservation reaches. */
export const TSO_RESERVE_MS = 3000;
/** A reservation is renewed when this much of it remains. */
export const TSO_RENEW_MS = 1000;

/** What the oracle learns from range 1's replica after each scheduler turn. */
export interface TsoReplicaState {
  isLeader: boolean;
  term: number;
  /** The term of the last applied entry. */
  appliedTerm: number;
  /** The applied (persisted) high-water mark, wall ms. */
  highWaterMs: number;
  /** The commit version of the last applied write. */
  lastVersion: bigint;
}

interface TsoWaiter {
  resolve(v: bigint): void;
  reject(e: Error): void;
  deadline: number;
  /** Consecutive timestamps wanted (resolved with the first). @default 1 */
  count?: number;
}

/**
 * The timestamp oracle of one node; active while the node leads range 1.
 *
 * @example
 * ```ts ignore
 * const tso = new TimestampOracle(clock, (upTo) => replica.proposeTsoReserve(upTo));
 * tso.update(state); // after every turn of range 1
 * const version = tso.next() ?? await tso.timestamp(deadline);
 * ```
 */
export class TimestampOracle {
  readonly #clock: Clock;
  readonly #reserve: (upToMs: number) => Promise<void>;
  /** The term it serves; 0 when not leading. */
  #term = 0;
  /** Hands out only timestamps whose wall ms is below this; 0 when not ready. */
  #limitMs = 0;
  /** The last timestamp handed out (or the floor a new leadership starts above). */
  #last = 0n;
  #proposedUpTo = 0;
  #starting = false;
  #waiters: TsoWaiter[] = [];

  /**
   * @param clock the node's clock
   * @param reserve proposes a TsoReserve and resolves when it applied (rejects when it failed)
   */
  constructor(clock: Clock, reserve: (upToMs: number) => Promise<void>) {
    this.#clock = clock;
    this.#reserve = reserve;
  }

  /** Whether timestamps are handed out now. */
  get ready(): boolean {
    return this.#limitMs !== 0;
  }

  /** Follows the replica's state; call after every turn of range 1. */
  update(s: TsoReplicaState): void {
    if (!s.isLeader) {
      if (this.#term !== 0) {
        this.#term = 0;
        this.#limitMs = 0;
        this.#failWaiters(
          new RangeDbError(
            ErrorCode.NOT_LEADER,
            "Cannot hand out a timestamp as this node no longer leads range 1",
            { details: { leaderNodeId: 0 } },
          ),
        );
      }
      return;
    }
    if (s.term !== this.#term) {
      this.#term = s.term;
      this.#limitMs = 0;
      this.#proposedUpTo = 0;
      this.#starting = false;
    }
    const now = this.#clock.now();
    if (this.#limitMs === 0) {
      if (s.appliedTerm < s.term) return;
      if (!this.#starting) {
        this.#starting = true;
        const floor = BigInt(s.highWaterMs) << 16n;
        if (floor > this.#last) this.#last = floor;
        if (s.lastVersion > this.#last) this.#last = s.lastVersion;
        this.#propose(Math.max(now, s.highWaterMs + 1) + TSO_RESERVE_MS, true);
        return;
      }
      if (s.highWaterMs < this.#proposedUpTo) return;
      this.#limitMs = s.highWaterMs;
    } else {
      if (s.highWaterMs > this.#limitMs) this.#limitMs = s.highWaterMs;
      if (now + TSO_RENEW_MS >= this.#limitMs && this.#proposedUpTo <= this.#limitMs) {
        this.#propose(Math.max(now, this.#limitMs) + TSO_RESERVE_MS, false);
      }
    }
    this.#drain();
  }

  #propose(upTo: number, starting: boolean): void {
    this.#proposedUpTo = upTo;
    const term = this.#term;
    this.#reserve(upTo).catch(() => {
      if (this.#term !== term) return;
      // Proposed again by the next update.
      if (starting) this.#starting = false;
      this.#proposedUpTo = this.#limitMs;
    });
  }

  /**
   * The next timestamp, synchronously; undefined when none may be handed out now (not leading,
   * reservation not applied yet, or used up).
   */
  next(): bigint | undefined {
    if (this.#limitMs === 0) return undefined;
    let v = BigInt(this.#clock.now()) << 16n;
    if (v <= this.#last) v = this.#last + 1n;
    if (wallMsOf(v) >= this.#limitMs) return undefined;
    this.#last = v;
    return v;
  }

  /**
   * A block of `count` consecutive timestamps, synchronously: the first of them; undefined when
   * they may not be handed out now.
   */
  nextBlock(count: number): bigint | undefined {
    if (this.#limitMs === 0 || count < 1) return undefined;
    let v = BigInt(this.#clock.now()) << 16n;
    if (v <= this.#last) v = this.#last + 1n;
    const last = v + BigInt(count - 1);
    if (wallMsOf(last) >= this.#limitMs) return undefined;
    this.#last = last;
    return v;
  }

  /**
   * A block of `count` consecutive timestamps, waiting for the oracle to become ready.
   *
   * @returns the first of the block
   * @throws {RangeDbError} NOT_LEADER when leadership is lost, UNAVAILABLE at the deadline
   */
  block(count: number, deadline: number): Promise<bigint> {
    const v = this.nextBlock(count);
    if (v !== undefined) return Promise.resolve(v);
    return new Promise((resolve, reject) =>
      this.#waiters.push({ resolve, reject, deadline, count })
    );
  }

  /**
   * The next timestamp, waiting for the oracle to become ready.
   *
   * @param deadline absolute ms (clock.now() scale)
   * @returns the timestamp as a version
   * @throws {RangeDbError} NOT_LEADER when leadership is lost, TIMEOUT at the deadline
   */
  timestamp(deadline: number): Promise<bigint> {
    const v = this.next();
    if (v !== undefined) return Promise.resolve(v);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject, deadline }));
  }

  /** Fails the waiters whose deadline passed. */
  expire(now: number): void {
    if (this.#waiters.length === 0) return;
    const keep: TsoWaiter[] = [];
    for (const w of this.#waiters) {
      if (w.deadline > now) {
        keep.push(w);
        continue;
      }
      w.reject(
        new RangeDbError(
          ErrorCode.UNAVAILABLE,
          "Cannot hand out a timestamp as the timestamp oracle did not become ready before the deadline",
        ),
      );
    }
    this.#waiters = keep;
  }

  /** Fails every waiter (the store stops). */
  close(err: Error): void {
    this.#term = 0;
    this.#limitMs = 0;
    this.#failWaiters(err);
  }

  #drain(): void {
    while (this.#waiters.length > 0) {
      const count = this.#waiters[0].count ?? 1;
      const v = count === 1 ? this.next() : this.nextBlock(count);
      if (v === undefined) return;
      this.#waiters.shift()!.resolve(v);
    }
  }

  #failWaiters(err: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(err);
  }
}
