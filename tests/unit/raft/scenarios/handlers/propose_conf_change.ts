/**
 * `propose-conf-change <id> [v2] [l3] [r4] … [transition=auto|implicit|explicit]`: proposes a
 * membership change; `vN` adds voter N, `lN` adds learner N, `rN` removes N. With no change it
 * proposes the empty change that leaves a joint configuration.
 *
 * @module
 */

import {
  type ConfChange,
  ConfChangeTransition,
  ConfChangeType,
} from "../../../../../src/raft/mod.ts";
import { type Handler, oneId, option, words } from "./args.ts";

const TYPES: Record<string, ConfChangeType> = {
  v: ConfChangeType.AddNode,
  l: ConfChangeType.AddLearnerNode,
  r: ConfChangeType.RemoveNode,
};

const TRANSITIONS: Record<string, ConfChangeTransition> = {
  auto: ConfChangeTransition.Auto,
  implicit: ConfChangeTransition.JointImplicit,
  explicit: ConfChangeTransition.JointExplicit,
};

/** Handles `propose-conf-change`. */
export const proposeConfChange: Handler = (env, block) => {
  const rn = env.raw(oneId(block));
  const changes = words(block).map((w) => {
    const type = TYPES[w[0]];
    const nodeId = Number(w.slice(1));
    if (type === undefined || !(nodeId > 0)) {
      throw new Error(`Cannot parse conf change as the word is unknown: ${w} at ${block.pos}`);
    }
    return { type, nodeId };
  });
  const transition = TRANSITIONS[option(block, "transition")?.[0] ?? "auto"];
  const cc: ConfChange = { transition, changes, context: new Uint8Array(0) };
  env.catchRaftError(() => rn.proposeConfChange(cc));
};
