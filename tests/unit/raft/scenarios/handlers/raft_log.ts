/**
 * `raft-log <id>`: the entries in the node's storage (what it has persisted).
 *
 * @module
 */

import { describeEntry } from "../../../../../src/raft/mod.ts";
import { type Handler, oneId } from "./args.ts";

/** Handles `raft-log`. */
export const raftLog: Handler = (env, block) => {
  const s = env.node(oneId(block)).storage;
  const first = s.firstIndex();
  const last = s.lastIndex();
  if (last < first) {
    env.print(`log is empty: first index=${first}, last index=${last}`);
    return;
  }
  for (const e of s.entries(first, last + 1, Infinity)) env.print(describeEntry(e));
};
