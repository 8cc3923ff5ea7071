/**
 * Request-id records (client idempotency keys) in the `dedupe` keyspace, keyed by the command's
 * first key then the request id: `encodeBytes(key) + UTF-8 request id`. A range's records thus
 * occupy its span exactly like its data (`keySpan`), and a split or merge moves them with the
 * keys at no cost, so a write retried after a split is still applied once (docs/design/0009).
 *
 * Everything here runs inside apply and is deterministic: what a command sees is the engine as
 * the previous batch left it plus this batch's own dedupe writes ({@linkcode DedupeOverlay}), which
 * is the same on every replica at the same log index whatever the batch boundaries.
 *
 * - Lookup happens only after the command's keys passed the span check (a command whose keys
 *   are outside the range must not read another range's records).
 * - Expired records (older than {@linkcode DEDUPE_RETENTION_MS} before the commit version) are
 *   swept per range: once a command's commit version passes the applied state's
 *   `dedupe_sweep_version`, every applied command examines up to {@linkcode DEDUPE_SWEEP_RECORDS}
 *   records of the range's span from `dedupe_sweep_cursor` and deletes the expired ones; at the
 *   span's end the cursor is cleared and the next sweep starts {@linkcode DEDUPE_SWEEP_PERIOD_MS}
 *   later.
 *
 * @module
 */

import { compareBytes, encodeBytes } from "../base/key_encoding.ts";
import type { Reader, WriteBatch } from "../storage/mod.ts";
import {
  type CommandResult,
  decodeDedupe,
  encodeDedupe,
  type RaftCommand,
  type RangeAppliedState,
  type RangeDescriptor,
} from "./command.ts";
import { keySpan } from "./keys.ts";

/** How long a request id is remembered, in version wall ms. */
export const DEDUPE_RETENTION_MS = 10 * 60 * 1000;
/** Version wall ms between the end of one sweep of a range and the start of the next. */
export const DEDUPE_SWEEP_PERIOD_MS = 60 * 1000;
/** Records one applied command examines while a sweep runs. */
export const DEDUPE_SWEEP_RECORDS = 64;

const KEYSPACE = "dedupe";
const encoder = new TextEncoder();

/** A dedupe record as this batch left it. */
export interface DedupeEntry {
  result: CommandResult;
  version: bigint;
}

/**
 * The key of the record of `requestId` for a command whose first key is `firstKey`.
 *
 * @param firstKey the command's first user key
 * @param requestId the client's request id
 * @returns `encodeBytes(firstKey) + UTF-8 requestId`
 */
