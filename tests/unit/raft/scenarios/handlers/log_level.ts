/**
 * `log-level <debug|info|warn|none>`: which Raft log lines appear in the output.
 *
 * @module
 */

import { LEVELS, type LogLevel } from "../env.ts";
import { type Handler, words } from "./args.ts";

/** Handles `log-level`. */
export const logLevel: Handler = (env, block) => {
  const level = words(block)[0];
  if (!Object.hasOwn(LEVELS, level)) {
    throw new Error(`Cannot set log level as it is unknown: ${level}`);
  }
  env.logLevel = level as LogLevel;
};
