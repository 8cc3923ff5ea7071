/**
 * Cluster formation on disk: every initial member writes range 1's initial Raft state itself (a
 * snapshot at index 1, term 1 with every initial member a voter, and the same applied state), so
 * the members agree without talking (docs/design/0007).
 *
 * @module
 */

import type { Engine } from "../storage/mod.ts";
import { encodeAppliedState, newAppliedState, newDescriptor } from "./command.ts";
import { raftStateKey, RaftStateKind } from "./keys.ts";
import { encodeHardState, encodeTruncatedState } from "./raft_log_codec.ts";

/** The range that covers the whole key space at formation. */
export const FIRST_RANGE_ID = 1;

/**
 * Whether the engine holds the Raft state of any range.
 *
 * @param engine the node's engine
 * @returns true when some range's raft state exists
 */
export function hasClusterState(engine: Engine): boolean {
  for (const _ of engine.scan("raft_state", { limit: 1 })) return true;
  return false;
}

/**
 * Writes range 1's initial Raft state when the engine has none (else does nothing): an empty
 * log behind a snapshot at index 1, term 1; hard state term 1, commit 1; applied state at index
 * 1 whose descriptor covers the whole key space with `init.voters` as replicas.
 *
 * @param engine the node's engine
 * @param init the initial voters (node ids)
 * @example
 * ```ts ignore
 * await bootstrapCluster(engine, { voters: [1, 2, 3] });
 * ```
 */
export async function bootstrapCluster(
  engine: Engine,
  init: { voters: number[] },
): Promise<void> {
  if (hasClusterState(engine)) return;
  const range = FIRST_RANGE_ID;
  const applied = newAppliedState({
    appliedIndex: 1n,
    appliedTerm: 1n,
    nextNodeId: BigInt(Math.max(...init.voters) + 1),
    descriptor: newDescriptor({
      rangeId: range,
      start: new Uint8Array(0),
      end: new Uint8Array(0),
      generation: 1,
      voters: init.voters,
    }),
  });
  const batch = engine.batch();
  batch.put(
    "raft_state",
    raftStateKey(range, RaftStateKind.HardState),
    encodeHardState({ term: 1, vote: 0, commit: 1 }),
  );
  batch.put(
    "raft_state",
    raftStateKey(range, RaftStateKind.TruncatedState),
    encodeTruncatedState({ index: 1, term: 1 }),
  );
  batch.put(
    "raft_state",
    raftStateKey(range, RaftStateKind.AppliedState),
    encodeAppliedState(applied),
  );
  await engine.write(batch, { sync: true });
}
