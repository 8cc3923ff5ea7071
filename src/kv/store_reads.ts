/**
 * {@linkcode StoreReads}: the store's client reads, served only by the replica that holds the
 * key (docs/design/0009, "Requests reach the right range, and only it").
 *
 * A read finds the key's replica in the routing index, waits for a linearizable read point on
 * it (batched ReadIndex; skipped when `serializable`), then re-checks that the replica still
 * exists, is not frozen for a merge and still holds the key: a split, merge or freeze that
 * applied meanwhile turns the read into a retry from routing, until the deadline (then
 * RANGE_MOVED). A frozen replica serves nothing.
 *
 * A scan walks the ranges of `[start, end)` (leftward when reverse): each part is read at its own
 * read point, from one engine snapshot taken right after its re-check. A scan across ranges is
 * therefore not one snapshot. When no local replica holds the next part, the scan throws
 * RANGE_NOT_FOUND after yielding everything before it, with `details.key`: forward, the first
 * key no local replica holds; reverse, the exclusive end of that part (the rpc layer reads the
 * part from another node and continues).
 *
 * @module
 */

import { ErrorCode, isRangeDbError, RangeDbError } from "../base/errors.ts";
import { compareBytes, MAX_TIMESTAMP } from "../base/key_encoding.ts";
import { type Intent, mvccGet } from "../mvcc/mod.ts";
import { inSpan, showKey } from "./apply_context.ts";
import type { ReadOptions, ScanOptions, VersionedValue } from "./kv_store.ts";
import { isPlanted } from "./planted_bugs.ts";
import type { Replica } from "./replica.ts";
import type { Store } from "./store.ts";
import { scanChunks } from "./store_scan.ts";
import { versionOf } from "./version.ts";

const USER_START = new Uint8Array([0x2f]); // "/"
const USER_END = new Uint8Array([0x30]); // the byte after "/"

/**
 * Waits one tick (or until the deadline) before a retry; throws `err()` once the deadline passed.
 *
 * @param store the store (clock, tick interval)
 * @param deadline absolute ms
 * @param err the error to throw at the deadline
 */
export async function pauseOrThrow(
  store: Store,
  deadline: number,
  err: () => RangeDbError,
): Promise<void> {
  const now = store.clock.now();
  if (now >= deadline) throw err();
  const ms = Math.min(store.tickIntervalMs, deadline - now);
  await new Promise<void>((resolve) => store.clock.after(ms, resolve));
  store.checkRunning();
}

/** The RANGE_MOVED error of a request whose key's range kept moving until the deadline. */
export function movedError(key: Uint8Array, r: Replica | undefined): RangeDbError {
  return new RangeDbError(
    ErrorCode.RANGE_MOVED,
    `Cannot serve the request as the key's range moved until the deadline: key is ${
      showKey(key)
    }, last range is ${r?.rangeId ?? "none"}`,
    { details: { rangeId: r?.rangeId ?? 0 } },
  );
}

/** The store's reads. */
export class StoreReads {
  readonly #store: Store;

  /** @param store the store */
  constructor(store: Store) {
    this.#store = store;
  }

