/**
 * `propose <id> <data>`: proposes a normal entry (`propose <id>` proposes empty data).
 *
 * @module
 */

import { type Handler, oneId, words } from "./args.ts";

/** Handles `propose`. */
export const propose: Handler = (env, block) => {
  const rn = env.raw(oneId(block));
  const data = new TextEncoder().encode(words(block)[0] ?? "");
  env.catchRaftError(() => rn.propose(data));
};
