/**
 * Range scans across ranges (docs/design/0009, "Scans across ranges"). This node's store scans
 * what its replicas cover; where they stop (`store.scan` throws RANGE_NOT_FOUND with
 * `details.key`), the part of the key space held elsewhere is read page by page from a node that
 * holds it (Peer.Forward "RangePage"), and the scan then goes on locally after that part. Each
 * part is read at its own linearizable read point, so a scan across ranges is not one snapshot.
 * Limits and reverse order hold across parts.
 *
 * What `details.key` means (the store's side of the contract): for a forward scan, the first key
 * of the part no local replica covers (everything before it was yielded); for a reverse scan, the
 * exclusive end of that part (everything at or after it was yielded). The part is found with the
 * range lookup of that key (forward) or of the greatest key below it (reverse, see
 * {@linkcode keyJustBelow}).
 *
 * {@linkcode rangePage} is the receiving side: one page from the receiver's own store, never
 * forwarded again.
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Clock } from "../base/clock.ts";
import { ErrorCode, isRangeDbError, RangeDbError } from "../base/errors.ts";
import { compareBytes } from "../base/key_encoding.ts";
import type { KeyLimits } from "../base/key_limits.ts";
import { keyText } from "../base/key_text.ts";
import type { KvStore, VersionedValue } from "../kv/kv_store.ts";
import {
  KeyValueSchema,
  type RangeRequest,
  RangeRequestSchema,
} from "../../proto/gen/rangedb/v1/kv_pb.ts";
import {
  type RangePageResponse,
  RangePageResponseSchema,
} from "../../proto/gen/rangedb/v1/peer_pb.ts";
import { scanBounds, USER_SPACE_END } from "./kv_validation.ts";
import type { RangeLocator } from "./range_locator.ts";

/** Keys per chunk of a Range stream, and per page of a remote part. */
export const RANGE_CHUNK_SIZE = 256;

/**
 * The budget from one part's progress to the next (a fresh read point, a page from another
 * node), for a Range call that set no deadline of its own.
 */
export const RANGE_PART_BUDGET_MS = 5_000;

const EMPTY = new Uint8Array(0);

/**
 * The greatest key below `key` that a range can start at or before: `key` without its last byte
 * when that byte is 0, else `key` with its last byte decreased and padded with 0xff bytes to
 * `maxKeyBytes`. Every range `[s, key)` with `s` at most `maxKeyBytes` long holds it, so its
 * lookup finds the range that ends at `key`.
 *
 * @example
 * ```ts
 * import { keyJustBelow } from "./kv_range_scan.ts";
 * keyJustBelow(Uint8Array.of(0x2f, 0x62, 0x00), 8); // "/b"
 * keyJustBelow(Uint8Array.of(0x2f, 0x62), 4); // "/a\xff\xff"
 * ```
 *
 * @param key a non-empty key
 * @param maxKeyBytes the longest key a range may start at
 * @returns the probe key
 */
export function keyJustBelow(key: Uint8Array, maxKeyBytes: number): Uint8Array {
  const last = key[key.length - 1];
  if (last === 0) return key.slice(0, key.length - 1);
  const out = new Uint8Array(Math.max(maxKeyBytes, key.length)).fill(0xff);
  out.set(key.subarray(0, key.length - 1));
  out[key.length - 1] = last - 1;
  return out;
}

/** The smallest key after `key`. */
function successor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

function minKey(a: Uint8Array, b: Uint8Array): Uint8Array {
  return compareBytes(a, b) <= 0 ? a : b;
}

function maxKey(a: Uint8Array, b: Uint8Array): Uint8Array {
  return compareBytes(a, b) >= 0 ? a : b;
}

/** What {@linkcode scanAcrossRanges} needs. */
export interface RangeScanDeps {
  store: KvStore;
  locator: RangeLocator;
  clock: Clock;
  limits: Readonly<KeyLimits>;
  /** Pause between attempts while a part cannot be reached. */
  retryIntervalMs: number;
}

