/**
 * The SDK's range cache (docs/design/0009, "SDK range cache"): which range holds a key and the
 * client address of that range's leader, learned with `Admin.LookupRange`, so that point requests
 * go straight to the leader instead of through any node (which forwards).
 *
 * - {@linkcode RangeCache} keeps ranges sorted by end key and finds a key's range by binary
 *   search; a new entry replaces every entry it overlaps (a split or merge seen later wins).
 * - {@linkcode RangeDirectory} answers "where should a request for this key go?" from the cache
 *   and fills it in the background: a key without an entry, or an entry evicted after a failure
 *   (NOT_LEADER, RANGE_MOVED, RANGE_NOT_FOUND, an unreachable or refusing leader), is looked up
 *   again while the request falls back to the configured endpoints. At most one lookup per range
 *   runs at a time (and one for keys without an entry); a server without LookupRange
 *   (UNIMPLEMENTED) turns the directory off.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import type { RangeStatus } from "../../proto/gen/rangedb/v1/admin_pb.ts";
import type { RangeDbClientError } from "./client_errors.ts";

/** One cached range. */
export interface CachedRange {
  rangeId: number;
  start: Uint8Array;
  /** Empty: the end of the key space. */
  end: Uint8Array;
  generation: number;
  /** The leader's client address; "" when the answering node knew no leader. */
  leaderAddress: string;
  /** When a range without a known leader may be looked up again (ms since the epoch). */
  retryAt: number;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/** Compares end keys, the empty end (the end of the key space) last. */
function compareEnds(a: Uint8Array, b: Uint8Array): number {
  if (a.length === 0 || b.length === 0) return (a.length === 0 ? 1 : 0) - (b.length === 0 ? 1 : 0);
  return compare(a, b);
}

/** Whether `key` lies in [start, end). */
function holds(range: CachedRange, key: Uint8Array): boolean {
  return compare(range.start, key) <= 0 && (range.end.length === 0 || compare(key, range.end) < 0);
}

/** Ranges by end key. */
export class RangeCache {
  /** Sorted by end; the entries never overlap. */
  readonly #byEnd: CachedRange[] = [];

  /** How many ranges are cached. */
  get size(): number {
    return this.#byEnd.length;
  }

  /** The index of the first entry whose end is after `key` (the only one that may hold it). */
  #search(key: Uint8Array): number {
    let lo = 0;
    let hi = this.#byEnd.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const end = this.#byEnd[mid].end;
      if (end.length !== 0 && compare(end, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * The cached range holding `key`.
   *
   * @param key the key
   * @returns the entry, or undefined when no cached range holds it
   */
  find(key: Uint8Array): CachedRange | undefined {
    const entry = this.#byEnd[this.#search(key)];
    return entry !== undefined && holds(entry, key) ? entry : undefined;
  }

  /**
   * Caches `range`, dropping every entry it overlaps.
   *
   * @param range the range
   */
  insert(range: CachedRange): void {
    const kept = this.#byEnd.filter((e) =>
      !((range.end.length === 0 || compare(e.start, range.end) < 0) &&
        (e.end.length === 0 || compare(range.start, e.end) < 0))
    );
    kept.push(range);
    kept.sort((a, b) => compareEnds(a.end, b.end));
    this.#byEnd.splice(0, this.#byEnd.length, ...kept);
  }

  /**
   * Drops `entry` if it is still cached.
   *
   * @param entry an entry {@linkcode RangeCache.find} returned
   */
  evict(entry: CachedRange): void {
    const i = this.#byEnd.indexOf(entry);
    if (i >= 0) this.#byEnd.splice(i, 1);
  }
}

/** Looks up the range of a key (one attempt, short timeout). */
export type LookupRange = (key: Uint8Array) => Promise<RangeStatus | undefined>;

/** Where a request goes first, and what to do when it fails there. */
export interface DirectRoute {
  /** The cached leader's client address. */
  readonly address: string;
  /** Reports a failure at `address`: the entry is evicted and looked up again. */
  failed(err: RangeDbClientError): void;
}

/** After a lookup failed, keys without an entry are not looked up again for this long. */
export const LOOKUP_BACKOFF_MS = 1_000;

/** A range cached without a leader is looked up again after this long. */
export const LEADERLESS_RETRY_MS = 1_000;

/**
 * Directs point requests to their range's leader.
 *
 * @example
 * ```ts ignore
 * const directory = new RangeDirectory(lookup);
 * const route = directory.route(key); // undefined at first: a lookup starts in the background
 * ```
 */
export class RangeDirectory {
  readonly #cache = new RangeCache();
  readonly #lookup: LookupRange;
  readonly #now: () => number;
  /** Lookups in flight by range ("miss" for keys without an entry), with the evicted entry. */
  readonly #inFlight = new Map<string, { evicted?: CachedRange; run: Promise<void> }>();
  #missesBlockedUntil = 0;
  #disabled = false;

