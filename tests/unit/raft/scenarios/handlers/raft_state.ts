/**
 * `raft-state`: one line per node, `1: StateLeader (Voter) Term:2 Lead:1 Commit:5`.
 *
 * @module
 */

import { describeStateType } from "../../../../../src/raft/mod.ts";
import type { Handler } from "./args.ts";

/** Handles `raft-state`. */
export const raftState: Handler = (env) => {
  for (const id of [...env.nodes.keys()].sort((a, b) => a - b)) {
    const rn = env.node(id).rawNode;
    if (rn === undefined) {
      env.print(`${id}: crashed`);
      continue;
    }
    const st = rn.status();
    const role = st.config.voters.includes(id) || st.config.votersOutgoing.includes(id)
      ? "Voter"
      : st.config.learners.includes(id)
      ? "Learner"
      : "Non-Voter";
    env.print(
      `${id}: ${describeStateType(st.softState.raftState)} (${role}) Term:${st.hardState.term} ` +
        `Lead:${st.softState.lead} Commit:${st.hardState.commit}`,
    );
  }
};
