/**
 * {@linkcode RaftScheduler}: the one loop that drives every replica of a node (docs/design/0007,
 * and 0009 for many ranges).
 *
 * A turn looks only at the replicas in the work set (`raft_work_set.ts`): those that queued
 * something since the last turn (ticks, messages, proposals, reads, events) or still had a
 * Ready. It feeds each what arrived, collects the `Ready` of every replica that has one, builds
 * ONE engine batch with all their entries, hard states, snapshots, applied commands and applied
 * states, sends the leaders' appends and heartbeats (see `#sendEarly`), answers the key-value
 * writes that were applied (`Replica.answerBeforeWrite`), writes the batch with one fsync, then
 * makes the staged state visible (storage caches, applied state), answers the other callers,
 * sends the other messages grouped per destination node (snapshots on their own stream), and
 * calls `advance()`. Only one batch is in flight at a time: MVCC writes read the state the
 * previous batch left, and what arrives during a write waits for the next turn, so load batches
 * itself. Tests can crash the process just before and just after the write (`passCrashPoints`).
 *
 * A tick goes to the awake replicas only. An idle leader quiesces instead of ticking
 * (`replica_quiesce.ts`), and quiesced followers wake when their leader's node stops being live
 * (`node_liveness.ts`). Every tick sends each peer node one batch, an empty one when nothing
 * else went to it since the last tick, so that liveness costs one batch per node pair per tick
 * whatever the number of ranges.
 *
 * @module
 */

import type { Clock } from "../base/clock.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { Logger } from "../base/logger.ts";
import { MessageType, type Ready } from "../raft/mod.ts";
import { CRASH_POINT_ARMED, type Engine } from "../storage/mod.ts";
import { BatchWriteFailure, passCrashPoints, writeTurnBatch } from "./raft_batch_write.ts";
import { newApplyContext, type ReplicaLifecycle } from "./apply_context.ts";
import type { StoreMetrics } from "./metrics.ts";
import { NodeLiveness } from "./node_liveness.ts";
import type { Replica } from "./replica.ts";
import { leaderQuiesceHeartbeats } from "./replica_quiesce.ts";
import { buildOutgoingSnapshot } from "./replica_snapshot.ts";
import { type ReplicaMap, ReplicaWorkSet } from "./raft_work_set.ts";
import type { RaftTransport, RangeMessage } from "./transport.ts";

/** A turn that holds the event loop at least this long (ms) is logged as slow. */
export const SLOW_TURN_MS = 100;

/** What the scheduler needs from its store. */
export interface RaftSchedulerDeps {
  engine: Engine;
  transport: RaftTransport;
  clock: Clock;
  logger: Logger;
  metrics: StoreMetrics;
  nodeId: number;
  tickIntervalMs: number;
  /** Ticks of an election timeout: a node not heard from for that long is not live. */
  electionTick: number;
  /** The store's replicas; the scheduler observes every one added or removed. */
  replicas: ReplicaMap;
  /** Called on every tick, before the turn it triggers. */
  onTick(): void;
  /** Called after every turn that handled a Ready, with the replicas that had one. */
  afterTurn(turned: readonly Replica[]): void;
  /** Replicas created and destroyed by splits and merges in a turn (`store_ranges.ts`). */
  lifecycle: ReplicaLifecycle;
  /**
   * Called once when a turn fails, and the store must stop: `inWrite` when the engine could not
   * write the batch (a full or failing disk), otherwise a bug staging or applying the turn.
   */
  onFatal(err: unknown, inWrite: boolean): void;
  /**
   * Longest a batch write (with its fsync) may take before the disk counts as stalled and the
   * turn fails as a failed write; 0 or undefined waits forever.
   */
  maxSyncMs?: number;
}

