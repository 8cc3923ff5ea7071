/**
 * `read-index <id> <ctx>`: requests a linearizable read point; it shows up later as a ReadState.
 *
 * @module
 */

import { type Handler, oneId, words } from "./args.ts";

/** Handles `read-index`. */
export const readIndex: Handler = (env, block) => {
  const rn = env.raw(oneId(block));
  const ctx = new TextEncoder().encode(words(block)[0] ?? "");
  env.catchRaftError(() => rn.readIndex(ctx));
};
