/**
 * How the SDK turns the keys and values callers pass into bytes and back: strings are UTF-8,
 * `Uint8Array`s pass through unchanged.
 *
 * @module
 */

/** A key: a UTF-8 string or raw bytes. User keys start with `/`. */
export type Key = string | Uint8Array;
/** A value: a UTF-8 string or raw bytes. */
export type Value = string | Uint8Array;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The bytes of a key or value.
 *
 * @param data a string (encoded as UTF-8) or bytes (returned as is)
 * @returns the bytes
 *
 * @example
 * ```ts
 * import { toBytes } from "./client_codec.ts";
 * toBytes("/a"); // Uint8Array [47, 97]
 * ```
 */
export function toBytes(data: Key | Value): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/**
 * Decodes bytes as UTF-8, replacing malformed sequences with U+FFFD.
 *
 * @param bytes the bytes
 * @returns the text
 */
export function toText(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/**
 * The bytes of an optional range bound: null, undefined and "" all mean "unbounded" (empty).
 *
 * @param bound the bound
 * @returns the bytes, empty when unbounded
 */
export function boundBytes(bound: Key | null | undefined): Uint8Array {
  return bound === null || bound === undefined ? new Uint8Array() : toBytes(bound);
}
