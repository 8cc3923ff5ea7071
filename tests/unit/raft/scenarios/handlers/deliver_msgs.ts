/**
 * `deliver-msgs <id…> [type=MsgApp] [drop=true]`: delivers (or drops) the queued messages to the
 * given nodes, optionally only those of one type, without handling any Ready.
 *
 * @module
 */

import { describeMessage } from "../../../../../src/raft/mod.ts";
import { boolOption, type Handler, numbers, option } from "./args.ts";

/** Handles `deliver-msgs`. */
export const deliverMsgs: Handler = (env, block) => {
  const type = option(block, "type")?.[0];
  const drop = boolOption(block, "drop", false);
  for (const id of numbers(block)) {
    const msgs = env.takeMessages(id, type);
    if (drop) { for (const m of msgs) env.print(`dropped: ${describeMessage(m)}`); }
    else env.deliver(msgs);
  }
};
