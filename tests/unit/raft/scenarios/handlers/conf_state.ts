/**
 * `conf-state <id>`: the membership the node currently uses (after the conf changes it applied).
 *
 * @module
 */

import { describeConfState } from "../../../../../src/raft/mod.ts";
import { type Handler, oneId } from "./args.ts";

/** Handles `conf-state`. */
export const confState: Handler = (env, block) => {
  env.print(describeConfState(env.raw(oneId(block)).status().config));
};
