/**
 * Identifiers. Randomness is injected as a {@linkcode RandomBytes} function so that tests and the
 * simulation get reproducible ids; production uses `crypto.getRandomValues`.
 *
 * Representations, chosen by where each id travels:
 * - node ids are positive safe integers (1 … 2^53-1), because Raft's `NodeId` is a JS number
 *   and 0 means "none"; 53 random bits make a collision among a cluster's nodes negligible;
 * - cluster ids are 64 random bits as 16 lowercase hex digits (a string: no precision limit,
 *   printable, and compared only for equality);
 * - transaction ids are random RFC 9562 version-4 UUIDs;
 * - backup ids are RFC 9562 version-7 UUIDs, which sort by creation time;
 * - request ids are a per-process counter, strictly increasing, safe integers.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import { ErrorCode, RangeDbError } from "./errors.ts";

/** Fills `buf` with random bytes and returns it (the shape of `crypto.getRandomValues`). */
export type RandomBytes = (buf: Uint8Array) => Uint8Array;

/** Cryptographically strong randomness. */
export const cryptoRandomBytes: RandomBytes = (buf) => crypto.getRandomValues(buf);

/**
 * A deterministic {@linkcode RandomBytes} for tests and the simulation (xorshift32; not secure).
 *
 * @param seed any integer; equal seeds give equal sequences
 * @returns the byte source
 */
export function seededRandomBytes(seed: number): RandomBytes {
  // xorshift32 has a fixed point at 0, so map the seed into the non-zero states.
  let state = (seed >>> 0) || 0x9e3779b9;
  return (buf) => {
    for (let i = 0; i < buf.length; i++) {
      state ^= state << 13;
      state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
      buf[i] = state & 0xff;
    }
    return buf;
  };
}

/**
 * A random node id: a safe integer in [1, 2^53 - 1].
 *
 * @example
 * ```ts
 * import { randomNodeId } from "./ids.ts";
 * const id = randomNodeId(); // e.g. 4503599627370497
 * ```
 *
 * @param random the byte source
 * @returns the id
 */
export function randomNodeId(random: RandomBytes = cryptoRandomBytes): number {
  for (;;) {
    const b = random(new Uint8Array(7));
    // 53 bits: 5 bits of the first byte, then 6 whole bytes.
    let id = b[0] & 0x1f;
    for (let i = 1; i < 7; i++) id = id * 256 + b[i];
    if (id !== 0) return id;
  }
}

/**
 * A random cluster id: 16 lowercase hex digits (64 bits).
 *
 * @param random the byte source
 * @returns the id
 */
export function randomClusterId(random: RandomBytes = cryptoRandomBytes): string {
  return toHex(random(new Uint8Array(8)));
}

/**
 * A random version-4 UUID, for transaction ids.
 *
 * @param random the byte source
 * @returns the UUID, lowercase, in 8-4-4-4-12 form
 */
export function uuidV4(random: RandomBytes = cryptoRandomBytes): string {
  const b = random(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return formatUuid(b);
}

/**
 * A version-7 UUID: 48 bits of Unix milliseconds, then random bits. Ids created later (by the
 * clock's wall time) sort after earlier ones, which makes backup listings chronological.
 *
 * @param clock the source of the timestamp
 * @param random the byte source
 * @returns the UUID, lowercase, in 8-4-4-4-12 form
 * @throws {RangeDbError} INVALID_ARGUMENT when the clock's time is outside 0 … 2^48 - 1 ms
 */
export function uuidV7(clock: Clock, random: RandomBytes = cryptoRandomBytes): string {
  const ms = Math.floor(clock.now());
  if (!(ms >= 0 && ms < 2 ** 48)) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot create a version-7 UUID as the time is out of range: got ${ms} ms`,
    );
  }
  const b = random(new Uint8Array(16));
  let t = ms;
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256;
    t = Math.floor(t / 256);
  }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  return formatUuid(b);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Tells whether `s` is a UUID in lowercase 8-4-4-4-12 form (any version).
 *
 * @param s any string
 * @returns true when it has the shape
 */
export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

/** Options of {@linkcode RequestIds}. */
export interface RequestIdsOptions {
  /**
   * The first id handed out.
   * @default 1
   */
  start?: number;
}

/**
 * Strictly increasing request ids, unique within one process lifetime.
 *
 * @example
 * ```ts
 * import { RequestIds } from "./ids.ts";
 * const ids = new RequestIds();
 * ids.next(); // 1
 * ids.next(); // 2
 * ```
 */
export class RequestIds {
  #next: number;

  /**
   * @param options the first id
   * @throws {RangeDbError} INVALID_ARGUMENT when `start` is not a safe integer
   */
  constructor(options: RequestIdsOptions = {}) {
    const start = options.start ?? 1;
    if (!Number.isSafeInteger(start)) {
      throw new RangeDbError(
        ErrorCode.INVALID_ARGUMENT,
        `Cannot create request ids as the start is not a safe integer: got ${start}`,
      );
    }
    this.#next = start;
  }

  /**
   * @returns the next id, greater than every id returned before
   * @throws {RangeDbError} INTERNAL when the ids would exceed 2^53 - 1
   */
  next(): number {
    if (this.#next >= Number.MAX_SAFE_INTEGER) {
      throw new RangeDbError(
        ErrorCode.INTERNAL,
        "Cannot create a request id as the counter is exhausted: reached 2^53 - 1",
      );
    }
    return this.#next++;
  }
}

function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function formatUuid(b: Uint8Array): string {
  const h = toHex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