export function dedupeRecordKey(firstKey: Uint8Array, requestId: string): Uint8Array {
  const head = encodeBytes(firstKey);
  const tail = encoder.encode(requestId);
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

/**
 * The key a command's record is kept under: its first written key (a write's first op, a
 * compare-and-swap's key), the split key of a Split, the subsumed range's start for a Merge (both
 * are this range's start once the command applied, so a retry finds the record), else the
 * range's start. Undefined for a command without a request id.
 */
export function dedupeKeyOf(
  cmd: RaftCommand,
  d: RangeDescriptor,
): Uint8Array | undefined {
  if (cmd.requestId === "") return undefined;
  const body = cmd.body;
  let first: Uint8Array;
  switch (body.case) {
    case "write":
      first = body.value.ops[0]?.key ?? d.start;
      break;
    case "compareAndSwap":
      first = body.value.key;
      break;
    case "split":
      first = body.value.splitKey;
      break;
    case "merge":
      first = body.value.subsumed?.start ?? d.start;
      break;
    case "commitBatch":
    case "checkBatch":
      first = body.value.primaryKey;
      break;
    default:
      first = d.start;
  }
  return dedupeRecordKey(first, cmd.requestId);
}

/** Whether an encoded key lies in the dedupe span of `d`. */
export function inDedupeSpan(d: RangeDescriptor, key: Uint8Array): boolean {
  const span = keySpan(d);
  return compareBytes(key, span.start) >= 0 && compareBytes(key, span.end) < 0;
}

function keyString(key: Uint8Array): string {
  let out = "";
  for (let i = 0; i < key.length; i += 4096) {
    out += String.fromCharCode(...key.subarray(i, i + 4096));
  }
  return out;
}

/**
 * The dedupe records written (or deleted: entry undefined) by the current batch, which the
 * engine does not show until the batch is written.
 */
export class DedupeOverlay {
  readonly #entries = new Map<string, { key: Uint8Array; entry: DedupeEntry | undefined }>();

  /** The batch's record of `key`: an entry, undefined when deleted, null when untouched. */
  get(key: Uint8Array): DedupeEntry | undefined | null {
    const slot = this.#entries.get(keyString(key));
    return slot === undefined ? null : slot.entry;
  }

  /** Records a write (entry) or a deletion (undefined) of `key`. */
  set(key: Uint8Array, entry: DedupeEntry | undefined): void {
    this.#entries.set(keyString(key), { key, entry });
  }

  /** The batch's records with keys in `[start, end)`, in key order. */
  inSpan(
    start: Uint8Array,
    end: Uint8Array,
  ): { key: Uint8Array; entry: DedupeEntry | undefined }[] {
    const out = [];
    for (const slot of this.#entries.values()) {
      if (compareBytes(slot.key, start) >= 0 && compareBytes(slot.key, end) < 0) out.push(slot);
    }
    return out.sort((a, b) => compareBytes(a.key, b.key));
  }
}

/** What the dedupe functions need of the apply context. */
export interface DedupeContext {
  readonly engine: Reader;
  readonly batch: WriteBatch;
  readonly dedupe: DedupeOverlay;
}

/**
 * The stored result of the record under `key`, as this batch leaves it.
 *
 * @returns the result, or undefined when there is no record
 */
export function lookupDedupe(ctx: DedupeContext, key: Uint8Array): CommandResult | undefined {
  const own = ctx.dedupe.get(key);
  if (own !== null) return own?.result;
  const v = ctx.engine.get(KEYSPACE, key);
  return v === undefined ? undefined : decodeDedupe(v).result;
}

/** Writes the record of a command's result under `key`. */
export function writeDedupe(
  ctx: DedupeContext,
  key: Uint8Array,
  result: CommandResult,
  version: bigint,
): void {
  ctx.batch.put(KEYSPACE, key, encodeDedupe(result, version));
  ctx.dedupe.set(key, { result, version });
}

/**
 * The records of `[start, end)` in key order over the merged view: the engine's, replaced or
 * deleted by this batch's own.
 */
function* mergedRecords(
  ctx: DedupeContext,
  start: Uint8Array,
  end: Uint8Array,
): Generator<{ key: Uint8Array; version: bigint }> {
  const own = ctx.dedupe.inSpan(start, end);
  let i = 0;
  const ownUpTo = function* (limit: Uint8Array | undefined, inclusive: boolean) {
    for (; i < own.length; i++) {
      const c = limit === undefined ? -1 : compareBytes(own[i].key, limit);
      if (c > 0 || (c === 0 && !inclusive)) return;
      const { key, entry } = own[i];
      if (entry !== undefined) yield { key, version: entry.version };
    }
  };
  for (const { key, value } of ctx.engine.scan(KEYSPACE, { start, end })) {
    yield* ownUpTo(key, false);
    if (i < own.length && compareBytes(own[i].key, key) === 0) {
      yield* ownUpTo(key, true);
      continue;
    }
    yield { key, version: decodeDedupe(value).version };
  }
  yield* ownUpTo(undefined, true);
}

/**
 * Runs one step of the range's dedupe sweep for a command applied at `version`, when a sweep is
 * due or running: examines up to {@linkcode DEDUPE_SWEEP_RECORDS} records from the cursor,
 * deletes the expired ones and moves the cursor (in `st`).
 *
 * @param ctx the turn's batch and its dedupe overlay
 * @param st the range's applied state (its descriptor gives the span; cursor and next sweep
 *   version are updated)
 * @param version the command's commit version
 */
export function sweepDedupe(ctx: DedupeContext, st: RangeAppliedState, version: bigint): void {
  const running = st.dedupeSweepCursor.length > 0;
  if (!running && version < st.dedupeSweepVersion) return;
  const span = keySpan(st.descriptor!);
  // A split may have left the cursor left of the span (in the new range's part): clamp it.
  const from = running && compareBytes(st.dedupeSweepCursor, span.start) > 0
    ? st.dedupeSweepCursor
    : span.start;
  const cutoff = version - (BigInt(DEDUPE_RETENTION_MS) << 16n);
  let examined = 0;
  let next: Uint8Array | undefined;
  const records = compareBytes(from, span.end) < 0 ? mergedRecords(ctx, from, span.end) : [];
  for (const record of records) {
    if (examined === DEDUPE_SWEEP_RECORDS) {
      next = record.key;
      break;
    }
    examined++;
    if (record.version < cutoff) {
      ctx.batch.delete(KEYSPACE, record.key);
      ctx.dedupe.set(record.key, undefined);
    }
  }
  if (next === undefined) {
    st.dedupeSweepCursor = new Uint8Array(0);
    st.dedupeSweepVersion = version + (BigInt(DEDUPE_SWEEP_PERIOD_MS) << 16n);
  } else {
    st.dedupeSweepCursor = next.slice();
  }
}
