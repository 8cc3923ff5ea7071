/**
 * `status <id>`: the leader's view of every follower (`2: StateReplicate match=3 next=4`), with
 * ` learner`, ` pendingSnap=N` and ` inflight=N` when they apply.
 *
 * @module
 */

import { describeStateType, StateType } from "../../../../../src/raft/mod.ts";
import { type Handler, oneId } from "./args.ts";

const STATE_NAMES = { probe: "StateProbe", replicate: "StateReplicate", snapshot: "StateSnapshot" };

/** Handles `status`. */
export const status: Handler = (env, block) => {
  const id = oneId(block);
  const st = env.raw(id).status();
  if (st.softState.raftState !== StateType.Leader || st.progress === undefined) {
    env.print(`${id} is not the leader: ${describeStateType(st.softState.raftState)}`);
    return;
  }
  for (const [peer, pr] of [...st.progress].sort(([a], [b]) => a - b)) {
    let s = `${peer}: ${STATE_NAMES[pr.state]} match=${pr.match} next=${pr.next}`;
    if (pr.isLearner) s += " learner";
    if (pr.pendingSnapshot !== 0) s += ` pendingSnap=${pr.pendingSnapshot}`;
    if (pr.inflight !== 0) s += ` inflight=${pr.inflight}`;
    env.print(s);
  }
};
