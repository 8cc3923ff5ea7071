/**
 * `process-ready <id…>`: handles one Ready of each node (persist, send, apply, advance).
 *
 * @module
 */

import { type Handler, numbers } from "./args.ts";

/** Handles `process-ready`. */
export const processReady: Handler = (env, block) => {
  const ids = numbers(block);
  for (const id of ids) {
    if (ids.length === 1) {
      env.processReady(id);
      continue;
    }
    env.print(`> ${id} handling Ready`);
    env.indented(() => env.processReady(id));
  }
};
