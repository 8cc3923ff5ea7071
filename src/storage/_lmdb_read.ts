/**
 * Reads of the LMDB engine over logical keys: point reads and ordered scans that translate to
 * and from the long-key form of {@link ./_long_key.ts}.
 *
 * @module
 */

import type { Database, Transaction } from "lmdb";
import { ErrorCode, isRangeDbError, RangeDbError } from "../base/errors.ts";
import type { KeyValue, ScanOptions, ViewVisitor } from "./engine.ts";
import { compareBytes } from "../base/key_encoding.ts";
import { resolveScan } from "./_scan_options.ts";
import {
  decodeLong,
  LONG_KEY_PREFIX_BYTES,
  longPhysicalKey,
  longValueOf,
  physicalLowerBound,
  physicalUpperBound,
  sameGroup,
} from "./_long_key.ts";

/** A keyspace's database: binary keys, binary values (lmdb-js returns Buffers). */
export type KeyspaceDb = Database<Uint8Array, Uint8Array>;

/**
 * lmdb-js options of a second handle on a keyspace's database whose ranges return views instead
 * of copies, for {@linkcode visitLogical}. A binary handle copies each key and value out of
 * lmdb-js's reused read buffers with `Uint8Array.prototype.slice` on a Buffer, which constructs
 * a Buffer through its species: that construction was about half the time of a scan. Here the
 * key reader and the value decoder wrap the same bytes in plain Uint8Array views instead, valid
 * until the iterator's next step. `decoderCopies` (lmdb-js sets it when the encoder does not
 * declare `needsStableBuffer`) is what lets the decoder see the reused buffer itself. The
 * handle is only read through `getRange`: its encoder is never asked to encode.
 */
export function viewDbOptions(name: string) {
  return {
    name,
    keyEncoder: {
      writeKey(key: Uint8Array, target: Uint8Array, start: number): number {
        target.set(key, start);
        return start + key.length;
      },
      readKey(source: Uint8Array, start: number, end: number): Uint8Array {
        return new Uint8Array(source.buffer, source.byteOffset + start, end - start);
      },
    },
    encoder: {
      encode(value: Uint8Array): Uint8Array {
        return value;
      },
      decode(bytes: Uint8Array, size: number): Uint8Array {
        return new Uint8Array(bytes.buffer, bytes.byteOffset, size);
      },
    },
  };
}

/**
 * The smallest key: the start of a forward range, and the inclusive end of a reverse one,
 * without a lower bound (lmdb-js's default depends on the key encoding: for a custom one it
 * skips keys below 0x05).
 */
const FIRST_KEY = new Uint8Array([0]);

const T = LONG_KEY_PREFIX_BYTES;

/**
 * A RangeDbError for an error thrown by lmdb-js: CORRUPTION for LMDB's page-level checks (LMDB
 * keeps no checksums, so damage is found only when a damaged page is read), INTERNAL otherwise.
 */
export function lmdbFailure(action: string, err: unknown): RangeDbError {
  if (isRangeDbError(err)) return err;
  const corrupt = /MDB_CORRUPTED|MDB_PAGE_NOTFOUND|Invalid key size/.test(String(err));
  return new RangeDbError(
    corrupt ? ErrorCode.CORRUPTION : ErrorCode.INTERNAL,
    `Cannot ${action} as LMDB failed: ${err}`,
    { cause: err },
  );
}

