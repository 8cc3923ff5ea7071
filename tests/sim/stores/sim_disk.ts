/**
 * A node's disk in the store simulation: the memory engine (which survives the node's crashes)
 * seen through one {@linkcode NodeDisk} per incarnation of the store. A batch write takes a
 * drawn time and is applied atomically when it completes, like an LMDB commit; a crash loses the
 * write in progress, and a dead incarnation never writes again.
 *
 * @module
 */

import type {
  Engine,
  EngineStats,
  Keyspace,
  KeyValue,
  ScanOptions,
  Snapshot,
  ViewVisitor,
  WriteBatch,
  WriteOptions,
} from "../../../src/storage/mod.ts";
import type { MemoryEngine } from "../../../src/storage/memory_engine.ts";
import type { NodeClock } from "./sim_time.ts";

/** One incarnation's handle on a node's engine. */
export class NodeDisk implements Engine {
  /** Batches written (completed). */
  writes = 0;

  /**
   * @param inner the node's engine (kept across crashes)
   * @param clock the incarnation's clock (dead after a crash)
   * @param delayMs draws how long the next write takes (0: at once)
   */
  constructor(
    private readonly inner: MemoryEngine,
    private readonly clock: NodeClock,
    private readonly delayMs: () => number,
  ) {}

  get(keyspace: Keyspace, key: Uint8Array): Uint8Array | undefined {
    return this.inner.get(keyspace, key);
  }

  scan(keyspace: Keyspace, options?: ScanOptions): Iterable<KeyValue> {
    return this.inner.scan(keyspace, options);
  }

  visitViews(keyspace: Keyspace, options: ScanOptions | undefined, visit: ViewVisitor): void {
    this.inner.visitViews(keyspace, options, visit);
  }

  batch(): WriteBatch {
    return this.inner.batch();
  }

  write(batch: WriteBatch, options?: WriteOptions): Promise<void> {
    // A crashed incarnation's last continuations may still run: they write nothing.
    if (!this.clock.alive) return new Promise(() => {});
    const ms = this.delayMs();
    if (ms === 0) {
      this.writes++;
      return this.inner.write(batch, options);
    }
    return new Promise((resolve, reject) => {
      this.clock.after(ms, () => {
        this.writes++;
        this.inner.write(batch, options).then(resolve, reject);
      });
    });
  }

  snapshot(): Snapshot {
    return this.inner.snapshot();
  }

  stats(): EngineStats {
    return this.inner.stats();
  }

  /** The engine outlives the incarnation: closing a handle closes nothing. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
