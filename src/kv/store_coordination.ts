/**
 * {@linkcode StoreCoordination}: a store's range-level coordination (docs/design/0009): the split
 * and merge coordinators behind `splitRange` / `mergeRange`, the migrations in flight, and the
 * background duties run from the scheduler's ticks: the split queue (with the bootstrap split at
 * `_/`), the merge queue (with the abort of stale freezes), the collector of replicas merged away
 * elsewhere and the meta sync. Commands reach other
 * nodes through the store's {@linkcode ClusterRouter}; without one (a single node, unit tests) a
 * local router proposes on this store only.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { compareBytes, MAX_TIMESTAMP } from "../base/key_encoding.ts";
import { mvccGet, mvccScan } from "../mvcc/mod.ts";
import type { ClusterRouter } from "./cluster_router.ts";
import { readClusterConfig } from "./cluster_settings.ts";
import { decodeDescriptor } from "./command.ts";
import { IntentResolver } from "./intent_resolver.ts";
import { LeaderInfos } from "./leader_infos.ts";
import { systemKeys } from "./keys.ts";
import type {
  CallOptions,
  MergeOutcome,
  MigrationInfo,
  RangeInfo,
  SplitOutcome,
} from "./kv_store.ts";
import { MergeQueue } from "./merge_queue.ts";
import { MergedReplicaGc } from "./merged_replica_gc.ts";
import { MetaSync } from "./meta_sync.ts";
import { Migrations } from "./migrations.ts";
import { RangeCommands } from "./range_commands.ts";
import { mergeRange } from "./range_merge.ts";
import type { RangeQueueDeps, SplitSettings } from "./range_queue_deps.ts";
import { infoOfDescriptor, splitRange } from "./range_split.ts";
import { SplitQueue } from "./split_queue.ts";
import type { Store } from "./store.ts";

/** How often the queues look for work. */
const QUEUE_PERIOD_MS = 1000;
/** How often the meta sync looks for stale descriptors. */
const META_SYNC_PERIOD_MS = 500;
/** Rows per page when looking for a range's middle key (the event loop turns between pages). */
const MIDDLE_PAGE_ROWS = 2000;

/** The router of a store without one: every command goes to this store. */
export function localRouter(store: Store): ClusterRouter {
  return {
    propose: (key, command, deadline) => store.proposeCommand(key, command, { deadline }),
    waitApplied: (nodeId, rangeId, index, deadline) => {
      if (nodeId !== store.nodeId) {
        return Promise.reject(
          new RangeDbError(
            ErrorCode.UNAVAILABLE,
            `Cannot reach node ${nodeId} as this store has no router to other nodes`,
          ),
        );
      }
      return store.waitApplied(rangeId, index, { deadline });
    },
    timestamps: (count, deadline) => store.allocateTimestamps(count, { deadline }),
  };
}

/** The coordination of one store. */
export class StoreCoordination implements RangeQueueDeps {
  readonly #store: Store;
  readonly router: ClusterRouter;
  readonly commands: RangeCommands;
  readonly migrations = new Migrations();
  readonly resolver: IntentResolver;
  readonly #splits: SplitQueue;
  readonly #merges: MergeQueue;
  readonly #metaSync: MetaSync;
  readonly #mergedGc: MergedReplicaGc;
  readonly #queues: boolean;
  readonly #leaderInfos: LeaderInfos;
  readonly #thresholds: Partial<SplitSettings> | undefined;
  #lastQueueMs = 0;
  #lastSyncMs = 0;