/** What a scheduler has done since it started, for tests and benchmarks. */
export interface SchedulerCounters {
  /** Tick timer firings. */
  ticks: number;
  /** Ticks handed to replicas (one per awake replica per tick). */
  replicaTicks: number;
  /** Turns that looked at some replica. */
  turns: number;
  /** Replicas looked at, summed over turns. */
  replicasInTurns: number;
  /** Readies handled, summed over turns. */
  readies: number;
  /** Times a leader quiesced its range. */
  leaderQuiesces: number;
  /** Raft messages handed to the transport (snapshots not included). */
  messagesSent: number;
  /** Quiesced followers woken because their leader's node was not live. */
  orphansWoken: number;
}

/** The turn loop of one node. */
export class RaftScheduler {
  /** Which other nodes were heard from lately, and which share a range with this one. */
  readonly liveness: NodeLiveness;
  /** What the scheduler has done; read-only for callers. */
  readonly counters: SchedulerCounters = {
    ticks: 0,
    replicaTicks: 0,
    turns: 0,
    replicasInTurns: 0,
    readies: 0,
    leaderQuiesces: 0,
    messagesSent: 0,
    orphansWoken: 0,
  };
  readonly #deps: RaftSchedulerDeps;
  readonly #work = new ReplicaWorkSet();
  /** Members counted in `liveness` for each replica, with the generation they were read at. */
  readonly #members = new Map<Replica, { generation: bigint | undefined; ids: number[] }>();
  /** Replicas between `ready()` and `advance()` in the turn in progress. */
  #turning = new Set<Replica>();
  /** Nodes that were sent a batch since the last tick. */
  readonly #sentSinceTick = new Set<number>();
  #scheduled = false;
  #running: Promise<void> | undefined;
  #stopped = false;
  #cancelTick: (() => void) | undefined;
  readonly #snapshotsInFlight = new Set<Promise<void>>();
  /** Snapshots being streamed, per sending replica. */
  readonly #snapshotsOf = new Map<Replica, number>();

  /** @param deps the store's services */
  constructor(deps: RaftSchedulerDeps) {
    this.#deps = deps;
    this.liveness = new NodeLiveness({
      nodeId: deps.nodeId,
      timeoutMs: deps.electionTick * deps.tickIntervalMs,
      clock: deps.clock,
    });
    deps.replicas.observe({
      added: (r) => {
        this.#work.add(r);
        this.#countMembers(r);
        this.wake();
      },
      removed: (r) => {
        this.#work.remove(r);
        const counted = this.#members.get(r);
        if (counted !== undefined) this.liveness.removeMembers(counted.ids);
        this.#members.delete(r);
      },
    });
  }

  /**
   * Puts `r` in the work set and asks for a turn (see `ReplicaDeps.markDirty`); ignored for a
   * replica no longer in the store.
   */
  markDirty(r: Replica): void {
    if (this.#deps.replicas.get(r.rangeId) !== r) return;
    this.#work.markDirty(r);
    this.wake();
  }

  /** How many replicas are awake (ticking); the others are quiesced. */
  get awakeCount(): number {
    return this.#work.awake.size;
  }

  /**
   * Tells the awake leaders that `nodeId` is unreachable (Raft then probes it instead of
   * pipelining). A quiesced leader has nothing in flight to it and is left alone.
   */
  reportUnreachable(nodeId: number): void {
    for (const r of this.#work.awake) {
      if (r.isLeader) r.enqueueEvent(() => r.raw.reportUnreachable(nodeId));
    }
  }

  /** Counts `r`'s members as this node's peers, again whenever its descriptor changed. */
  #countMembers(r: Replica): void {
    const generation = r.descriptor?.generation;
    const counted = this.#members.get(r);
    if (counted !== undefined && counted.generation === generation) return;
    if (counted !== undefined) this.liveness.removeMembers(counted.ids);
    const ids = (r.descriptor?.replicas ?? []).map((d) => Number(d.nodeId));
    this.liveness.addMembers(ids);
    this.#members.set(r, { generation, ids });
  }

  /** Starts ticking. */
  start(): void {
    this.#scheduleTick();
    this.wake();
  }

