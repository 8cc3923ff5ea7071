/**
 * {@linkcode StoreRanges}: a store's ranges as a whole — the routing index (initialized replicas
 * sorted by start key, found by binary search), the replica lifecycle of splits and merges, the
 * tombstones of ranges merged away, and the snapshot overlap rule (docs/design/0009).
 *
 * Lifecycle within one scheduler turn:
 * 1. While Readies are applied, a Split reports the range it creates and a Merge (or a snapshot
 *    subsuming a frozen range) the range it destroys (`RangeLifecycle`).
 * 2. After every Ready is staged, `stageLifecycle` writes the created ranges' Raft state (an
 *    empty log behind index 10, term 5; hard state commit 10 with the term and vote an
 *    uninitialized replica of the range already has) and deletes the destroyed ranges' log and
 *    Raft state, writing their tombstone. It runs last, so that no Ready of the turn (a destroyed
 *    replica's own) can resurrect their keys; the scheduler then drops the destroyed replicas'
 *    Readies (no answers, messages or advance).
 * 3. Once the batch is durable and committed, `afterLifecycle` creates the new Replica objects
 *    (replacing uninitialized ones), removes destroyed ones (their callers fail with RANGE_MOVED)
 *    and rebuilds the routing index. The parent's leader's new replica campaigns at once.
 *
 * @module
 */

import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { compareBytes } from "../base/key_encoding.ts";
import type { Logger } from "../base/logger.ts";
import type { Engine, WriteBatch } from "../storage/mod.ts";
import {
  confStateOf,
  decodeTombstone,
  encodeAppliedState,
  encodeTombstone,
  type RangeAppliedState,
  type RangeDescriptor,
} from "./command.ts";
import type { CreatedRange, ReplicaLifecycle } from "./apply_context.ts";
import { SPLIT_INITIAL_INDEX, SPLIT_INITIAL_TERM } from "./apply_split.ts";
import type { RangeInfo } from "./kv_store.ts";
import { raftLogSpan, raftStateKey, RaftStateKind, raftStateSpan } from "./keys.ts";
import { decodeHardState, encodeHardState, encodeTruncatedState } from "./raft_log_codec.ts";
import type { Replica } from "./replica.ts";
import { isPlanted } from "./planted_bugs.ts";

/** What {@linkcode StoreRanges} needs from its store. */
export interface StoreRangesDeps {
  readonly nodeId: number;
  readonly engine: Engine;
  readonly logger: Logger;
  /** The store's replicas by range id (this class adds and removes entries). */
  readonly replicas: Map<number, Replica>;
  /** Builds a Replica object loaded from the engine (not registered). */
  newReplica(rangeId: number, applied: RangeAppliedState | undefined): Replica;
  /** The clock's now, for rates. */
  now(): number;
  /** Asks the scheduler for a turn. */
  wake(): void;
}

/** Whether the spans `[a.start, a.end)` and `[b.start, b.end)` (end empty: +inf) overlap. */
function overlaps(a: RangeDescriptor, b: RangeDescriptor): boolean {
  const aEndsBefore = a.end.length > 0 && compareBytes(a.end, b.start) <= 0;
  const bEndsBefore = b.end.length > 0 && compareBytes(b.end, a.start) <= 0;
  return !aEndsBefore && !bEndsBefore;
}

/** The RANGE_MOVED error of a replica merged away. */
function mergedAwayError(rangeId: number, into: number): RangeDbError {
  return new RangeDbError(
    ErrorCode.RANGE_MOVED,
    `Cannot serve the request as the range was merged away: range is ${rangeId}, merged into ${into}`,
    { details: { rangeId, mergedIntoRangeId: into } },
  );
}

/** The RANGE_NOT_FOUND error of a range this node holds no replica of. */
export function noReplicaError(rangeId: number, into?: number): RangeDbError {
  return new RangeDbError(
    ErrorCode.RANGE_NOT_FOUND,
    into === undefined
      ? `Cannot find the range as this node holds no replica of it: range is ${rangeId}`
      : `Cannot find the range as it was merged away: range is ${rangeId}, merged into ${into}`,
    { details: into === undefined ? { rangeId } : { rangeId, mergedIntoRangeId: into } },
  );
}

