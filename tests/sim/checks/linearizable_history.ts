/**
 * Every client history is linearizable (per key, as a register), checked with the Wing–Gong/Lowe
 * search of tests/harness/linearizability.ts at the end of each run.
 *
 * @module
 */

import { checkLinearizable, type HistoryOp } from "../../harness/linearizability.ts";
import { violation } from "../failure.ts";

/** Operations of the failing key quoted in the failure message. */
const MAX_SHOWN = 40;

/** The outcome when the history is linearizable: proven, or the search ran out of budget. */
export type LinearizableVerdict = "ok" | "unknown";

/**
 * Checks the history; fails with the offending key's operations when it is not linearizable.
 *
 * @returns "unknown" when the search exceeded its budget (neither proven nor refuted)
 */
export function checkHistory(history: readonly HistoryOp[]): LinearizableVerdict {
  const r = checkLinearizable(history);
  if (r.ok === true) return "ok";
  if (r.ok === "unknown") return "unknown";
  // The operations leading up to and overlapping the one the search could not place.
  const at = r.ops.indexOf(r.stuck);
  const from = Math.max(0, at - MAX_SHOWN + 10);
  const shown = r.ops.slice(from, from + MAX_SHOWN).map((h) =>
    `#${h.id} [${h.call},${h.ret ?? "?"}] ${JSON.stringify(h.op)}`
  ).join("\n  ");
  return violation(
    "linearizability",
    `Cannot accept the client history as it is not linearizable: key is ${r.key}, ${r.ops.length} operations, no order places #${r.stuck.id} before it returned; operations ${
      from + 1
    }-${Math.min(from + MAX_SHOWN, r.ops.length)} by call time (id [call,return] op):\n  ${shown}`,
  );
}
