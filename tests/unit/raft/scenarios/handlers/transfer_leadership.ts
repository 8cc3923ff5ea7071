/**
 * `transfer-leadership from=<id> to=<id>`: asks the leader to hand leadership over.
 *
 * @module
 */

import { type Handler, numberOption } from "./args.ts";

/** Handles `transfer-leadership`. */
export const transferLeadership: Handler = (env, block) => {
  const rn = env.raw(numberOption(block, "from", 0));
  const to = numberOption(block, "to", 0);
  env.catchRaftError(() => rn.transferLeader(to));
};