/** A store's routing index, tombstones and replica lifecycle. */
export class StoreRanges implements ReplicaLifecycle {
  readonly #deps: StoreRangesDeps;
  /** Ranges merged away on this node → the range that absorbed them. */
  readonly tombstones = new Map<number, number>();
  #index: Replica[] = [];
  #indexStale = true;
  #created: CreatedRange[] = [];
  readonly #destroyed = new Map<number, number>();

  /** @param deps the store's services */
  constructor(deps: StoreRangesDeps) {
    this.#deps = deps;
  }

  /**
   * Reads the tombstone of `rangeId` from the engine (at open).
   *
   * @returns whether the range was merged away
   */
  loadTombstone(rangeId: number): boolean {
    const v = this.#deps.engine.get("raft_state", raftStateKey(rangeId, RaftStateKind.Tombstone));
    if (v === undefined) return false;
    this.tombstones.set(rangeId, Number(decodeTombstone(v).mergedIntoRangeId));
    return true;
  }

  // ---- Routing ----

  /** Marks the routing index stale (a replica's span changed). */
  spanChanged(): void {
    this.#indexStale = true;
  }

  #sorted(): Replica[] {
    if (!this.#indexStale) return this.#index;
    const live = [];
    for (const r of this.#deps.replicas.values()) {
      if (r.descriptor !== undefined && !r.destroyed) live.push(r);
    }
    live.sort((a, b) => compareBytes(a.descriptor!.start, b.descriptor!.start));
    this.#index = live;
    this.#indexStale = false;
    return live;
  }

  /** The index of the last replica whose start is `<= key` (`< key` when `strict`), or -1. */
  #lastStartingAt(key: Uint8Array, strict: boolean): number {
    const index = this.#sorted();
    let lo = 0;
    let hi = index.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareBytes(index[mid].descriptor!.start, key);
      if (c < 0 || (c === 0 && !strict)) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** The initialized replica whose range holds `key`; undefined when none here does. */
  replicaHolding(key: Uint8Array): Replica | undefined {
    const i = this.#lastStartingAt(key, false);
    if (i < 0) return undefined;
    const r = this.#index[i];
    const end = r.descriptor!.end;
    return end.length === 0 || compareBytes(key, end) < 0 ? r : undefined;
  }

  /**
   * The initialized replica holding the keys just below `key` (its range starts before `key`
   * and reaches it), for reverse scans; undefined when none here does.
   */
  replicaBelow(key: Uint8Array): Replica | undefined {
    const i = this.#lastStartingAt(key, true);
    if (i < 0) return undefined;
    const r = this.#index[i];
    const end = r.descriptor!.end;
    return end.length === 0 || compareBytes(end, key) >= 0 ? r : undefined;
  }

  /** The initialized replicas in key order. */
  inOrder(): readonly Replica[] {
    return this.#sorted();
  }

  // ---- Snapshots ----

