/**
 * The checks of a settled cluster at the end of a run (after the heal, every node up, every key
 * read once): the range layout (`layout.ts`), each range's replicas (`replicas.ts`), no intent
 * left, and the bank: each client's accounts still hold its total, none negative.
 *
 * @module
 */

import { violation } from "../../failure.ts";
import type { BankClient } from "../bank.ts";
import type { SimCluster } from "../cluster.ts";
import {
  liveDescriptors,
  metaProblem,
  overlapOnANode,
  replicasByRange,
  tilingProblem,
} from "./layout.ts";
import { checkNoIntents, checkRangeReplicas } from "./replicas.ts";

/** The checker's names in failures. */
export const LAYOUT_CHECK = "range_layout";
export const BANK_CHECK = "bank";

/** Runs every end-state check; throws the first violation. */
export function checkEndState(
  cluster: SimCluster,
  banks: readonly BankClient[],
  finalValues: ReadonlyMap<string, string | null>,
): void {
  const byRange = replicasByRange(cluster);
  const live = liveDescriptors(byRange);
  const layout = overlapOnANode(cluster) ?? tilingProblem(cluster, live) ??
    metaProblem(cluster, live);
  if (layout !== undefined) violation(LAYOUT_CHECK, `Cannot accept the range layout: ${layout}`);
  for (const [rangeId, held] of byRange) checkRangeReplicas(cluster, rangeId, held);
  checkNoIntents(cluster);
  for (const b of banks) checkBank(b, finalValues);
}

function checkBank(b: BankClient, finalValues: ReadonlyMap<string, string | null>): void {
  const values = b.accounts.map((a) => finalValues.get(a.key) ?? null);
  // The opening deposit may not have applied when its outcome was never learned.
  if (!b.opened && values.every((v) => v === null)) return;
  const balances = values.map(Number);
  const shown = b.accounts.map((a, i) => `${a.key}=${values[i]}`).join(" ");
  if (values.some((v) => v === null) || balances.some((x) => !Number.isInteger(x) || x < 0)) {
    violation(BANK_CHECK, `Cannot accept bank client ${b.id}'s accounts at the end: ${shown}`);
  }
  const sum = balances.reduce((s, x) => s + x, 0);
  if (sum !== b.total) {
    violation(
      BANK_CHECK,
      `Cannot accept bank client ${b.id}'s accounts as their total is ${sum}, not ${b.total}: ${shown}`,
    );
  }
}
