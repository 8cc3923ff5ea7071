/**
 * Committed entries are never lost or changed: every entry any node reported committed is
 * recorded by index; a different entry reported committed at that index later fails, and so does
 * a leader whose log misses a committed entry it must hold.
 *
 * Leader completeness only binds leaders of later terms than the commit decision. The decision's
 * term is at most the term of the node that reported the commit, so an entry is demanded of a
 * leader of term T only when some node reported it committed while at a term below T.
 *
 * @module
 */

import type { Entry, MemoryStorage, NodeId } from "../../../src/raft/mod.ts";
import { violation } from "../failure.ts";
import { entryFingerprint } from "./entry_fingerprint.ts";

interface Committed {
  term: number;
  fingerprint: number;
  /** Lowest term of a node that reported this entry committed. */
  reportTerm: number;
  node: NodeId;
}

/** Records every committed entry and checks later reports and new leaders against them. */
export class CommittedEntriesCheck {
  static readonly NAME = "committed_entries";
  private readonly committed = new Map<number, Committed>();
  /** Highest index ever reported committed. */
  maxIndex = 0;

  /** `node`, at term `nodeTerm`, handed out `e` as committed. */
  onCommitted(node: NodeId, e: Entry, nodeTerm: number): void {
    const fp = entryFingerprint(e);
    const prev = this.committed.get(e.index);
    if (prev === undefined) {
      this.committed.set(e.index, { term: e.term, fingerprint: fp, reportTerm: nodeTerm, node });
      if (e.index > this.maxIndex) this.maxIndex = e.index;
      return;
    }
    if (prev.term !== e.term || prev.fingerprint !== fp) {
      violation(
        CommittedEntriesCheck.NAME,
        `Cannot commit a different entry at a committed index as commits are final: index is ${e.index}, node ${prev.node} committed term ${prev.term}, node ${node} committed term ${e.term}`,
      );
    }
    if (nodeTerm < prev.reportTerm) prev.reportTerm = nodeTerm;
  }

  /** `node` just became leader of `term`; its persisted log is `storage`. */
  onLeader(node: NodeId, term: number, storage: MemoryStorage): void {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    for (let i = first; i <= this.maxIndex; i++) {
      const c = this.committed.get(i);
      if (c === undefined || c.reportTerm >= term) continue;
      const missing = (facts: string) =>
        violation(
          CommittedEntriesCheck.NAME,
          `Cannot lead without every committed entry as leaders must be complete: leader is ${node}, term is ${term}, index is ${i}, ${facts}`,
        );
      if (i > last) missing(`log ends at ${last}`);
      const e = storage.entries(i, i + 1, Infinity)[0];
      if (e.term !== c.term || entryFingerprint(e) !== c.fingerprint) {
        missing(`log has term ${e.term}, committed was term ${c.term} on node ${c.node}`);
      }
    }
  }
}