  /**
   * Why a snapshot of `rangeId` covering `d` must be refused here, or undefined when it may be
   * installed: the range was merged away, or the snapshot overlaps an initialized replica of
   * another range that is not frozen for a merge into this one (a node that has not applied a
   * split yet must not install the new range over data its parent still serves).
   */
  snapshotRefusal(rangeId: number, d: RangeDescriptor): string | undefined {
    const into = this.tombstones.get(rangeId);
    if (into !== undefined && !isPlanted("tombstone-ignored")) {
      return `the range was merged into range ${into}`;
    }
    for (const r of this.#deps.replicas.values()) {
      const other = r.latestApplied;
      if (r.rangeId === rangeId || r.destroyed || this.#destroyed.has(r.rangeId)) continue;
      if (other?.descriptor === undefined) continue;
      if (!overlaps(other.descriptor, d)) continue;
      if (other.frozenIntoRangeId === BigInt(rangeId)) continue;
      return `it overlaps range ${r.rangeId}, which is not frozen for a merge into it`;
    }
    for (const c of this.#created) {
      if (overlaps(c.applied.descriptor!, d)) {
        return `it overlaps range ${c.applied.descriptor!.rangeId}, created in this turn`;
      }
    }
    return undefined;
  }

  // ---- RangeLifecycle (called while a turn applies) ----

  created(range: CreatedRange): void {
    this.#created.push(range);
  }

  destroyed(rangeId: number, into: number): void {
    this.#destroyed.set(rangeId, into);
  }

  mergedInto(rangeId: number): number | undefined {
    return this.#destroyed.get(rangeId) ?? this.tombstones.get(rangeId);
  }

  appliedStateOf(rangeId: number): RangeAppliedState | undefined {
    const r = this.#deps.replicas.get(rangeId);
    return r === undefined || r.destroyed ? undefined : r.latestApplied;
  }

  snapshotInstalled(rangeId: number, d: RangeDescriptor): void {
    const refusal = this.snapshotRefusal(rangeId, d);
    if (refusal !== undefined) {
      throw new RangeDbError(
        ErrorCode.INTERNAL,
        `Cannot install snapshot as ${refusal}: range is ${rangeId}`,
      );
    }
    for (const r of this.#deps.replicas.values()) {
      const other = r.latestApplied;
      if (r.rangeId === rangeId || other?.descriptor === undefined) continue;
      if (overlaps(other.descriptor, d)) this.#destroyed.set(r.rangeId, rangeId);
    }
  }

  /**
   * Destroys `replica`, frozen into `into` and merged away on the other nodes, in its next turn
   * (`merged_replica_gc.ts`): as if this node applied the merge, without extending `into`.
   */
  destroyMerged(replica: Replica, into: number): void {
    replica.enqueueEvent(() => {
      const frozenInto = replica.applied?.frozenIntoRangeId ?? 0n;
      if (!replica.destroyed && frozenInto === BigInt(into)) {
        this.#destroyed.set(replica.rangeId, into);
      }
    });
  }

  // ---- The scheduler's hooks ----

  pending(): boolean {
    return this.#created.length > 0 || this.#destroyed.size > 0;
  }

  stageLifecycle(batch: WriteBatch): void {
    for (const [rangeId, into] of this.#destroyed) {
      const r = this.#deps.replicas.get(rangeId);
      if (r !== undefined) r.destroyed = true;
      const log = raftLogSpan(rangeId);
      const state = raftStateSpan(rangeId);
      batch.deleteRange("raft_log", log.start, log.end);
      batch.deleteRange("raft_state", state.start, state.end);
      batch.put(
        "raft_state",
        raftStateKey(rangeId, RaftStateKind.Tombstone),
        encodeTombstone(into),
      );
    }
    for (const c of this.#created) this.#stageCreated(c, batch);
  }

  #stageCreated(c: CreatedRange, batch: WriteBatch): void {
    const rangeId = Number(c.applied.descriptor!.rangeId);
    const existing = this.#deps.replicas.get(rangeId);
    if (existing?.latestApplied !== undefined || this.tombstones.has(rangeId)) {
      throw new RangeDbError(
        ErrorCode.INTERNAL,
        `Cannot create range by a split as this node already holds it: range is ${rangeId}, parent is ${c.parentRangeId}`,
      );
    }
    // A faster node's replica of the new range may have asked for this node's vote before the
    // split applied here: the uninitialized replica persisted that term and vote, keep them.
    const stored = this.#deps.engine.get(
      "raft_state",
      raftStateKey(rangeId, RaftStateKind.HardState),
    );
    const hs = existing?.storage.latestHardState() ??
      (stored === undefined ? { term: 0, vote: 0, commit: 0 } : decodeHardState(stored));
    const initialTerm = Number(SPLIT_INITIAL_TERM);
    const index = Number(SPLIT_INITIAL_INDEX);
    const term = Math.max(hs.term, initialTerm);
    const vote = hs.term >= initialTerm ? hs.vote : 0;
    const log = raftLogSpan(rangeId);
    batch.deleteRange("raft_log", log.start, log.end);
    batch.put(
      "raft_state",
      raftStateKey(rangeId, RaftStateKind.HardState),
      encodeHardState({ term, vote, commit: Math.max(hs.commit, index) }),
    );
    batch.put(
      "raft_state",
      raftStateKey(rangeId, RaftStateKind.TruncatedState),
      encodeTruncatedState({ index, term: initialTerm }),
    );
    batch.put(
      "raft_state",
      raftStateKey(rangeId, RaftStateKind.AppliedState),
      encodeAppliedState(c.applied),
    );
  }