/**
 * Scans [start, end) across ranges.
 *
 * @param deps store, locator, clock, limits, retry interval
 * @param req the validated request (its limit, order, keys_only, serializable)
 * @param bounds the request's bounds (end empty: the end of the user keyspace)
 * @param firstDeadline the store deadline of the first part
 * @param renew whether each part read renews the budget ({@linkcode RANGE_PART_BUDGET_MS}; for
 *   calls without a deadline of their own), else every part must finish by `firstDeadline`
 * @returns chunks of at most {@linkcode RANGE_CHUNK_SIZE} pairs
 * @throws {RangeDbError} UNAVAILABLE when a part held elsewhere cannot be read in time, else the
 *   store's errors
 */
export async function* scanAcrossRanges(
  deps: RangeScanDeps,
  req: RangeRequest,
  bounds: { start: Uint8Array; end: Uint8Array },
  firstDeadline: number,
  renew: boolean,
): AsyncGenerator<VersionedValue[]> {
  const { store, locator, clock } = deps;
  const reverse = req.reverse;
  const end = bounds.end.length === 0 ? USER_SPACE_END : bounds.end;
  /** Forward: the next key to read. Reverse: the exclusive end still to read. */
  let cursor = reverse ? end : bounds.start;
  let remaining = req.limit > 0 ? req.limit : Infinity;
  let deadline = firstDeadline;
  const nextDeadline = () =>
    renew ? Math.max(firstDeadline, clock.now() + RANGE_PART_BUDGET_MS * 0.9) : firstDeadline;
  const open = () =>
    reverse ? compareBytes(bounds.start, cursor) < 0 : compareBytes(cursor, end) < 0;
  // Progress renews the budget (for calls without a deadline): a long scan may take many parts,
  // but a part that cannot be read fails once the budget of the last progress ran out.
  const took = (chunk: VersionedValue[]) => {
    remaining -= chunk.length;
    const last = chunk[chunk.length - 1].key;
    cursor = reverse ? last : successor(last);
    deadline = nextDeadline();
  };
  const pause = (why: () => string) => {
    if (clock.now() + deps.retryIntervalMs >= deadline) {
      throw new RangeDbError(ErrorCode.UNAVAILABLE, `Cannot scan as ${why()}`);
    }
    return new Promise<void>((resolve) => clock.after(deps.retryIntervalMs, resolve));
  };
  /** The last failure to read a part elsewhere (kept across rounds that reached no node). */
  let partError: RangeDbError | undefined;
  while (remaining > 0 && open()) {
    let gap: Uint8Array;
    try {
      // The first pass keeps the request's own end (empty: the end of the user keyspace).
      const chunks = store.scan(
        reverse ? bounds.start : cursor,
        reverse && cursor !== end ? cursor : bounds.end,
        {
          deadline,
          serializable: req.serializable,
          limit: Number.isFinite(remaining) ? remaining : 0,
          reverse,
          keysOnly: req.keysOnly,
          chunkSize: RANGE_CHUNK_SIZE,
          // The local parts renew their budget like the remote ones (the deadline above is
          // only the first part's).
          partBudgetMs: renew ? RANGE_PART_BUDGET_MS * 0.9 : undefined,
        },
      );
      for await (const chunk of chunks) {
        if (chunk.length === 0) continue;
        took(chunk);
        yield chunk;
      }
      return;
    } catch (err) {
      if (
        !isRangeDbError(err, ErrorCode.RANGE_NOT_FOUND) || !(err.details.key instanceof Uint8Array)
      ) {
        throw err;
      }
      gap = reverse ? minKey(err.details.key, cursor) : maxKey(err.details.key, cursor);
    }
    // The part [gap, …) (forward) or […, gap) (reverse) is held by another node.
    cursor = gap;
    let range;
    try {
      range = await locator.lookup(
        reverse ? keyJustBelow(gap, deps.limits.maxKeyBytes) : gap,
        deadline,
      );
    } catch (err) {
      if (!isRangeDbError(err) || err.code === ErrorCode.INVALID_ARGUMENT) throw err;
      await pause(() => `the range after ${keyText(gap)} could not be found: ${err.message}`);
      continue;
    }
    if (range.local) {
      // A split or merge applied here meanwhile: scan locally again.
      await pause(() => `the range of ${keyText(gap)} moved while the scan ran`);
      continue;
    }
    const partStart = reverse ? maxKey(bounds.start, range.start) : gap;
    const partEnd = reverse ? gap : range.end.length === 0 ? end : minKey(range.end, end);
    for (;;) {
      if (remaining <= 0) return;
      const page = create(RangeRequestSchema, {
        start: reverse ? partStart : cursor,
        end: reverse ? cursor : partEnd,
        limit: Math.min(remaining, RANGE_CHUNK_SIZE),
        reverse,
        serializable: req.serializable,
        keysOnly: req.keysOnly,
      });
      const out = await locator.forwardToNodes(
        locator.replicaNodes(range),
        "RangePage",
        toBinary(RangeRequestSchema, page),
        deadline,
      ).catch((err) => {
        // A page cut by the deadline fails the part like any other unserved page.
        if (!isRangeDbError(err, ErrorCode.TIMEOUT)) throw err;
        return { ok: false as const, error: err, tried: 1 };
      });
      if (!out.ok) {
        if (out.tried > 0 || partError === undefined) partError = out.error;
        await pause(() =>
          `no node holding range ${range.rangeId} served ${keyText(partStart)}..${
            keyText(partEnd)
          }: ${partError?.message}`
        );
        break;
      }
      const res = fromBinary(RangePageResponseSchema, out.response);
      const chunk = res.kvs.map((kv) => ({ key: kv.key, value: kv.value, version: kv.version }));
      if (chunk.length === 0 && res.more) {
        // A page that says "more" always holds a pair (rangePage): read this part again.
        await pause(() => `node ${out.nodeId} sent an empty page of range ${range.rangeId}`);
        break;
      }
      if (chunk.length > 0) {
        took(chunk);
        yield chunk;
      }
      if (!res.more) {
        cursor = reverse ? partStart : partEnd;
        break;
      }
      cursor = res.resumeKey;
    }
  }
}

