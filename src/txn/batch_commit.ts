/**
 * {@linkcode commitBatch}: an atomic batch over several ranges, as a two-phase commit
 * (docs/design/0009). Transactions will build on the same commands.
 *
 * 1. With a request id: `CheckBatch` on the primary key's range answers a retried request whose
 *    first attempt committed, from its stored result.
 * 2. `PrepareBatch` on every range involved (in parallel): an intent on each key.
 * 3. `CommitBatch` on the primary key's range: the decision, and the request's dedupe record.
 * 4. `ResolveIntents` on every range (in parallel), then `ForgetBatch`.
 * The batch is acknowledged after step 4; a reader that meets an intent before then waits for it
 * and, past the intent's TTL, settles the batch itself through the decision record.
 *
 * An attempt that meets another batch's intent, a moved range or an unknown outcome before the
 * decision aborts itself (`AbortBatch`, whose record tells readers of its intents) and starts over
 * with a new batch id after a short random pause, until the deadline.
 *
 * @module
 */

import type { Clock } from "../base/clock.ts";
import { ErrorCode, isRangeDbError, RangeDbError } from "../base/errors.ts";
import { cryptoRandomBytes, type RandomBytes, uuidV4 } from "../base/ids.ts";
import type { Logger } from "../base/logger.ts";
import { decodeIntent } from "../mvcc/mod.ts";
import type { IntentResolver } from "../kv/intent_resolver.ts";
import type { RangeInfo, WriteOp } from "../kv/kv_store.ts";
import type { RangeCommands } from "../kv/range_commands.ts";

/** How long an intent protects a batch from readers before they may settle it. */
export const BATCH_TTL_MS = 5000;

/** What the coordinator needs. */
export interface BatchCommitDeps {
  commands: RangeCommands;
  resolver: IntentResolver;
  clock: Clock;
  logger: Logger;
  /** The range holding `key` as this node knows it. */
  lookup(key: Uint8Array): RangeInfo;
  /** A timestamp from the timestamp oracle: the commit version is at least that. */
  timestamp(deadline: number): Promise<bigint>;
  /** Random in [0, 1) for backoff. @default Math.random */
  random?: () => number;
  /** Random bytes of the batch ids (the simulation seeds them). @default cryptoRandomBytes */
  randomBytes?: RandomBytes;
}

interface Group {
  rangeId: number;
  ops: WriteOp[];
}

/** Groups ops by the range holding each key, in the order ranges first appear. */
export function groupByRange(ops: WriteOp[], lookup: (key: Uint8Array) => RangeInfo): Group[] {
  const groups = new Map<number, Group>();
  for (const op of ops) {
    const id = lookup(op.key).rangeId;
    let g = groups.get(id);
    if (g === undefined) groups.set(id, g = { rangeId: id, ops: [] });
    g.ops.push(op);
  }
  return [...groups.values()];
}

function opsOf(g: Group) {
  return g.ops.map((op) =>
    op.type === "put"
      ? { key: op.key, value: op.value, delete: false }
      : { key: op.key, delete: true }
  );
}

/**
 * Commits `ops` (spanning more than one range) atomically.
 *
 * @param deps the node's services
 * @param ops the writes (their keys are distinct ranges' keys; at least one op)
 * @param options deadline and the client's request id (makes retries idempotent)
 * @returns the commit version
 * @throws {RangeDbError} UNAVAILABLE/TIMEOUT when no attempt committed before the deadline
 *   (`details.ambiguous` when the last attempt's decision is unknown)
 */
export async function commitBatch(
  deps: BatchCommitDeps,
  ops: WriteOp[],
  options: { deadline: number; requestId?: string },
): Promise<{ version: bigint }> {
  const primaryKey = ops[0].key;
  const { deadline, requestId = "" } = options;
  if (requestId !== "") {
    const seen = await deps.commands.propose(
      primaryKey,
      {
        case: "checkBatch",
        value: { primaryKey },
      },
      deadline,
      0n,
      requestId,
    );
    if (seen.succeeded) return { version: seen.lastVersion };
  }
  let lastError: unknown;
  for (let attempt = 0;; attempt++) {
    if (attempt > 0) {
      const ms = Math.floor(5 + (deps.random ?? Math.random)() * Math.min(200, 10 * 2 ** attempt));
      if (deps.clock.now() + ms >= deadline) break;
      await new Promise<void>((resolve) => deps.clock.after(ms, resolve));
    }
    try {
      const outcome = await attemptOnce(deps, ops, primaryKey, deadline, requestId);
      if (outcome !== undefined) return outcome;
    } catch (err) {
      lastError = err;
      if (!isRangeDbError(err) || err.details.decided === true) throw err;
    }
  }
  throw new RangeDbError(
    ErrorCode.UNAVAILABLE,
    `Cannot write batch as no attempt committed before the deadline: last error is ${lastError}`,
    { cause: lastError },
  );
}

