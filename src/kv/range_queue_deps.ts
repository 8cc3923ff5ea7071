/**
 * What the background range duties (split queue, merge queue, meta sync) see of their store: the
 * ranges this node leads, the cluster's split settings, the middle key of a range, and the local
 * meta copy. The store implements it; unit tests of the queues' decisions use plain objects.
 *
 * @module
 */

import type { RangeInfo } from "./kv_store.ts";
import type { MergeDeps } from "./range_merge.ts";

/** The split and merge thresholds (cluster settings `range_max_bytes` …). */
export interface SplitSettings {
  maxBytes: number;
  minBytes: number;
  maxKeys: number;
  /** 0 disables load splits. */
  splitQps: number;
  /** How long a range must exist before a merge; both must be cold for a fifth of it. */
  mergeDelayMs: number;
}

/** What the duties need from the store. */
export interface RangeQueueDeps extends MergeDeps {
  /** The ranges this node's replicas lead, with their stats and write rates. */
  leaders(): Iterable<RangeInfo>;
  /** The cluster's current thresholds. */
  settings(): SplitSettings;
  /**
   * The key at the middle of a range this node holds: by live bytes, or by live keys (load
   * splits); undefined when the range has fewer than two keys.
   */
  middleKey(rangeId: number, by: "bytes" | "keys"): Promise<Uint8Array | undefined>;
  /** The generation of range `rangeId` in the local meta copy; undefined when unknown here. */
  metaGeneration(rangeId: number): number | undefined;
  /** The ranges merged away on this node (their tombstones). @default none */
  mergedAway?(): Iterable<number>;
}
