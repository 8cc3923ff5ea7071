/**
 * `compact <id> <index>`: snapshots the node's state at `index` (which must be applied) and
 * discards its log up to there, then prints the remaining log.
 *
 * @module
 */

import { type Handler, numbers } from "./args.ts";
import { raftLog } from "./raft_log.ts";

/** Handles `compact`. */
export const compact: Handler = (env, block) => {
  const [id, index] = numbers(block);
  const n = env.node(id);
  const applied = env.raw(id).status().applied;
  if (index > applied) {
    throw new Error(
      `Cannot compact as the index is not applied: index is ${index}, applied is ${applied}`,
    );
  }
  n.storage.createSnapshot(index, n.confState, new TextEncoder().encode(`snap@${index}`));
  n.storage.compact(index);
  raftLog(env, { ...block, args: [{ key: `${id}`, vals: [] }] });
};
