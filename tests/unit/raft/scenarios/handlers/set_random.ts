/**
 * `set-random <id> <value>`: the value in [0, 1) the node's injected random source returns from
 * now on; its randomized election timeout becomes electionTick + floor(value * electionTick) at
 * the next reset.
 *
 * @module
 */

import { type Handler, oneId } from "./args.ts";

/** Handles `set-random`. */
export const setRandom: Handler = (env, block) => {
  const value = Number(block.args[1]?.key);
  if (!(value >= 0 && value < 1)) {
    throw new Error(`Cannot set random as it is out of [0, 1): ${block.pos}`);
  }
  env.node(oneId(block)).randomValue = value;
};
