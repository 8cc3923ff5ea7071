/**
 * Versions: a commit {@linkcode Timestamp} packed into one unsigned 64-bit integer,
 * `wallMs << 16 | logical`, so that versions compare as numbers. This is the form of versions in
 * the client API, in commands and in the range's applied state.
 *
 * @module
 */

import type { Timestamp } from "../base/key_encoding.ts";

/**
 * Packs a timestamp into a version.
 *
 * @param ts the timestamp
 * @returns `wallMs << 16 | logical`
 * @example
 * ```ts
 * import { versionOf } from "./version.ts";
 * versionOf({ wallMs: 1, logical: 2 }); // 65538n
 * ```
 */
export function versionOf(ts: Timestamp): bigint {
  return (BigInt(ts.wallMs) << 16n) | BigInt(ts.logical);
}

/**
 * Unpacks a version into its timestamp.
 *
 * @param version a version from {@linkcode versionOf}
 * @returns the timestamp
 * @example
 * ```ts
 * import { timestampOf } from "./version.ts";
 * timestampOf(65538n); // { wallMs: 1, logical: 2 }
 * ```
 */
export function timestampOf(version: bigint): Timestamp {
  return { wallMs: Number(version >> 16n), logical: Number(version & 0xffffn) };
}

/** The wall-clock milliseconds of a version. */
export function wallMsOf(version: bigint): number {
  return Number(version >> 16n);
}
