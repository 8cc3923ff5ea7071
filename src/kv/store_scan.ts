/**
 * The read loop of one part of `Store.scan()`: one engine snapshot, read in chunks, so the part
 * is one consistent cut however long the caller takes to consume it.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { MAX_TIMESTAMP } from "../base/key_encoding.ts";
import { mvccScan } from "../mvcc/mod.ts";
import type { Reader } from "../storage/mod.ts";
import type { ScanOptions, VersionedValue } from "./kv_store.ts";
import { versionOf } from "./version.ts";

/** Chunk size when the caller gives none. */
const DEFAULT_CHUNK = 1000;

/**
 * Yields the newest values of `[lo, hi)` in chunks, from `snap` (which the caller closes).
 *
 * @param snap an engine snapshot
 * @param lo inclusive start (a user key)
 * @param hi exclusive end (a user key)
 * @param options limit, direction, keys only, chunk size
 */
export function* scanChunks(
  snap: Reader,
  lo: Uint8Array,
  hi: Uint8Array,
  options?: ScanOptions & { chunkSize?: number },
): Generator<VersionedValue[]> {
  const chunkSize = Math.max(1, options?.chunkSize ?? DEFAULT_CHUNK);
  let remaining = options?.limit !== undefined && options.limit > 0 ? options.limit : Infinity;
  const reverse = options?.reverse ?? false;
  let from = lo;
  let to = hi;
  while (remaining > 0) {
    const limit = Math.min(chunkSize, remaining);
    const r = mvccScan(snap, { start: from, end: to, timestamp: MAX_TIMESTAMP, limit, reverse });
    if (r.status === "locked") {
      // The caller resolves the intent and reads on from here.
      throw new RangeDbError(
        ErrorCode.LOCKED,
        "Cannot scan on as a key is held by a cross-range batch",
        { details: { intent: r.intents[0] } },
      );
    }
    if (r.rows.length === 0) return;
    remaining -= r.rows.length;
    yield r.rows.map((row) => ({
      key: row.key,
      value: options?.keysOnly ? new Uint8Array(0) : row.value,
      version: versionOf(row.timestamp),
    }));
    if (r.resumeKey === undefined) return;
    if (reverse) to = r.resumeKey;
    else from = r.resumeKey;
  }
}
