/**
 * Removes HTTP/2 GOAWAY frames from the bytes a client sends to a gRPC server.
 *
 * Why: Deno 2.9's `node:http2` server aborts the whole process inside nghttp2 when a client
 * session that has completed calls sends GOAWAY (an assertion in `find_stream_on_goaway_func`, or
 * a segfault; denoland/deno#36788). Every well-behaved gRPC client sends GOAWAY when it closes
 * its channel, so without this filter any client could crash a node by disconnecting. The
 * filter drops the frame; the client then closes its socket, which the server handles as a plain
 * end of connection. GOAWAY only announces a shutdown, so dropping it loses nothing the server
 * needs: streams still end by their own frames or by the connection closing.
 *
 * The filter is a pure byte-level state machine over the client-to-server direction: the 24-byte
 * connection preface, then frames of a 9-byte header (24-bit length, type, flags, stream id)
 * and a payload.
 *
 * @module
 */

/** HTTP/2 frame type of GOAWAY. */
const GOAWAY = 0x7;
/** Length of the client connection preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"). */
const PREFACE_BYTES = 24;
const HEADER_BYTES = 9;

/**
 * The state of one connection's client-to-server byte stream.
 *
 * @example
 * ```ts
 * import { GoawayFilter } from "./goaway_filter.ts";
 * const filter = new GoawayFilter();
 * const out: Uint8Array[] = [];
 * filter.push(new Uint8Array(24), (part) => out.push(part)); // the preface passes through
 * ```
 */
export class GoawayFilter {
  #prefaceLeft = PREFACE_BYTES;
  readonly #header = new Uint8Array(HEADER_BYTES);
  #headerFill = 0;
  #payloadLeft = 0;
  #dropping = false;
  /** Number of GOAWAY frames removed so far. */
  dropped = 0;

  /**
   * Feeds one chunk; calls `emit` with the parts to pass on, in order (views into `chunk` or
   * small copies of a frame header split across chunks).
   *
   * @param chunk bytes received from the client
   * @param emit receives the bytes to forward to the server
   */
  push(chunk: Uint8Array, emit: (part: Uint8Array) => void): void {
    let i = 0;
    let keepFrom = 0; // start of the pending pass-through run in `chunk`
    const n = chunk.length;
    while (i < n) {
      if (this.#prefaceLeft > 0) {
        const take = Math.min(this.#prefaceLeft, n - i);
        this.#prefaceLeft -= take;
        i += take;
        continue;
      }
      if (this.#payloadLeft > 0) {
        const take = Math.min(this.#payloadLeft, n - i);
        this.#payloadLeft -= take;
        if (this.#dropping) {
          if (keepFrom < i) emit(chunk.subarray(keepFrom, i));
          keepFrom = i + take;
        }
        i += take;
        if (this.#payloadLeft === 0) this.#dropping = false;
        continue;
      }
      // At a frame header, possibly continuing one split across chunks.
      const headerStart = i;
      const take = Math.min(HEADER_BYTES - this.#headerFill, n - i);
      this.#header.set(chunk.subarray(i, i + take), this.#headerFill);
      const startedBefore = this.#headerFill > 0;
      this.#headerFill += take;
      i += take;
      if (this.#headerFill < HEADER_BYTES) {
        // The rest of the header comes with the next chunk: hold these bytes back.
        if (keepFrom < headerStart) emit(chunk.subarray(keepFrom, headerStart));
        keepFrom = n;
        break;
      }
      this.#headerFill = 0;
      const h = this.#header;
      const length = (h[0] << 16) | (h[1] << 8) | h[2];
      const drop = h[3] === GOAWAY;
      if (drop) {
        this.dropped++;
        if (keepFrom < headerStart) emit(chunk.subarray(keepFrom, headerStart));
        keepFrom = i;
      } else if (startedBefore) {
        // The header began in an earlier chunk and was held back: send it whole now.
        if (keepFrom < headerStart) emit(chunk.subarray(keepFrom, headerStart));
        emit(h.slice());
        keepFrom = i;
      }
      this.#payloadLeft = length;
      this.#dropping = drop && length > 0;
    }
    if (keepFrom < n) emit(keepFrom === 0 ? chunk : chunk.subarray(keepFrom, n));
  }
}
