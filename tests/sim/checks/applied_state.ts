/**
 * State machine safety: replicas that applied the same index hold identical state.
 *
 * @module
 */

import type { NodeId } from "../../../src/raft/mod.ts";
import { violation } from "../failure.ts";

/** Remembers the state digest at every applied index and fails on a different one. */
export class AppliedStateCheck {
  static readonly NAME = "applied_state";
  private readonly digests = new Map<number, { digest: number; node: NodeId }>();

  /** `node` reached applied index `index` with state digest `digest`. */
  onApplied(node: NodeId, index: number, digest: number): void {
    const prev = this.digests.get(index);
    if (prev === undefined) this.digests.set(index, { digest, node });
    else if (prev.digest !== digest) {
      violation(
        AppliedStateCheck.NAME,
        `Cannot diverge at one applied index as replicas must agree: index is ${index}, node ${prev.node} has digest ${prev.digest}, node ${node} has ${digest}`,
      );
    }
  }
}