  #scheduleTick(): void {
    if (this.#stopped) return;
    this.#cancelTick = this.#deps.clock.after(this.#deps.tickIntervalMs, () => {
      if (this.#stopped) return;
      this.#tick();
      this.wake();
      this.#scheduleTick();
    });
  }

  /**
   * One tick: wakes the quiesced followers of nodes that are no longer live, quiesces the idle
   * leaders, ticks the other awake replicas, and sends every peer its batch of the tick.
   */
  #tick(): void {
    const deps = this.#deps;
    const counters = this.counters;
    counters.ticks++;
    const now = deps.clock.now();
    const liveness = this.liveness;
    const isLive = (id: number) => liveness.isLive(id);
    counters.orphansWoken += this.#work.wakeOrphans(isLive);
    const out = new Map<number, RangeMessage[]>();
    for (const r of this.#work.awake) {
      if (r.isLeader && !this.#turning.has(r) && !this.#snapshotsOf.has(r)) {
        const heartbeats = leaderQuiesceHeartbeats(r, isLive);
        if (heartbeats !== undefined) {
          r.quiesced = true;
          this.#work.settle(r);
          counters.leaderQuiesces++;
          for (const message of heartbeats) {
            let list = out.get(message.to);
            if (list === undefined) out.set(message.to, list = []);
            list.push({ rangeId: r.rangeId, message, quiesce: true });
          }
          continue;
        }
      }
      r.enqueueTick();
      r.expire(now);
      counters.replicaTicks++;
    }
    try {
      deps.onTick();
    } catch (err) {
      deps.logger.error("store tick failed", { error: String(err) });
    }
    for (const peer of liveness.peers()) {
      if (out.has(peer) || this.#sentSinceTick.has(peer)) continue;
      out.set(peer, []);
    }
    for (const [to, messages] of out) this.#transmit(to, messages);
    this.#sentSinceTick.clear();
  }

  /** Hands one batch to the transport, noting that `to` got something this tick. */
  #transmit(to: number, messages: RangeMessage[]): void {
    this.#sentSinceTick.add(to);
    this.counters.messagesSent += messages.length;
    this.#deps.transport.send(to, messages);
  }

  /** Asks for a turn (coalesced: one turn handles everything queued until it starts). */
  wake(): void {
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    if (this.#running === undefined) this.#running = this.#loop();
  }

  async #loop(): Promise<void> {
    // Let the current task queue more events before the turn starts.
    await Promise.resolve();
    try {
      while (this.#scheduled && !this.#stopped) {
        this.#scheduled = false;
        await this.#turn();
      }
    } catch (err) {
      this.#stopped = true;
      const inWrite = err instanceof BatchWriteFailure;
      this.#deps.onFatal(inWrite ? err.cause : err, inWrite);
    } finally {
      this.#running = undefined;
    }
  }

  async #turn(): Promise<void> {
    const deps = this.#deps;
    const work = this.#work;
    const dirty = work.takeDirty();
    if (dirty.size === 0) return;
    const started = deps.clock.monotonic();
    this.counters.turns++;
    this.counters.replicasInTurns += dirty.size;
    const readies: [Replica, Ready][] = [];
    for (const r of dirty) {
      // A replica removed since it was marked (the map reports removals; this is cheap insurance).
      if (deps.replicas.get(r.rangeId) !== r) continue;
      if (r.hasInbox()) {
        r.drainInbox();
        work.settle(r);
      }
      if (r.raw.hasReady()) readies.push([r, r.raw.ready()]);
    }
    // A replica destroyed by an event (merged_replica_gc.ts) needs a turn of its own.
    if (readies.length === 0 && !deps.lifecycle.pending()) return;
    this.counters.readies += readies.length;
    this.#turning = new Set(readies.map(([r]) => r));
    try {
      await this.#handle(readies, started);
    } finally {
      this.#turning = new Set();
    }
  }

  /**
   * Persists, sends, applies and advances the Readies of one turn; `started` is when the turn
   * began (monotonic ms), for the blocking time it reports.
   */
  async #handle(turnReadies: [Replica, Ready][], started: number): Promise<void> {
    let readies = turnReadies;
    const deps = this.#deps;
    const engine = deps.engine;
    const batch = engine.batch();
    const ctx = newApplyContext(engine, batch, deps.nodeId, deps.logger, deps.lifecycle);
    let sync = false;
    let early = 0;
    let staged = 0;
    let applied = 0;
    try {
      for (const [, rd] of readies) applied += rd.committedEntries.length;
      for (const [r, rd] of readies) if (r.stageReady(rd, batch, ctx)) sync = true;
      deps.lifecycle.stageLifecycle(batch);
      // A replica merged away in this turn sends, answers and advances nothing more.
      readies = readies.filter(([r]) => !r.destroyed);
      early = this.#sendEarly(readies);
      let answered = 0;
      for (const [r] of readies) answered += r.answerBeforeWrite();
      staged = deps.clock.monotonic();
      if (CRASH_POINT_ARMED) await passCrashPoints(readies, "before-write", answered);
      if (batch.count > 0) {
        const start = deps.clock.monotonic();
        await writeTurnBatch(deps, batch, sync);
        deps.metrics.batchWritten(deps.clock.monotonic() - start, sync, batch.byteSize);
      }
    } catch (err) {
      for (const [r] of readies) r.discardReady();
      throw err;
    }
    if (CRASH_POINT_ARMED) await passCrashPoints(readies, "after-write");
    const written = deps.clock.monotonic();
    for (const [r, rd] of readies) r.commitReady(rd);
    if (early < readies.length) this.#send(readies);
    const turned: Replica[] = [];
    for (const [r] of readies) {
      r.raw.advance();
      deps.metrics.rangeState(r.rangeId, {
        term: r.term,
        commit: r.storage.hardState().commit,
        applied: r.appliedIndex,
      });
      // Replicas removed during the turn are no longer counted (nor in the work set).
      if (deps.replicas.get(r.rangeId) === r) this.#countMembers(r);
      turned.push(r);
    }
    deps.lifecycle.afterLifecycle();
    deps.afterTurn(turned);
    for (const r of turned) {
      if (r.raw.hasReady() || r.hasInbox()) this.#work.markDirty(r);
    }
    if (this.#work.hasDirty) this.#scheduled = true;
    this.#reportBlocking(
      staged - started,
      deps.clock.monotonic() - written,
      readies.length,
      applied,
    );
  }

  /**
   * Reports how long a turn held the event loop: its synchronous work before the write (feeding
   * the replicas, building the Readies, staging and applying them) and after it (making the state
   * visible, answering, sending, advancing). Nothing else runs on the node meanwhile, not even a
   * tick, so a long turn delays every request and heartbeat; one past {@linkcode SLOW_TURN_MS} is
   * logged (a split's stats scan, a large snapshot, a big batch of applies).
   */
  #reportBlocking(stageMs: number, finishMs: number, readies: number, applied: number): void {
    const ms = stageMs + finishMs;
    this.#deps.metrics.turnBlocked(ms);
    if (ms < SLOW_TURN_MS) return;
    this.#deps.logger.warn("slow raft turn", {
      blocked_ms: Math.round(ms),
      stage_ms: Math.round(stageMs),
      finish_ms: Math.round(finishMs),
      readies,
      applied_entries: applied,
    });
  }

  /**
   * Sends, before the batch is durable, the messages of leaders that do not depend on the
   * leader's own disk: log appends and heartbeats (Raft thesis §10.2.1, as etcd does). A leader
   * counts its own entries toward commit only after `advance()`, that is after its fsync, so an
   * entry acknowledged by followers is committed only once a quorum has it on disk even if the
   * leader crashes before its write; and the term and vote these messages carry were persisted
   * by an earlier turn, as the replica was already leader before this Ready. Votes, responses and snapshots still wait for the
   * write. The early messages are removed from their Ready.
   *
   * @returns how many Readies have no messages left
   */
  #sendEarly(readies: [Replica, Ready][]): number {
    let empty = 0;
    const early = new Map<number, RangeMessage[]>();
    for (const [r, rd] of readies) {
      // Only a replica that led before this Ready: the Ready in which a node becomes leader may
      // carry its new term and vote (a single voter wins inside one step), which are not on disk
      // until this batch is written, and no message may claim them before that.
      const leading = rd.softState === undefined && r.isLeader;
      if (leading && rd.messages.length > 0) {
        const rest = [];
        for (const message of rd.messages) {
          if (message.type !== MessageType.App && message.type !== MessageType.Heartbeat) {
            rest.push(message);
            continue;
          }
          let list = early.get(message.to);
          if (list === undefined) early.set(message.to, list = []);
          list.push({ rangeId: r.rangeId, message });
        }
        rd.messages = rest;
      }
      if (rd.messages.length === 0) empty++;
    }
    for (const [to, messages] of early) this.#transmit(to, messages);
    return empty;
  }

  #send(readies: [Replica, Ready][]): void {
    const byNode = new Map<number, RangeMessage[]>();
    for (const [r, rd] of readies) {
      for (const message of rd.messages) {
        if (message.type === MessageType.Snap) {
          this.#sendSnapshot(r, message);
          continue;
        }
        let list = byNode.get(message.to);
        if (list === undefined) byNode.set(message.to, list = []);
        list.push({ rangeId: r.rangeId, message });
      }
    }
    for (const [to, messages] of byNode) this.#transmit(to, messages);
  }

  #sendSnapshot(r: Replica, message: RangeMessage["message"]): void {
    const deps = this.#deps;
    const to = message.to;
    const report = (ok: boolean) => {
      r.enqueueEvent(() => r.raw.reportSnapshot(to, ok ? "finish" : "failure"));
      this.wake();
    };
    const snapshot = buildOutgoingSnapshot(deps.engine, r.rangeId, message);
    if (snapshot === undefined) {
      report(false);
      return;
    }
    deps.logger.info("sending snapshot", {
      range_id: r.rangeId,
      to,
      index: snapshot.message.snapshot?.metadata.index,
    });
    this.#snapshotsOf.set(r, (this.#snapshotsOf.get(r) ?? 0) + 1);
    const sent: Promise<void> = deps.transport.sendSnapshot(to, snapshot).then(
      (ok) => report(ok),
      () => report(false),
    ).finally(() => {
      snapshot.close();
      this.#snapshotsInFlight.delete(sent);
      const n = this.#snapshotsOf.get(r)! - 1;
      if (n > 0) this.#snapshotsOf.set(r, n);
      else this.#snapshotsOf.delete(r);
    });
    this.#snapshotsInFlight.add(sent);
  }

  /**
   * Stops ticking and turning; waits for the turn in progress (and, up to `graceMs`, for
   * snapshots being streamed).
   */
  async stop(graceMs = 2000): Promise<void> {
    this.#stopped = true;
    this.#cancelTick?.();
    await this.#running;
    if (this.#snapshotsInFlight.size === 0) return;
    let cancel: (() => void) | undefined;
    const grace = new Promise<void>((resolve) => cancel = this.#deps.clock.after(graceMs, resolve));
    await Promise.race([Promise.allSettled([...this.#snapshotsInFlight]), grace]);
    cancel?.();
  }

  /** Whether the scheduler was stopped (or failed). */
  get stopped(): boolean {
    return this.#stopped;
  }
}

/** The error callers get from a stopped store. */
export function storeStoppedError(): RangeDbError {
  return new RangeDbError(
    ErrorCode.UNAVAILABLE,
    "Cannot serve the request as the store is stopping",
    { details: { ambiguous: true } },
  );
}
