/**
 * `crash <id>` and `restart <id> [prevote=true] [checkquorum=true]`: a crashed node loses its
 * volatile state and the messages in flight to it, and receives nothing; a restarted node is rebuilt from what its storage
 * persisted (applied = snapshot index, so committed entries after it are applied again),
 * optionally with PreVote/CheckQuorum switched (a rolling configuration upgrade).
 *
 * @module
 */

import { describeMessage } from "../../../../../src/raft/mod.ts";
import { boolOption, type Handler, oneId } from "./args.ts";

/** Handles `crash`: messages in flight to the node are lost with its volatile state. */
export const crash: Handler = (env, block) => {
  const id = oneId(block);
  env.node(id).rawNode = undefined;
  for (const m of env.takeMessages(id)) env.print(`dropped: ${describeMessage(m)}`);
};

/** Handles `restart`. */
export const restart: Handler = (env, block) => {
  const n = env.node(oneId(block));
  n.options = {
    ...n.options,
    preVote: boolOption(block, "prevote", n.options.preVote ?? false),
    checkQuorum: boolOption(block, "checkquorum", n.options.checkQuorum ?? false),
  };
  env.start(n);
};
