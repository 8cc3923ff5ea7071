/**
 * `campaign <id>`: the node starts an election now (a PreVote first when configured).
 *
 * @module
 */

import { type Handler, oneId } from "./args.ts";

/** Handles `campaign`. */
export const campaign: Handler = (env, block) => {
  const rn = env.raw(oneId(block));
  env.catchRaftError(() => rn.campaign());
};
