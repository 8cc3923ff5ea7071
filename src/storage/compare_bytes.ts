/**
 * Unsigned lexicographic byte order, the order of every keyspace (see {@link ./engine.ts}).
 *
 * @module
 */

/**
 * Compares two byte strings as unsigned bytes, lexicographically; a proper prefix sorts first.
 *
 * @param a the first key
 * @param b the second key
 * @returns a negative number when a < b, 0 when equal, a positive number when a > b
 *
 * @example
 * ```ts
 * import { compareBytes } from "./compare_bytes.ts";
 * compareBytes(new Uint8Array([0x7f]), new Uint8Array([0x80])); // < 0
 * compareBytes(new Uint8Array([1]), new Uint8Array([1, 0])); // < 0
 * ```
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
