/**
 * Memory for the keys and values of the rows of one read. The engine lends a scan views that
 * are valid for one step only, so every row copies its bytes; a `new Uint8Array(n)` of more than
 * a few dozen bytes allocates a backing store outside the JS heap, which cost more than the rest
 * of a row. The arena carves the copies out of shared chunks instead. Chunks start small and
 * double, so a short read pins little memory; one retained row pins its whole chunk, which is
 * freed once no row of it remains.
 *
 * @module
 */

/** Bytes of the first chunk. */
const FIRST_CHUNK_BYTES = 4 * 1024;

/** Chunks stop doubling at this size. */
const MAX_CHUNK_BYTES = 64 * 1024;

/**
 * Copies larger than this get their own allocation rather than wasting much of a chunk (it is at
 * most a quarter of any chunk).
 */
const LARGEST_CARVED = FIRST_CHUNK_BYTES / 4;

/** Copies up to this many bytes byte by byte. */
const SHORT_COPY = 32;

/** Hands out copies carved out of chunks shared by the rows of one read. */
export class RowArena {
  #chunk = new Uint8Array(0);
  #used = 0;
  #nextChunkBytes = FIRST_CHUNK_BYTES;

  /**
   * Copies `source[from:to]`.
   *
   * @param source bytes, possibly a borrowed view
   * @param from the first byte to copy
   * @param to the byte past the last one
   * @returns a copy that no other copy overlaps
   */
  copy(source: Uint8Array, from: number, to: number): Uint8Array {
    const n = to - from;
    if (n > this.#chunk.length - this.#used) {
      if (n > LARGEST_CARVED) return source.slice(from, to);
      this.#chunk = new Uint8Array(this.#nextChunkBytes);
      this.#nextChunkBytes = Math.min(this.#nextChunkBytes * 2, MAX_CHUNK_BYTES);
      this.#used = 0;
    }
    const chunk = this.#chunk;
    const at = this.#used;
    // A loop beats creating the subarray that `set` needs only for a few bytes.
    if (n <= SHORT_COPY) { for (let i = 0; i < n; i++) chunk[at + i] = source[from + i]; }
    else chunk.set(source.subarray(from, to), at);
    this.#used = at + n;
    return new Uint8Array(chunk.buffer, at, n);
  }
}
