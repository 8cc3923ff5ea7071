/**
 * The simulated network: every message gets a delivery time drawn from the run's parameters,
 * so messages are delayed and reordered; some are dropped or duplicated; directed links can be
 * cut to build partitions of any shape. Time is in simulated milliseconds.
 *
 * @module
 */

import type { Message, NodeId } from "../../src/raft/mod.ts";
import type { Rng } from "./rng.ts";

/** Per-message fault rates and latencies. */
export interface NetworkParams {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice. */
  dupRate: number;
  /** Latency range of a normal message, in ms. */
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability of a long delay (a message stuck in a queue), up to `longDelayMs`. */
  longDelayRate: number;
  longDelayMs: number;
}

/** The parameters of a healthy network (the liveness phase). */
export const CALM_NETWORK: NetworkParams = {
  dropRate: 0,
  dupRate: 0,
  minDelayMs: 1,
  maxDelayMs: 3,
  longDelayRate: 0,
  longDelayMs: 0,
};

interface InFlight {
  at: number;
  /** Random tie-break: messages due at the same time arrive in random order. */
  order: number;
  msg: Message;
}

/** Counters of what the network did. */
export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
}

/** Messages in flight between simulated nodes. */
export class Network {
  params: NetworkParams;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };
  private readonly heap: InFlight[] = [];
  /** Directed links that are cut, as `from * 1024 + to`. */
  private readonly cut = new Set<number>();

  constructor(private readonly rng: Rng, params: NetworkParams) {
    this.params = params;
  }

  /** True when messages from `from` to `to` currently get through. */
  connected(from: NodeId, to: NodeId): boolean {
    return !this.cut.has(from * 1024 + to);
  }

  /** Cuts or restores the directed link `from → to`. */
  setLink(from: NodeId, to: NodeId, up: boolean): void {
    if (up) this.cut.delete(from * 1024 + to);
    else this.cut.add(from * 1024 + to);
  }

  /** Restores every link. */
  heal(): void {
    this.cut.clear();
  }

  /**
   * Sends a message at time `now`.
   * @returns false when the message was lost at once (cut link or drop)
   */
  send(msg: Message, now: number): boolean {
    this.stats.sent++;
    if (!this.connected(msg.from, msg.to) || this.rng.chance(this.params.dropRate)) {
      this.stats.dropped++;
      return false;
    }
    this.push({ at: now + this.delay(), order: this.rng.next(), msg });
    if (this.rng.chance(this.params.dupRate)) {
      this.stats.duplicated++;
      this.push({ at: now + this.delay(), order: this.rng.next(), msg: cloneMessage(msg) });
    }
    return true;
  }

  /**
   * Takes the messages due at `now`. Messages whose link was cut while they were in flight are
   * handed to `onLost` instead.
   */
  deliverDue(now: number, onLost: (m: Message) => void): Message[] {
    const out: Message[] = [];
    while (this.heap.length > 0 && this.heap[0].at <= now) {
      const { msg } = this.pop();
      if (this.connected(msg.from, msg.to)) {
        this.stats.delivered++;
        out.push(msg);
      } else {
        this.stats.dropped++;
        onLost(msg);
      }
    }
    return out;
  }

  private delay(): number {
    const p = this.params;
    if (this.rng.chance(p.longDelayRate)) return this.rng.range(p.maxDelayMs, p.longDelayMs);
    return this.rng.range(p.minDelayMs, p.maxDelayMs);
  }

  private less(a: InFlight, b: InFlight): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }

  private push(x: InFlight): void {
    const h = this.heap;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): InFlight {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

/** A copy of a message that shares no mutable arrays with the original (entry data is shared). */
function cloneMessage(m: Message): Message {
  return { ...m, entries: m.entries.map((e) => ({ ...e })) };
}