  /** Whether `r` is still the live, unfrozen replica of its range. */
  #live(r: Replica): boolean {
    return this.#store.replicas.get(r.rangeId) === r && !r.destroyed && !r.frozen;
  }

  /**
   * Waits for a read point on `r` (unless serializable).
   *
   * @returns false when the replica was merged away meanwhile (its reads fail with RANGE_MOVED):
   *   the caller retries from routing
   */
  async #readPoint(
    r: Replica,
    options: ReadOptions | undefined,
    deadline: number,
  ): Promise<boolean> {
    if (r.applied === undefined) {
      throw new RangeDbError(
        ErrorCode.UNAVAILABLE,
        `Cannot read as this node's replica has no data yet: range is ${r.rangeId}`,
      );
    }
    if (options?.serializable || isPlanted("stale-reads")) return true;
    // A deadline already past fails at once, not only if the next tick comes before an answer.
    if (this.#store.clock.now() >= deadline) {
      throw new RangeDbError(
        ErrorCode.TIMEOUT,
        `Cannot read as the deadline passed before a linearizable read point was confirmed: range is ${r.rangeId}`,
      );
    }
    try {
      await r.reads.wait(deadline);
      return true;
    } catch (err) {
      if (isRangeDbError(err, ErrorCode.RANGE_MOVED)) return false;
      throw err;
    }
  }

  /**
   * The newest value of `key`, read on the replica holding it.
   *
   * @throws {RangeDbError} RANGE_NOT_FOUND when no local replica holds the key; RANGE_MOVED when
   *   its range kept moving until the deadline; UNAVAILABLE/TIMEOUT
   */
  async get(key: Uint8Array, options?: ReadOptions): Promise<VersionedValue | undefined> {
    const store = this.#store;
    store.checkRunning();
    const deadline = store.deadlineOf(options);
    for (;;) {
      const r = store.replicaFor(key);
      if (!r.frozen && await this.#readPoint(r, options, deadline)) {
        if (this.#live(r) && inSpan(r.descriptor, key)) {
          const got = read(store, key);
          if (got === undefined || !("intent" in got)) return got;
          // A cross-range batch holds the key: wait for it (or settle it past its TTL), read again.
          await store.coordination.resolver.resolve(got.intent, deadline);
          if (store.clock.now() >= deadline) throw lockedError(key);
          continue;
        }
      }
      await pauseOrThrow(store, deadline, () => movedError(key, r));
    }
  }

  /**
   * The keys of `[start, end)` in chunks, range by range (see the module doc).
   *
   * @throws {RangeDbError} RANGE_NOT_FOUND (details.key) for a part no local replica holds;
   *   RANGE_MOVED when a part's range kept moving until the deadline; UNAVAILABLE/TIMEOUT
   */
  async *scan(
    start: Uint8Array,
    end: Uint8Array,
    options?: ScanOptions & { chunkSize?: number },
  ): AsyncGenerator<VersionedValue[]> {
    const store = this.#store;
    store.checkRunning();
    const lo = start.length === 0 ? USER_START : start;
    const hi = end.length === 0 ? USER_END : end;
    if (compareBytes(lo, hi) >= 0) return;
    let deadline = store.deadlineOf(options);
    const reverse = options?.reverse ?? false;
    let remaining = options?.limit !== undefined && options.limit > 0 ? options.limit : Infinity;
    // Forward: the next key to read. Reverse: the exclusive end of what is left to read.
    let cursor = reverse ? hi : lo;
    while (
      remaining > 0 && (reverse ? compareBytes(cursor, lo) > 0 : compareBytes(cursor, hi) < 0)
    ) {
      const r = reverse
        ? store.rangeSet.replicaBelow(cursor)
        : store.rangeSet.replicaHolding(cursor);
      if (r === undefined) throw partNotFound(store.nodeId, cursor, reverse);
      const pointed = !r.frozen && await this.#readPoint(r, options, deadline);
      const d = r.descriptor;
      const holds = d !== undefined && (reverse
        ? compareBytes(d.start, cursor) < 0 &&
          (d.end.length === 0 || compareBytes(d.end, cursor) >= 0)
        : inSpan(d, cursor));
      if (!pointed || !this.#live(r) || !holds) {
        await pauseOrThrow(store, deadline, () => movedError(cursor, r));
        continue;
      }
      const partLo = reverse ? maxKey(lo, d!.start) : cursor;
      const partHi = reverse ? cursor : d!.end.length === 0 ? hi : minKey(hi, d!.end);
      // Taken right after the re-check: the part is read as the range held it then.
      const snap = store.engine.snapshot();
      let locked: Intent | undefined;
      let last: Uint8Array | undefined;
      try {
        const part = scanChunks(snap, partLo, partHi, { ...options, limit: remaining });
        for (const chunk of part) {
          remaining -= chunk.length;
          if (chunk.length > 0) last = chunk[chunk.length - 1].key;
          yield chunk;
        }
      } catch (err) {
        if (!isRangeDbError(err, ErrorCode.LOCKED)) throw err;
        locked = err.details.intent as Intent;
      } finally {
        snap.close();
      }
      if (locked !== undefined) {
        // Resume after what was returned, once the batch holding the key is resolved.
        if (last !== undefined) cursor = reverse ? last : successor(last);
        await store.coordination.resolver.resolve(locked, deadline);
        if (store.clock.now() >= deadline) throw lockedError(locked.key);
        continue;
      }
      cursor = reverse ? partLo : partHi;
      // Without a deadline (or with a part budget) each part gets its own: a long scan, or one
      // whose consumer drains it slowly, may outlast the first part's.
      deadline = options?.partBudgetMs !== undefined
        ? store.clock.now() + options.partBudgetMs
        : store.deadlineOf(options);
    }
  }
}

function read(store: Store, key: Uint8Array): VersionedValue | { intent: Intent } | undefined {
  const r = mvccGet(store.engine, key, MAX_TIMESTAMP);
  if (r.status === "absent") return undefined;
  if (r.status === "locked") return { intent: r.intents[0] };
  return { key, value: r.value, version: versionOf(r.timestamp) };
}

/** The key right after `key` in byte order. */
function successor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

/** A key still held by a batch at the deadline. */
export function lockedError(key: Uint8Array): RangeDbError {
  return new RangeDbError(
    ErrorCode.LOCKED,
    `Cannot read key as a cross-range batch holding it did not resolve before the deadline: key is ${
      showKey(key)
    }`,
  );
}

function minKey(a: Uint8Array, b: Uint8Array): Uint8Array {
  return compareBytes(a, b) <= 0 ? a : b;
}

function maxKey(a: Uint8Array, b: Uint8Array): Uint8Array {
  return compareBytes(a, b) >= 0 ? a : b;
}

function partNotFound(nodeId: number, key: Uint8Array, reverse: boolean): RangeDbError {
  return new RangeDbError(
    ErrorCode.RANGE_NOT_FOUND,
    `Cannot scan on as no range on this node holds the next part: node is ${nodeId}, ${
      reverse ? "part ends at" : "part starts at"
    } ${showKey(key)}`,
    { details: { key, reverse } },
  );
}
