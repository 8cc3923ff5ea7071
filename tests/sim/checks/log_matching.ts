/**
 * Log matching over persisted logs: two logs holding an entry with the same index and term hold
 * the same entry and the same prefix. Checked incrementally: every persisted entry is recorded
 * under (index, term) with its content fingerprint and the term of its predecessor; by induction
 * on the index, equal predecessors' terms at every (index, term) make the prefixes equal.
 *
 * @module
 */

import type { Entry, MemoryStorage, NodeId } from "../../../src/raft/mod.ts";
import { violation } from "../failure.ts";
import { entryFingerprint } from "./entry_fingerprint.ts";

interface Seen {
  fingerprint: number;
  prevTerm: number;
  node: NodeId;
}

/** Records every (index, term) ever persisted and fails on a mismatch. */
export class LogMatchingCheck {
  static readonly NAME = "log_matching";
  private readonly seen = new Map<string, Seen>();

  /** `entries` were just appended to `storage`, the disk of `node`. */
  onPersisted(node: NodeId, entries: readonly Entry[], storage: MemoryStorage): void {
    const first = storage.firstIndex();
    for (const e of entries) {
      if (e.index < first) continue;
      const key = `${e.index}:${e.term}`;
      const now: Seen = {
        fingerprint: entryFingerprint(e),
        prevTerm: storage.term(e.index - 1),
        node,
      };
      const prev = this.seen.get(key);
      if (prev === undefined) {
        this.seen.set(key, now);
        continue;
      }
      if (prev.fingerprint !== now.fingerprint) {
        violation(
          LogMatchingCheck.NAME,
          `Cannot hold two different entries at one index and term as logs must match: index is ${e.index}, term is ${e.term}, nodes are ${prev.node} and ${node}`,
        );
      }
      if (prev.prevTerm !== now.prevTerm) {
        violation(
          LogMatchingCheck.NAME,
          `Cannot hold different prefixes before one index and term as logs must match: index is ${e.index}, term is ${e.term}, previous terms are ${prev.prevTerm} on node ${prev.node} and ${now.prevTerm} on node ${node}`,
        );
      }
    }
  }
}