  /**
   * @param lookup one LookupRange attempt
   * @param now the clock (ms since the epoch)
   */
  constructor(lookup: LookupRange, now: () => number = Date.now) {
    this.#lookup = lookup;
    this.#now = now;
  }

  /** The cache (for inspection). */
  get cache(): RangeCache {
    return this.#cache;
  }

  /** Whether a server answered UNIMPLEMENTED: the directory then directs nothing. */
  get disabled(): boolean {
    return this.#disabled;
  }

  /**
   * Where a request for `keys` (all in one range) should go first.
   *
   * @param keys the request's keys
   * @returns the leader's route, or undefined (no entry, several ranges, no known leader)
   */
  route(keys: readonly Uint8Array[]): DirectRoute | undefined {
    if (this.#disabled || keys.length === 0) return undefined;
    const entry = this.#cache.find(keys[0]);
    if (entry === undefined) {
      // A key whose evicted range is being looked up again needs no lookup of its own.
      const refreshing = [...this.#inFlight.values()].some((f) =>
        f.evicted !== undefined && holds(f.evicted, keys[0])
      );
      if (!refreshing) this.#refresh("miss", keys[0]);
      return undefined;
    }
    if (!keys.every((k) => holds(entry, k))) return undefined;
    if (entry.leaderAddress === "") {
      if (this.#now() >= entry.retryAt) this.#refresh(`range ${entry.rangeId}`, keys[0]);
      return undefined;
    }
    return {
      address: entry.leaderAddress,
      failed: () => {
        this.#cache.evict(entry);
        this.#refresh(`range ${entry.rangeId}`, keys[0], entry);
      },
    };
  }

  /** Resolves once no lookup is in flight. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) {
      await Promise.all([...this.#inFlight.values()].map((f) => f.run));
    }
  }

  #refresh(slot: string, key: Uint8Array, evicted?: CachedRange): void {
    if (this.#inFlight.has(slot)) return;
    if (slot === "miss" && this.#now() < this.#missesBlockedUntil) return;
    const run = this.#lookup(key).then(
      (range) => {
        if (range !== undefined) this.#cache.insert(this.#entryOf(range));
      },
      (err: RangeDbClientError) => {
        if (err?.grpcCode === grpc.status.UNIMPLEMENTED) this.#disabled = true;
        this.#missesBlockedUntil = this.#now() + LOOKUP_BACKOFF_MS;
      },
    ).finally(() => this.#inFlight.delete(slot));
    this.#inFlight.set(slot, { evicted, run });
  }

  #entryOf(r: RangeStatus): CachedRange {
    return {
      rangeId: Number(r.rangeId),
      start: r.start,
      end: r.end,
      generation: Number(r.generation),
      leaderAddress: r.leaderClientAddress,
      retryAt: this.#now() + LEADERLESS_RETRY_MS,
    };
  }
}
