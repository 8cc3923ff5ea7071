/**
 * `isolate <id>`, `partition (1,2) (3,4,5)` and `heal`: cut or restore links. Messages over a
 * cut link are dropped (and printed as such) when they would be delivered.
 *
 * @module
 */

import { groups, type Handler, oneId } from "./args.ts";

/** Handles `isolate`: cuts every link of one node. */
export const isolate: Handler = (env, block) => {
  const id = oneId(block);
  for (const other of env.nodes.keys()) if (other !== id) env.setLink(id, other, true);
};

/** Handles `partition`: cuts every link between nodes of different groups. */
export const partition: Handler = (env, block) => {
  const gs = groups(block);
  for (let i = 0; i < gs.length; i++) {
    for (let j = i + 1; j < gs.length; j++) {
      for (const a of gs[i]) for (const b of gs[j]) env.setLink(a, b, true);
    }
  }
};

/** Handles `heal`: restores every link. */
export const heal: Handler = (env) => {
  env.cuts.clear();
};
