/**
 * {@linkcode IntentResolver}: what a reader or writer does when it meets the intent of a cross-range
 * batch (docs/design/0009). While the intent is live (before its TTL) it waits a little and the
 * caller reads again: the batch's coordinator resolves it within milliseconds. Once the TTL has
 * passed, the coordinator is presumed gone: `AbortBatch` on the primary key's range settles the
 * batch (it aborts one that never decided, and reports the commit of one that did), and
 * `ResolveIntents` on the intent's range applies that outcome. Either way the caller retries.
 *
 * @module
 */

import type { Clock } from "../base/clock.ts";
import type { Logger } from "../base/logger.ts";
import { decodeIntent, type Intent } from "../mvcc/mod.ts";
import type { CommandResult } from "./command.ts";
import type { RangeCommands } from "./range_commands.ts";

/** The longest pause between two reads of a key that holds a live intent. */
const WAIT_STEP_MS = 20;

/** Settles intents met by readers and writers. */
export class IntentResolver {
  readonly #commands: RangeCommands;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #inFlight = new Map<string, Promise<void>>();

  /**
   * @param commands proposals on any range's leader
   * @param clock the store's clock (TTLs are wall ms)
   * @param logger the store's logger
   */
  constructor(commands: RangeCommands, clock: Clock, logger: Logger) {
    this.#commands = commands;
    this.#clock = clock;
    this.#logger = logger;
  }

  /**
   * Makes progress on the intent a LOCKED result names (its `lockedKey` and `lockedIntent`).
   *
   * @see {@linkcode IntentResolver.resolve}
   */
  resolveLocked(result: CommandResult, deadline: number): Promise<void> {
    return this.resolve(decodeIntent(result.lockedKey, result.lockedIntent), deadline);
  }

  /**
   * Makes progress on `intent`: waits up to 20 ms while it is live; after its TTL settles its
   * batch and resolves it on its key. Resolves when the caller should look again.
   *
   * @throws {RangeDbError} when settling failed (the caller may retry until its deadline)
   */
  resolve(intent: Intent, deadline: number): Promise<void> {
    const now = this.#clock.now();
    if (now < intent.expiresAtMs) {
      const ms = Math.max(1, Math.min(WAIT_STEP_MS, intent.expiresAtMs - now, deadline - now));
      return new Promise((resolve) => this.#clock.after(ms, resolve));
    }
    const id = `${intent.txnId}/${Array.from(intent.key).join(",")}`;
    let p = this.#inFlight.get(id);
    if (p === undefined) {
      p = this.#settle(intent, deadline).finally(() => this.#inFlight.delete(id));
      this.#inFlight.set(id, p);
    }
    return p;
  }

  async #settle(intent: Intent, deadline: number): Promise<void> {
    const aborted = await this.#commands.propose(intent.primaryKey, {
      case: "abortBatch",
      value: { txnId: intent.txnId, primaryKey: intent.primaryKey },
    }, deadline);
    const commit = !aborted.succeeded;
    this.#logger.info("resolving an expired intent", {
      txn_id: intent.txnId,
      outcome: commit ? "committed" : "aborted",
    });
    await this.#commands.propose(
      intent.key,
      {
        case: "resolveIntents",
        value: {
          txnId: intent.txnId,
          keys: [intent.key],
          commit,
          commitVersion: aborted.lastVersion,
        },
      },
      deadline,
      commit ? aborted.lastVersion : 0n,
    );
  }
}
