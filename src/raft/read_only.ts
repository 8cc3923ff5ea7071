/**
 * {@linkcode ReadOnly}: the leader's queue of ReadIndex requests awaiting a quorum of heartbeat
 * acknowledgements (ReadOnlyOption.Safe).
 *
 * @module
 */

import type { Message, NodeId, ReadOnlyOption } from "./types.ts";

/** A pending read: the request, the commit index when it arrived, and who acknowledged it. */
export interface ReadIndexStatus {
  req: Message;
  index: number;
  acks: Map<NodeId, boolean>;
}

/** The request context as a map key (bytes mapped one-to-one onto UTF-16 code units). */
function contextKey(ctx: Uint8Array): string {
  let s = "";
  for (let i = 0; i < ctx.length; i++) s += String.fromCharCode(ctx[i]);
  return s;
}

/**
 * Pending ReadIndex requests in arrival order. A heartbeat round carries the context of the
 * latest request; a quorum of acks for it confirms every earlier request too.
 */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  /** @param option how reads are served */
  constructor(readonly option: ReadOnlyOption) {}

  /** Queues a request that arrived when the commit index was `index` (duplicates ignored). */
  addRequest(index: number, m: Message): void {
    const key = contextKey(m.context);
    if (this.pending.has(key)) return;
    this.pending.set(key, { req: m, index, acks: new Map() });
    this.queue.push(key);
  }

  /**
   * Records that `id` acknowledged the heartbeat carrying `ctx`.
   * @returns the acks of that request so far, undefined when it is not pending
   */
  recvAck(id: NodeId, ctx: Uint8Array): Map<NodeId, boolean> | undefined {
    const rs = this.pending.get(contextKey(ctx));
    if (rs === undefined) return undefined;
    rs.acks.set(id, true);
    return rs.acks;
  }

  /**
   * Dequeues the request with context `ctx` and every request queued before it (all confirmed
   * by the same quorum).
   * @returns the dequeued requests, oldest first; empty when `ctx` is not pending
   */
  advance(ctx: Uint8Array): ReadIndexStatus[] {
    const key = contextKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of done) {
      out.push(this.pending.get(k)!);
      this.pending.delete(k);
    }
    return out;
  }

  /** How many requests are pending. */
  get size(): number {
    return this.queue.length;
  }

  /** The context of the latest pending request, undefined when none. */
  lastPendingRequestCtx(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1])!.req.context;
  }
}