  afterLifecycle(): void {
    if (this.#created.length === 0 && this.#destroyed.size === 0) return;
    const { replicas, logger } = this.#deps;
    for (const [rangeId, into] of this.#destroyed) {
      // Followers learn of the merge at once, rather than with the next append or heartbeat.
      const absorbing = replicas.get(into);
      if (absorbing?.isLeader) absorbing.enqueueEvent(() => absorbing.raw.broadcastCommit());
      const r = replicas.get(rangeId);
      replicas.delete(rangeId);
      this.tombstones.set(rangeId, into);
      r?.close(mergedAwayError(rangeId, into), noReplicaError(rangeId, into));
      logger.info("range merged away", { range_id: rangeId, merged_into: into });
    }
    for (const c of this.#created) {
      const rangeId = Number(c.applied.descriptor!.rangeId);
      const fresh = this.#deps.newReplica(rangeId, c.applied);
      const old = replicas.get(rangeId);
      if (old !== undefined) {
        for (const m of old.takeMessages()) fresh.enqueueMessage(m);
        old.appliedWaiters.moveTo(fresh.appliedWaiters);
      }
      replicas.set(rangeId, fresh);
      // Its descriptor is new: the meta sync duty writes it to range 1's copy.
      fresh.descriptorChanged = true;
      const parentLed = replicas.get(c.parentRangeId)?.isLeader ?? false;
      // The parent's leader's replica campaigns at once: the new range has a leader within a
      // round trip instead of an election timeout.
      // Its followers learn of the split at once (commits travel lazily otherwise), so that its
      // votes and first appends find the range created, not an uninitialized replica.
      if (parentLed) {
        const parent = replicas.get(c.parentRangeId)!;
        parent.enqueueEvent(() => parent.raw.broadcastCommit());
        fresh.enqueueEvent(() => fresh.raw.campaign());
      }
      logger.info("range created by split", {
        range_id: rangeId,
        parent_range_id: c.parentRangeId,
        campaign: parentLed,
      });
    }
    this.#created = [];
    this.#destroyed.clear();
    this.#indexStale = true;
    this.#deps.wake();
  }

  // ---- Status ----

  /** The status of a replica's range. */
  rangeInfo(r: Replica): RangeInfo {
    const d = r.descriptor;
    const cs = d === undefined ? r.raw.status().config : confStateOf(d);
    const stats = r.applied?.stats;
    return {
      rangeId: r.rangeId,
      start: d?.start ?? new Uint8Array(0),
      end: d?.end ?? new Uint8Array(0),
      generation: Number(d?.generation ?? 0n),
      voters: [...cs.voters],
      learners: [...cs.learners],
      leaderNodeId: r.lead,
      term: r.term,
      commitIndex: r.storage.hardState().commit,
      appliedIndex: r.appliedIndex,
      liveKeys: Number(stats?.liveKeys ?? 0n),
      liveBytes: Number(stats?.liveBytes ?? 0n),
      writesPerSecond: r.writes.perSecond(this.#deps.now()),
      frozenIntoRangeId: Number(r.applied?.frozenIntoRangeId ?? 0n),
      local: true,
    };
  }

  /** The ranges this node holds a replica of, initialized ones in key order first. */
  ranges(): RangeInfo[] {
    const out = this.inOrder().map((r) => this.rangeInfo(r));
    for (const r of this.#deps.replicas.values()) {
      if (r.descriptor === undefined) out.push(this.rangeInfo(r));
    }
    return out;
  }
}
