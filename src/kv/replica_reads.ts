/**
 * {@linkcode ReplicaReads}: linearizable reads of one replica through Raft's ReadIndex. All reads
 * that arrive between two scheduler turns share one ReadIndex request; each waits until the
 * replica has applied the index Raft answered, then the caller reads locally. A request that gets
 * no answer (a follower without a leader drops it, a leader may lose its role) is issued again
 * after two ticks, until the read's deadline; the earlier request stays valid, and the first
 * answer to any of a read's requests releases it (a leader whose turns take longer than two
 * ticks, a slow disk, answers every request late: abandoning them would starve every read).
 *
 * A request's context is `(node id, nonce, counter)`, the nonce random per replica object: a leader
 * tracks pending requests by context, and Raft answers a follower's request by its context alone,
 * so a context must never be reused by another node, or by this node after a restart or with a
 * recreated replica (a late answer to an old request would release a read at a stale index).
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { cryptoRandomBytes, type RandomBytes } from "../base/ids.ts";
import type { RawNode, ReadState } from "../raft/mod.ts";

interface PendingRead {
  resolve(): void;
  reject(err: Error): void;
  deadline: number;
  index: number;
  /** Set by the first answer to any of its requests. */
  answered: boolean;
}

interface ReadGroup {
  reads: PendingRead[];
  ticks: number;
  /** Its reads were queued for another request already; the group only waits for an answer. */
  retried: boolean;
}

/** Ticks without an answer before a ReadIndex request is issued again. */
const RETRY_TICKS = 2;
/** Bytes of a ReadIndex context: node id, nonce, counter (8 each, big-endian). */
const CTX_BYTES = 24;

/** The batched ReadIndex reads of one replica. */
export class ReplicaReads {
  readonly #replica: { raw: RawNode; rangeId: number };
  readonly #nodeId: bigint;
  /** Tells this object's requests from those of an earlier run or replica object. */
  readonly #nonce: bigint;
  readonly #wake: () => void;
  #queued: PendingRead[] = [];
  readonly #groups = new Map<number, ReadGroup>();
  #awaiting: PendingRead[] = [];
  #ctx = 0;
  /** Set once closed: later reads fail with it at once. */
  #closed: Error | undefined;

  /**
   * @param replica the replica's RawNode and range id
   * @param nodeId this node's id (part of every request's context)
   * @param wake asks the scheduler for a turn
   * @param random the source of the nonce
   */
  constructor(
    replica: { raw: RawNode; rangeId: number },
    nodeId: number,
    wake: () => void,
    random: RandomBytes = cryptoRandomBytes,
  ) {
    const b = random(new Uint8Array(8));
    this.#nonce = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
    this.#replica = replica;
    this.#nodeId = BigInt(nodeId);
    this.#wake = wake;
  }

  /**
   * Waits until a read may be served locally with linearizable results.
   *
   * @param deadline absolute ms
   * @throws {RangeDbError} UNAVAILABLE without a leader at the deadline, TIMEOUT otherwise
   */
  wait(deadline: number): Promise<void> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      this.#queued.push({ resolve, reject, deadline, index: 0, answered: false });
      this.#wake();
    });
  }

  /** Whether reads wait for a ReadIndex request. */
  hasQueued(): boolean {
    return this.#queued.length > 0;
  }

  /** Whether no read is queued, waiting for Raft's answer or for its index to apply. */
  isIdle(): boolean {
    return this.#queued.length === 0 && this.#groups.size === 0 && this.#awaiting.length === 0;
  }

  /** Issues one ReadIndex request for every queued read (in a turn). */
  issue(): void {
    if (this.#queued.some((r) => r.answered)) {
      this.#queued = this.#queued.filter((r) => !r.answered);
    }
    if (this.#queued.length === 0) return;
    const ctx = ++this.#ctx;
    const bytes = new Uint8Array(CTX_BYTES);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(0, this.#nodeId);
    view.setBigUint64(8, this.#nonce);
    view.setBigUint64(16, BigInt(ctx));
    this.#groups.set(ctx, { reads: this.#queued, ticks: 0, retried: false });
    this.#queued = [];
    this.#replica.raw.readIndex(bytes);
  }

  /** Records Raft's answers: the reads of each wait for its index to apply. */
  onReadStates(states: readonly ReadState[]): void {
    for (const rs of states) {
      const ctx = this.#counterOf(rs.requestCtx);
      if (ctx === undefined) continue;
      const group = this.#groups.get(ctx);
      if (group === undefined) continue;
      this.#groups.delete(ctx);
      for (const r of group.reads) {
        if (r.answered) continue;
        r.answered = true;
        r.index = rs.index;
        this.#awaiting.push(r);
      }
    }
  }

  /** The counter of a context this replica issued in this process; undefined for any other. */
  #counterOf(bytes: Uint8Array): number | undefined {
    if (bytes.length !== CTX_BYTES) return undefined;
    const view = new DataView(bytes.buffer, bytes.byteOffset, CTX_BYTES);
    if (view.getBigUint64(0) !== this.#nodeId || view.getBigUint64(8) !== this.#nonce) {
      return undefined;
    }
    return Number(view.getBigUint64(16));
  }

  /** Releases the reads whose index is applied. */
  resolveApplied(applied: number): void {
    if (this.#awaiting.length === 0) return;
    const keep: PendingRead[] = [];
    for (const r of this.#awaiting) {
      if (r.index <= applied) r.resolve();
      else keep.push(r);
    }
    this.#awaiting = keep;
  }

  /** On every tick: fails reads past their deadline and re-queues unanswered requests. */
  expire(now: number, lead: number): void {
    const error = () =>
      new RangeDbError(
        lead === 0 ? ErrorCode.UNAVAILABLE : ErrorCode.TIMEOUT,
        `Cannot read as the deadline passed before a linearizable read point was confirmed: range is ${this.#replica.rangeId}, leader is ${lead}`,
        { details: { leaderNodeId: lead } },
      );
    const live = (r: PendingRead) => {
      if (r.deadline > now) return true;
      r.reject(error());
      return false;
    };
    for (const [ctx, group] of this.#groups) {
      group.reads = group.reads.filter((r) => !r.answered && live(r));
      if (group.reads.length === 0) {
        this.#groups.delete(ctx);
      } else if (!group.retried && ++group.ticks >= RETRY_TICKS) {
        group.retried = true;
        for (const r of group.reads) this.#queued.push(r);
      }
    }
    this.#queued = this.#queued.filter((r) => !r.answered && live(r));
    this.#awaiting = this.#awaiting.filter(live);
    if (this.#queued.length > 0) this.#wake();
  }

  /** Fails every read. */
  close(err: Error): void {
    this.#closed = err;
    for (const g of this.#groups.values()) for (const r of g.reads) r.reject(err);
    for (const r of this.#queued) r.reject(err);
    for (const r of this.#awaiting) r.reject(err);
    this.#groups.clear();
    this.#queued = [];
    this.#awaiting = [];
  }
}