  /**
   * @param store the store
   * @param options the router (default: this store only), whether the background duties run
   *   (split and merge queues, meta sync) and thresholds replacing the cluster settings'
   */
  constructor(
    store: Store,
    options: {
      router?: ClusterRouter;
      queues?: boolean;
      thresholds?: Partial<SplitSettings>;
    } = {},
  ) {
    this.#store = store;
    this.router = options.router ?? localRouter(store);
    this.commands = new RangeCommands(this.router);
    this.resolver = new IntentResolver(this.commands, store.clock, store.logger);
    this.#splits = new SplitQueue(this);
    this.#merges = new MergeQueue(this);
    this.#metaSync = new MetaSync(this);
    this.#mergedGc = new MergedReplicaGc({
      nodeId: store.nodeId,
      clock: store.clock,
      logger: store.logger,
      router: this.router,
      replicas: () => store.replicas.values(),
      destroy: (replica, into) => store.rangeSet.destroyMerged(replica, into),
    });
    this.#queues = options.queues ?? true;
    this.#leaderInfos = new LeaderInfos({
      replicas: () => store.replicas.values(),
      rangeInfo: (r) => store.rangeSet.rangeInfo(r),
      now: () => store.clock.now(),
    });
    this.#thresholds = options.thresholds;
  }

  get nodeId(): number {
    return this.#store.nodeId;
  }

  get clock() {
    return this.#store.clock;
  }

  get logger() {
    return this.#store.logger;
  }

  /** Runs the duties that are due; called on every scheduler tick. */
  onTick(): void {
    if (!this.#queues) return;
    const now = this.#store.clock.now();
    // The duties of one tick read the leaders once (`leader_infos.ts`).
    this.#leaderInfos.duringTick(() => {
      if (now - this.#lastSyncMs >= META_SYNC_PERIOD_MS) {
        this.#lastSyncMs = now;
        this.#metaSync.check();
      }
      if (now - this.#lastQueueMs >= QUEUE_PERIOD_MS) {
        this.#lastQueueMs = now;
        this.#splits.check();
        this.#merges.check();
        this.#mergedGc.check();
      }
    });
  }

  // ---- The KvStore API ----

  splitRange(key: Uint8Array, options?: CallOptions & { dryRun?: boolean }): Promise<SplitOutcome> {
    return splitRange(this, key, {
      deadline: this.#store.deadlineOf(options),
      dryRun: options?.dryRun,
    });
  }

  mergeRange(rangeId: number, options?: CallOptions & { dryRun?: boolean }): Promise<MergeOutcome> {
    return mergeRange(this, rangeId, {
      deadline: this.#store.deadlineOf(options),
      dryRun: options?.dryRun,
    });
  }

  migrationList(): MigrationInfo[] {
    return this.migrations.list();
  }

  // ---- RangeQueueDeps ----

  lookup(key: Uint8Array): RangeInfo {
    return this.#store.lookupRange(key);
  }

  rangeById(rangeId: number): RangeInfo | undefined {
    const store = this.#store;
    const r = store.replicas.get(rangeId);
    if (r !== undefined && r.descriptor !== undefined && !r.destroyed) {
      return store.rangeSet.rangeInfo(r);
    }
    if (store.firstRange()?.applied === undefined) return undefined;
    const found = mvccGet(store.engine, systemKeys.partition(rangeId), MAX_TIMESTAMP);
    return found.status === "found" ? infoOfDescriptor(decodeDescriptor(found.value)) : undefined;
  }

  leaders(): Iterable<RangeInfo> {
    return this.#leaderInfos.list();
  }

  settings(): SplitSettings {
    const c = readClusterConfig(this.#store.engine);
    return {
      maxBytes: c.rangeMaxBytes,
      minBytes: c.rangeMinBytes,
      maxKeys: c.rangeMaxKeys,
      splitQps: c.rangeSplitQps,
      mergeDelayMs: c.rangeMergeDelay,
      ...this.#thresholds,
    };
  }

  async middleKey(rangeId: number, by: "bytes" | "keys"): Promise<Uint8Array | undefined> {
    const store = this.#store;
    const r = store.replicas.get(rangeId);
    const d = r?.descriptor;
    const stats = r?.applied?.stats;
    // The last range (range 1, the system keyspace) is never split by size.
    if (d === undefined || stats === undefined || d.end.length === 0) return undefined;
    const generation = d.generation;
    const total = Number(by === "bytes" ? stats.liveBytes : stats.liveKeys);
    if (total < 2) return undefined;
    let seen = 0;
    let start = d.start;
    const end = d.end;
    for (;;) {
      const page = mvccScan(store.engine, {
        start,
        end,
        timestamp: MAX_TIMESTAMP,
        limit: MIDDLE_PAGE_ROWS,
      });
      if (page.status !== "ok" || page.rows.length === 0) return undefined;
      for (const row of page.rows) {
        seen += by === "bytes" ? row.key.length + row.value.length : 1;
        if (seen * 2 >= total && compareBytes(row.key, d.start) > 0) return row.key.slice();
      }
      if (page.rows.length < MIDDLE_PAGE_ROWS) return undefined;
      const last = page.rows[page.rows.length - 1].key;
      start = new Uint8Array(last.length + 1);
      start.set(last);
      // Let the scheduler and the network run between pages.
      await new Promise<void>((resolve) => store.clock.after(0, resolve));
      if (r!.destroyed || r!.descriptor?.generation !== generation) return undefined;
    }
  }

  mergedAway(): Iterable<number> {
    return this.#store.rangeSet.tombstones.keys();
  }

  metaGeneration(rangeId: number): number | undefined {
    const store = this.#store;
    if (store.firstRange()?.applied === undefined) return undefined;
    const found = mvccGet(store.engine, systemKeys.partition(rangeId), MAX_TIMESTAMP);
    return found.status === "found" ? Number(decodeDescriptor(found.value).generation) : undefined;
  }
}
