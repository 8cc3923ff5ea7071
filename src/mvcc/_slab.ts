/**
 * Small byte arrays carved out of shared chunks. A `new Uint8Array(n)` of more than a few dozen
 * bytes allocates a backing store outside the JS heap, which dominates the cost of building a
 * batch of keys and values; a view into a chunk does not. A chunk is never reused: it is freed
 * once no view into it remains (so one retained view pins its whole chunk; views here live only
 * as long as their engine batch).
 *
 * @module
 */

/** Bytes of one chunk. */
const CHUNK_BYTES = 64 * 1024;

/** Arrays larger than this get their own allocation rather than wasting most of a chunk. */
const LARGEST_CARVED = CHUNK_BYTES / 8;

/** Hands out zero-filled views into shared chunks. */
export class Slab {
  #chunk = new Uint8Array(0);
  #used = 0;

  /**
   * @param n bytes wanted
   * @returns a zero-filled array of `n` bytes
   */
  alloc(n: number): Uint8Array {
    if (n > this.#chunk.length - this.#used) {
      if (n > LARGEST_CARVED) return new Uint8Array(n);
      this.#chunk = new Uint8Array(CHUNK_BYTES);
      this.#used = 0;
    }
    const out = this.#chunk.subarray(this.#used, this.#used + n);
    this.#used += n;
    return out;
  }
}
