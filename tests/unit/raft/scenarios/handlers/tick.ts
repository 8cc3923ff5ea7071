/**
 * `tick-heartbeat <id…>` and `tick-election <id…>`: advance each node's logical time by a
 * heartbeat interval or by an election timeout (electionTick ticks; with the default random
 * value 0 this is exactly the randomized timeout, see `set-random`).
 *
 * @module
 */

import type { ScenarioEnv } from "../env.ts";
import { type Handler, numbers } from "./args.ts";

function tickNode(env: ScenarioEnv, id: number, count: number): void {
  const rn = env.raw(id);
  for (let i = 0; i < count; i++) rn.tick();
}

/** Handles `tick-heartbeat`. */
export const tickHeartbeat: Handler = (env, block) => {
  for (const id of numbers(block)) tickNode(env, id, env.node(id).options.heartbeatTick);
};

/** Handles `tick-election`. */
export const tickElection: Handler = (env, block) => {
  for (const id of numbers(block)) tickNode(env, id, env.node(id).options.electionTick);
};
