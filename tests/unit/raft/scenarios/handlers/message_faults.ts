/**
 * Message faults on the queue: `stash-msgs <id> [type=MsgSnap]` holds back the queued messages to
 * a node, `release-msgs <id>` puts the held messages back at the end of the queue (so they arrive
 * after newer ones: delay and reordering), and `duplicate-msgs <id> [type=MsgSnap]` holds back a
 * copy of each queued message to a node, to be delivered late by `release-msgs`.
 *
 * @module
 */

import { describeMessage, describeMessageType } from "../../../../../src/raft/mod.ts";
import { type Handler, numbers, option } from "./args.ts";

/** Handles `stash-msgs`. */
export const stashMsgs: Handler = (env, block) => {
  for (const id of numbers(block)) {
    const msgs = env.takeMessages(id, option(block, "type")?.[0]);
    for (const m of msgs) env.print(`stashed: ${describeMessage(m)}`);
    env.stashed.push(...msgs);
  }
};

/** Handles `release-msgs`. */
export const releaseMsgs: Handler = (env, block) => {
  for (const id of numbers(block)) {
    const msgs = env.stashed.filter((m) => m.to === id);
    env.stashed = env.stashed.filter((m) => m.to !== id);
    for (const m of msgs) env.print(`released: ${describeMessage(m)}`);
    env.messages.push(...msgs);
  }
};

/** Handles `duplicate-msgs`. */
export const duplicateMsgs: Handler = (env, block) => {
  for (const id of numbers(block)) {
    const type = option(block, "type")?.[0];
    const copies = env.messages.filter((m) =>
      m.to === id && (type === undefined || describeMessageType(m.type) === type)
    ).map((m) => structuredClone(m));
    for (const m of copies) env.print(`duplicated: ${describeMessage(m)}`);
    env.stashed.push(...copies);
  }
};
