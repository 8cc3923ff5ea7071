/**
 * Sizes of log entries, as used by every byte limit of the library (messages, inflight window,
 * uncommitted log, committed entries per Ready): the size of an entry is the byte length of its
 * data, so an empty entry (a new leader's no-op, an empty proposal) weighs nothing.
 *
 * @module
 */

import type { Entry } from "./types.ts";

/** The bytes an entry counts for in every size limit: its data length. */
export function entrySize(e: Entry): number {
  return e.data.byteLength;
}

/** The summed {@linkcode entrySize} of `ents`. */
export function entriesSize(ents: readonly Entry[]): number {
  let n = 0;
  for (let i = 0; i < ents.length; i++) n += entrySize(ents[i]);
  return n;
}

/**
 * The longest prefix of `ents` whose size stays within `maxSize`, but never less than one entry
 * (so a single large entry still makes progress). Returns `ents` itself when nothing is cut.
 */
export function limitSize(ents: Entry[], maxSize: number): Entry[] {
  if (ents.length <= 1 || maxSize === Infinity) return ents;
  let size = entrySize(ents[0]);
  for (let i = 1; i < ents.length; i++) {
    size += entrySize(ents[i]);
    if (size > maxSize) return ents.slice(0, i);
  }
  return ents;
}
