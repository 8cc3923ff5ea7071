/**
 * `stabilize [ids…]`: handles Readies and delivers messages among the given (default: all
 * running) nodes until nothing changes, printing every Ready and every delivered message.
 *
 * @module
 */

import { type Handler, targets } from "./args.ts";

/** Handles `stabilize`. */
export const stabilize: Handler = (env, block) => {
  const ids = targets(env, block);
  for (;;) {
    let done = true;
    for (const id of ids) {
      if (env.nodes.get(id)?.rawNode?.hasReady() !== true) continue;
      done = false;
      env.print(`> ${id} handling Ready`);
      env.indented(() => env.processReady(id));
    }
    // Messages are collected after every node's Ready, so each round sees all senders.
    for (const id of ids) {
      const msgs = env.takeMessages(id);
      if (msgs.length === 0) continue;
      done = false;
      env.print(`> ${id} receiving messages`);
      env.indented(() => env.deliver(msgs));
    }
    if (done) return;
  }
};