/** One attempt: the version when it committed, undefined when it aborted itself. */
async function attemptOnce(
  deps: BatchCommitDeps,
  ops: WriteOp[],
  primaryKey: Uint8Array,
  deadline: number,
  requestId: string,
): Promise<{ version: bigint } | undefined> {
  const { commands, clock } = deps;
  const txnId = uuidV4(deps.randomBytes ?? cryptoRandomBytes);
  const groups = groupByRange(ops, deps.lookup);
  const expiresAtMs = BigInt(clock.now() + BATCH_TTL_MS);
  const prepared = await Promise.allSettled(groups.map((g) =>
    commands.propose(g.ops[0].key, {
      case: "prepareBatch",
      value: { txnId, primaryKey, ops: opsOf(g), expiresAtMs },
    }, deadline)
  ));
  const failed = prepared.find((p) => p.status === "rejected");
  if (failed !== undefined) {
    await abortAttempt(deps, txnId, primaryKey, groups, deadline);
    await handleConflict(deps, (failed as PromiseRejectedResult).reason, deadline);
    return undefined;
  }
  let version: bigint;
  try {
    const timestamp = await deps.timestamp(deadline);
    const r = await commands.propose(
      primaryKey,
      {
        case: "commitBatch",
        value: { txnId, primaryKey },
      },
      deadline,
      timestamp,
      requestId,
    );
    if (r.txnId !== txnId) {
      // Another attempt of the same request committed first: this one must not apply.
      await abortAttempt(deps, txnId, primaryKey, groups, deadline);
      return { version: r.lastVersion };
    }
    version = r.lastVersion;
  } catch (err) {
    if (isRangeDbError(err, ErrorCode.TXN_CONFLICT)) {
      // Aborted by a reader that found the intents expired.
      await resolveAll(deps, txnId, groups, false, 0n, deadline);
      return undefined;
    }
    // Unknown outcome: settle it. AbortBatch reports a commit that did happen.
    const settled = await commands.propose(primaryKey, {
      case: "abortBatch",
      value: { txnId, primaryKey },
    }, deadline).catch((e) => {
      throw new RangeDbError(
        ErrorCode.UNAVAILABLE,
        `Cannot tell whether the batch committed: batch is ${txnId}, error is ${e}`,
        { cause: e, details: { ambiguous: true, decided: true } },
      );
    });
    if (settled.succeeded) {
      await resolveAll(deps, txnId, groups, false, 0n, deadline);
      return undefined;
    }
    version = settled.lastVersion;
  }
  // Decided: from here on the batch is committed, whatever fails.
  const resolved = await resolveAll(deps, txnId, groups, true, version, deadline);
  if (resolved) {
    await commands.propose(primaryKey, {
      case: "forgetBatch",
      value: { txnId, primaryKey },
    }, deadline).catch(() => undefined);
  }
  return { version };
}

/**
 * Resolves the batch's intents on every range that holds its keys, regrouping the keys by their
 * current ranges on every round (a split or merge since the prepare moves intents with their
 * keys); true when all succeeded before the deadline.
 */
async function resolveAll(
  deps: BatchCommitDeps,
  txnId: string,
  groups: Group[],
  commit: boolean,
  version: bigint,
  deadline: number,
): Promise<boolean> {
  let left = groups.flatMap((g) => g.ops);
  for (;;) {
    let current: Group[];
    try {
      current = groupByRange(left, deps.lookup);
    } catch {
      current = groups;
    }
    const results = await Promise.allSettled(
      current.map((g) =>
        deps.commands.propose(
          g.ops[0].key,
          {
            case: "resolveIntents",
            value: { txnId, keys: g.ops.map((op) => op.key), commit, commitVersion: version },
          },
          deadline,
          commit ? version : 0n,
        )
      ),
    );
    left = current.filter((_, i) => results[i].status === "rejected").flatMap((g) => g.ops);
    if (left.length === 0) return true;
    if (deps.clock.now() + 50 >= deadline) {
      deps.logger.warn("batch intents left for readers to resolve", { txn_id: txnId });
      return false;
    }
    await new Promise<void>((resolve) => deps.clock.after(50, resolve));
  }
}

/** Aborts an attempt that has not decided: the aborted record, then its intents go. */
async function abortAttempt(
  deps: BatchCommitDeps,
  txnId: string,
  primaryKey: Uint8Array,
  groups: Group[],
  deadline: number,
): Promise<void> {
  try {
    const r = await deps.commands.propose(primaryKey, {
      case: "abortBatch",
      value: { txnId, primaryKey },
    }, deadline);
    if (!r.succeeded) return; // cannot happen: only this coordinator commits its batch id
  } catch {
    // Readers settle the intents after their TTL.
    return;
  }
  if (await resolveAll(deps, txnId, groups, false, 0n, deadline)) {
    // A late prepare of this attempt finds no record; a reader then aborts it again.
    await deps.commands.propose(primaryKey, {
      case: "forgetBatch",
      value: { txnId, primaryKey },
    }, deadline).catch(() => undefined);
  }
}

/** After a failed prepare: settle an expired intent that blocked it, so that the next attempt can pass. */
async function handleConflict(deps: BatchCommitDeps, err: unknown, deadline: number) {
  if (!isRangeDbError(err, ErrorCode.LOCKED)) return;
  const key = err.details.lockedKey;
  const intent = err.details.lockedIntent;
  if (!(key instanceof Uint8Array) || !(intent instanceof Uint8Array)) return;
  await deps.resolver.resolve(decodeIntent(key, intent), deadline).catch(() => undefined);
}