/**
 * Serves one page of a Range request forwarded by another node, from this node's store only.
 *
 * @param store this node's store
 * @param req the request, limited to a part this node should hold
 * @param deadline the store's deadline
 * @param limits key limits for the bounds
 * @returns up to {@linkcode RANGE_CHUNK_SIZE} pairs and where the part continues
 * @throws {RangeDbError} RANGE_NOT_FOUND when this node holds no replica at the page's start,
 *   else the store's errors
 */
export async function rangePage(
  store: KvStore,
  req: RangeRequest,
  deadline: number,
  limits: Readonly<KeyLimits>,
): Promise<RangePageResponse> {
  const { start, end } = scanBounds(req, limits);
  const pageSize = req.limit > 0 ? Math.min(req.limit, RANGE_CHUNK_SIZE) : RANGE_CHUNK_SIZE;
  const pairs: VersionedValue[] = [];
  const response = (more: boolean, resumeKey: Uint8Array = EMPTY) =>
    create(RangePageResponseSchema, {
      kvs: pairs.map((kv) =>
        create(KeyValueSchema, {
          key: kv.key,
          value: req.keysOnly ? EMPTY : kv.value,
          version: kv.version,
        })
      ),
      more,
      resumeKey,
    });
  try {
    const chunks = store.scan(start, end, {
      deadline,
      serializable: req.serializable,
      limit: pageSize,
      reverse: req.reverse,
      keysOnly: req.keysOnly,
      chunkSize: RANGE_CHUNK_SIZE,
    });
    for await (const chunk of chunks) pairs.push(...chunk);
  } catch (err) {
    if (
      !isRangeDbError(err, ErrorCode.RANGE_NOT_FOUND) || pairs.length === 0 ||
      !(err.details.key instanceof Uint8Array)
    ) {
      throw err;
    }
    const last = pairs[pairs.length - 1].key;
    return response(
      true,
      req.reverse ? minKey(err.details.key, last) : maxKey(err.details.key, successor(last)),
    );
  }
  if (pairs.length < pageSize) return response(false);
  const last = pairs[pairs.length - 1].key;
  return response(true, req.reverse ? last : successor(last));
}
