/**
 * A 32-bit fingerprint of a log entry's content (type and data), so checkers can remember every
 * entry they saw without keeping the bytes.
 *
 * @module
 */

import type { Entry } from "../../../src/raft/mod.ts";

/** FNV-1a over the entry type and data bytes. */
export function entryFingerprint(e: Entry): number {
  let h = Math.imul(0x811c9dc5 ^ e.type, 0x01000193);
  const d = e.data;
  for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i], 0x01000193);
  return h >>> 0;
}
