/**
 * Apply order: a node is handed committed entries in index order with no gap and no repeat after
 * its applied index (or after the snapshot it just installed).
 *
 * @module
 */

import type { NodeId } from "../../../src/raft/mod.ts";
import { violation } from "../failure.ts";

/** Checks that `index` directly follows `applied` on `node`. */
export function checkApplyOrder(node: NodeId, applied: number, index: number): void {
  if (index !== applied + 1) {
    violation(
      "apply_order",
      `Cannot apply an entry out of order as entries apply one by one: node is ${node}, applied is ${applied}, entry index is ${index}`,
    );
  }
}
