/**
 * {@linkcode batchCommitter}: the cross-range batch of a node, ready to call: the two-phase commit
 * of `batch_commit.ts` over the node's {@linkcode ClusterRouter}, with an intent resolver of its
 * own and the store's range lookup.
 *
 * @module
 */

import type { Clock } from "../base/clock.ts";
import type { RandomBytes } from "../base/ids.ts";
import type { Logger } from "../base/logger.ts";
import type { ClusterRouter } from "../kv/cluster_router.ts";
import { IntentResolver } from "../kv/intent_resolver.ts";
import type { KvStore, WriteOp } from "../kv/kv_store.ts";
import { RangeCommands } from "../kv/range_commands.ts";
import { commitBatch } from "./batch_commit.ts";

/** Commits a batch whose keys lie in several ranges. */
export type CrossRangeBatch = (
  ops: WriteOp[],
  options: { deadline: number; requestId?: string },
) => Promise<{ version: bigint }>;

/**
 * Builds the cross-range batch of a node.
 *
 * @param deps the router, the store (late-bound is fine: read at each call), clock and logger;
 *   `random` and `randomBytes` (backoff, batch ids) default to Math.random and crypto
 * @returns the function that commits one batch
 */
export function batchCommitter(deps: {
  router: ClusterRouter;
  store: KvStore;
  clock: Clock;
  logger: Logger;
  random?: () => number;
  randomBytes?: RandomBytes;
}): CrossRangeBatch {
  const commands = new RangeCommands(deps.router);
  const resolver = new IntentResolver(commands, deps.clock, deps.logger);
  return (ops, options) =>
    commitBatch(
      {
        commands,
        resolver,
        clock: deps.clock,
        logger: deps.logger,
        lookup: (key) => deps.store.lookupRange(key),
        timestamp: (deadline) => deps.router.timestamps(1, deadline),
        random: deps.random,
        randomBytes: deps.randomBytes,
      },
      ops,
      options,
    );
}
