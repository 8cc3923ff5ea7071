/**
 * The simulated disk: a MemoryStorage whose snapshot is sometimes "still being prepared", so the
 * leader's retry path for ErrSnapshotTemporarilyUnavailable runs too.
 *
 * @module
 */

import { MemoryStorage, RaftError, type Snapshot } from "../../src/raft/mod.ts";
import type { Rng } from "./rng.ts";

/** A MemoryStorage that refuses `snapshot()` to Raft at a given rate. */
export class SimStorage extends MemoryStorage {
  /** Probability that `snapshot()` throws ErrSnapshotTemporarilyUnavailable. */
  unavailableRate = 0;
  rng: Rng | undefined;

  override snapshot(): Snapshot {
    if (this.rng?.chance(this.unavailableRate)) {
      throw new RaftError(
        "ErrSnapshotTemporarilyUnavailable",
        "Cannot read snapshot as it is being prepared: simulated",
      );
    }
    return super.snapshot();
  }

  /** The last snapshot, for the node itself (never refused). */
  lastSnapshot(): Snapshot {
    return super.snapshot();
  }
}
