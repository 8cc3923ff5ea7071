/**
 * Argument accessors shared by the command handlers.
 *
 * @module
 */

import type { ScenarioBlock } from "../datadriven.ts";
import type { ScenarioEnv } from "../env.ts";

/** A command handler: acts on the env and prints its output there. */
export type Handler = (env: ScenarioEnv, block: ScenarioBlock) => void;

/** The bare words of a command line that are numbers (node ids, counts), in order. */
export function numbers(block: ScenarioBlock): number[] {
  return block.args.filter((a) => a.vals.length === 0 && /^\d+$/.test(a.key)).map((a) =>
    Number(a.key)
  );
}

/** The bare words of a command line that are not numbers, in order. */
export function words(block: ScenarioBlock): string[] {
  return block.args.filter((a) => a.vals.length === 0 && a.key !== "" && !/^\d+$/.test(a.key))
    .map((a) => a.key);
}

/** The bare groups `(1,2)` of a command line, as numbers. */
export function groups(block: ScenarioBlock): number[][] {
  return block.args.filter((a) => a.key === "").map((a) => a.vals.map(Number));
}

/** The values of `key=…`, or undefined when absent. */
export function option(block: ScenarioBlock, key: string): string[] | undefined {
  return block.args.find((a) => a.key === key && a.vals.length > 0)?.vals;
}

/** The single value of `key=…` as a number, or `dflt` when absent. */
export function numberOption(block: ScenarioBlock, key: string, dflt: number): number {
  const v = option(block, key);
  if (v === undefined) return dflt;
  const n = Number(v[0]);
  if (v.length !== 1 || Number.isNaN(n)) {
    throw new Error(`Cannot parse argument as it is not a number: ${key}=${v.join(",")}`);
  }
  return n;
}

/** The single value of `key=true|false`, or `dflt` when absent. */
export function boolOption(block: ScenarioBlock, key: string, dflt: boolean): boolean {
  const v = option(block, key);
  return v === undefined ? dflt : v[0] === "true";
}

/** The node ids a command targets: its numeric bare words, or every running node when none. */
export function targets(env: ScenarioEnv, block: ScenarioBlock): number[] {
  const ids = numbers(block);
  return ids.length > 0 ? ids : env.runningIds();
}

/** The one node id a command needs. @throws {Error} when not exactly one is given */
export function oneId(block: ScenarioBlock): number {
  const ids = numbers(block);
  if (ids.length !== 1) {
    throw new Error(`Cannot run ${block.cmd} as it needs exactly one node id: ${block.pos}`);
  }
  return ids[0];
}
