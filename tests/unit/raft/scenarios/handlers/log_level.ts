/**
 * `log-level <debug|info|warn|none>`: which Raft log lines appear in the output.
 *
 * @module
 */

import type { LogLevel } from "../env.ts";
import { type Handler, words } from "./args.ts";

const LEVELS: readonly string[] = ["debug", "info", "warn", "none"];

/** Handles `log-level`. */
export const logLevel: Handler = (env, block) => {
  const level = words(block)[0];
  if (!LEVELS.includes(level)) throw new Error(`Cannot set log level as it is unknown: ${level}`);
  env.logLevel = level as LogLevel;
};