/** A plain Uint8Array over the bytes of a Buffer that lmdb-js freshly allocated for this read. */
function own(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * lmdb-js's fastest point read: the value lands in a buffer reused by the next read, whose
 * `length` property (not its real length) is the value's size, so exactly that many bytes are
 * copied at once into a plain Uint8Array the caller owns. The `options` argument (a read
 * transaction) is accepted at run time but missing from lmdb-js's type declarations.
 */
function getCopy(db: KeyspaceDb, key: Uint8Array, options?: { transaction: Transaction }) {
  const fast = (db.getBinaryFast as (k: Uint8Array, o?: unknown) => Uint8Array | undefined)
    .call(db, key, options);
  return fast === undefined
    ? undefined
    : new Uint8Array(fast.buffer, fast.byteOffset, fast.length).slice();
}

/**
 * The value of logical `key`, or undefined when absent; inside a write transaction's callback it
 * sees that transaction's writes.
 *
 * @throws {RangeDbError} INTERNAL when a long key's slot holds another key
 */
export function getLogical(
  db: KeyspaceDb,
  key: Uint8Array,
  options?: { transaction: Transaction },
): Uint8Array | undefined {
  if (key.length <= T) return getCopy(db, key, options);
  const physical = longPhysicalKey(key);
  const stored = getCopy(db, physical, options);
  return stored === undefined ? undefined : longValueOf(key, physical, stored);
}

/**
 * lmdb-js range options over the physical keys that may hold logical keys in [start, end), in
 * either direction. When reverse, lmdb-js starts at `start` and walks down to `end`, so our upper
 * bound becomes its start and our inclusive lower bound its inclusive end. A long bound widens
 * the range to the whole of its group; the caller filters.
 */
function rangeOptions(
  start: Uint8Array | undefined,
  end: Uint8Array | undefined,
  reverse: boolean,
) {
  const low = start === undefined ? undefined : physicalLowerBound(start);
  const highInclusive = end !== undefined && end.length > T;
  const high = highInclusive ? physicalUpperBound(end) : end;
  const range: Record<string, unknown> = { reverse };
  if (reverse) {
    range.inclusiveEnd = true;
    range.end = low ?? FIRST_KEY;
    if (high !== undefined) Object.assign(range, { start: high, exclusiveStart: !highInclusive });
  } else {
    range.start = low ?? FIRST_KEY;
    if (high !== undefined) Object.assign(range, { end: high, inclusiveEnd: highInclusive });
  }
  return range;
}

type RangeIterator = Iterator<{ key: Uint8Array; value: Uint8Array }>;

/**
 * Reads the long-key group that starts with the pair `first` from `iterator`, sorted logically
 * in the scan's direction. Each pair is copied into plain Uint8Arrays: a view handle reuses its
 * memory, a binary one returns Buffers.
 *
 * @returns the group and the iterator's first result past it
 */
function readGroup(
  iterator: RangeIterator,
  first: { key: Uint8Array; value: Uint8Array },
  reverse: boolean,
) {
  const head = new Uint8Array(first.key);
  const group = [decodeLong(head, new Uint8Array(first.value))];
  let next = iterator.next();
  for (; !next.done && sameGroup(next.value.key, head); next = iterator.next()) {
    group.push(decodeLong(new Uint8Array(next.value.key), new Uint8Array(next.value.value)));
  }
  group.sort(
    reverse ? (a, b) => compareBytes(b.key, a.key) : (a, b) => compareBytes(a.key, b.key),
  );
  return { group, next };
}

/**
 * Visits logical pairs in [start, end) eagerly, over `views` (a handle opened with
 * {@linkcode viewDbOptions}): short keys are passed as lmdb-js's views, long-key groups as
 * decoded copies. Bounds are checked as in {@linkcode scanLogical}.
 */
export function visitLogical(
  views: KeyspaceDb,
  options: ScanOptions | undefined,
  transaction: Transaction | undefined,
  visit: ViewVisitor,
): void {
  const { start, end, reverse, limit } = resolveScan(options);
  if (limit === 0 || end?.length === 0) return;
  const range = rangeOptions(start, end, reverse);
  range.transaction = transaction;
  const inBounds = logicalBoundsFilter(start, end);
  let emitted = 0;
  let iterator: RangeIterator | undefined;
  // Only lmdb-js's calls are wrapped: the visitor's own errors propagate unchanged.
  try {
    iterator = lmdbCall(() => views.getRange(range)[Symbol.iterator]());
    const it = iterator;
    let next = lmdbStep(it);
    while (!next.done) {
      const pair = next.value;
      if (pair.key.length <= T) {
        if (inBounds === undefined || inBounds(pair.key)) {
          if (visit(pair.key, pair.value) === false || ++emitted === limit) return;
        }
        next = lmdbStep(it);
        continue;
      }
      const read = lmdbCall(() => readGroup(it, pair, reverse));
      for (const { key, value } of read.group) {
        if (inBounds !== undefined && !inBounds(key)) continue;
        if (visit(key, value) === false || ++emitted === limit) return;
      }
      next = read.next;
    }
  } finally {
    iterator?.return?.();
  }
}

/** The result of `call`, with any error of lmdb-js's raised as by {@linkcode lmdbFailure}. */
function lmdbCall<R>(call: () => R): R {
  try {
    return call();
  } catch (err) {
    throw lmdbFailure("scan", err);
  }
}

/** The iterator's next result, as {@linkcode lmdbCall} but without a closure per step. */
function lmdbStep(iterator: RangeIterator) {
  try {
    return iterator.next();
  } catch (err) {
    throw lmdbFailure("scan", err);
  }
}

/**
 * The logical check of keys against [start, end), or undefined when no key needs one: a short
 * bound is exact on physical keys (a long key's physical form shares its first T bytes, which
 * decide its order against a bound of at most T bytes), so only a long bound is checked.
 */
function logicalBoundsFilter(
  start: Uint8Array | undefined,
  end: Uint8Array | undefined,
): ((key: Uint8Array) => boolean) | undefined {
  const checkStart = start !== undefined && start.length > T ? start : undefined;
  const checkEnd = end !== undefined && end.length > T ? end : undefined;
  if (checkStart === undefined && checkEnd === undefined) return undefined;
  return (key) =>
    (checkStart === undefined || compareBytes(key, checkStart) >= 0) &&
    (checkEnd === undefined || compareBytes(key, checkEnd) < 0);
}

/**
 * Iterates logical pairs in [start, end) lazily. `transaction` is called at the first step, when
 * lmdb-js attaches the cursor, and names the read transaction to use (undefined: lmdb-js's
 * shared current one, or the write transaction when called inside its callback).
 *
 * Short physical keys are emitted as read. A long one starts a group: every following physical
 * key of the same group is read too, the group is decoded and sorted logically, then emitted.
 * Bounds are checked logically only when one is long; a short bound is exact physically.
 */
export function* scanLogical(
  db: KeyspaceDb,
  options: ScanOptions | undefined,
  transaction: () => Transaction | undefined,
): Generator<KeyValue> {
  const { start, end, reverse, limit } = resolveScan(options);
  // An empty exclusive end is below every key: the range is empty.
  if (limit === 0 || end?.length === 0) return;
  const range = rangeOptions(start, end, reverse);
  range.transaction = transaction();
  const inBounds = logicalBoundsFilter(start, end);
  let emitted = 0;
  let iterator: RangeIterator | undefined;
  try {
    iterator = db.getRange(range)[Symbol.iterator]();
    let next = iterator.next();
    while (!next.done) {
      const { key, value } = next.value;
      if (key.length <= T) {
        // The next step only after the yield: a scan stopped at its limit reads no further.
        if (inBounds === undefined || inBounds(key)) {
          yield { key: own(key), value: own(value) };
          if (++emitted === limit) return;
        }
        next = iterator.next();
        continue;
      }
      const read = readGroup(iterator, next.value, reverse);
      for (const pair of read.group) {
        if (inBounds !== undefined && !inBounds(pair.key)) continue;
        yield pair;
        if (++emitted === limit) return;
      }
      next = read.next;
    }
  } catch (err) {
    throw lmdbFailure("scan", err);
  } finally {
    iterator?.return?.();
  }
}
