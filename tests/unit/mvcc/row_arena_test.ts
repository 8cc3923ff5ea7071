import assert from "node:assert/strict";
import { RowArena } from "../../../src/mvcc/_row_arena.ts";

/** Bytes 0, 1, 2, … (mod 251) of length `n`, offset by `seed`. */
function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i + seed) % 251);
}

Deno.test("RowArena.copy() returns independent copies of every size across chunks", () => {
  const arena = new RowArena();
  // Sizes below and above the byte-by-byte limit and the own-allocation limit, many times over
  // so that copies fill and straddle several chunks.
  const sizes = [0, 1, 5, 32, 33, 100, 1024, 1025, 5000];
  const sources: Uint8Array[] = [];
  const copies: Uint8Array[] = [];
  for (let round = 0; round < 40; round++) {
    for (const n of sizes) {
      const source = bytes(n + 6, round + n);
      sources.push(source.subarray(3, n + 3));
      copies.push(arena.copy(source, 3, n + 3));
    }
  }
  const expected = sources.map((source) => source.slice());
  copies.forEach((copy, i) => assert.deepEqual(copy, expected[i]));
  // Overlapping copies would overwrite each other's distinct fill.
  copies.forEach((copy, i) => copy.fill(i % 256));
  copies.forEach((copy, i) => assert.ok(copy.every((b) => b === i % 256), `copy ${i}`));
  sources.forEach((source, i) => assert.deepEqual(source, expected[i], `source ${i}`));
});
