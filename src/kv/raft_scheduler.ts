/**
 * {@linkcode RaftScheduler}: the one loop that drives every replica of a node (docs/design/0007).
 *
 * A turn: feed each replica what arrived since the last turn (ticks, messages, proposals,
 * reads), collect the `Ready` of every replica that has one, build ONE engine batch with all
 * their entries, hard states, snapshots, applied commands and applied states, send the leaders'
 * appends and heartbeats (see `#sendEarly`), answer the key-value writes that were applied
 * (`Replica.answerBeforeWrite`), write the batch with one fsync, then make the staged state
 * visible (storage caches, applied state), answer the other callers, send the other messages
 * grouped per destination node (snapshots on their own stream), and `advance()`. Only one batch
 * is in flight at a time: MVCC writes read the state the previous batch left, and what arrives
 * during a write waits for the next turn, so load batches itself. Tests can crash the process
 * just before and just after the write (`passCrashPoints`).
 *
 * @module
 */

import type { Clock } from "../base/clock.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { Logger } from "../base/logger.ts";
import { MessageType, type Ready, StateType } from "../raft/mod.ts";
import {
  CRASH_POINT_ARMED,
  type CrashPoint,
  crashPoint,
  crashPointAfterFlush,
  type Engine,
  type WriteBatch,
} from "../storage/mod.ts";
import { newApplyContext, type ReplicaLifecycle } from "./apply_context.ts";
import type { StoreMetrics } from "./metrics.ts";
import type { Replica } from "./replica.ts";
import { buildOutgoingSnapshot } from "./replica_snapshot.ts";
import type { RaftTransport, RangeMessage } from "./transport.ts";

/** What the scheduler needs from its store. */
export interface RaftSchedulerDeps {
  engine: Engine;
  transport: RaftTransport;
  clock: Clock;
  logger: Logger;
  metrics: StoreMetrics;
  nodeId: number;
  tickIntervalMs: number;
  /** The replicas to drive, read at every turn. */
  replicas(): Iterable<Replica>;
  /** Called on every tick, before the turn it triggers. */
  onTick(): void;
  /** Called after every turn that handled a Ready. */
  afterTurn(): void;
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

/** The turn loop of one node. */
export class RaftScheduler {
  readonly #deps: RaftSchedulerDeps;
  #scheduled = false;
  #running: Promise<void> | undefined;
  #stopped = false;
  #cancelTick: (() => void) | undefined;
  readonly #snapshotsInFlight = new Set<Promise<void>>();

  /** @param deps the store's services */
  constructor(deps: RaftSchedulerDeps) {
    this.#deps = deps;
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
      const now = this.#deps.clock.now();
      for (const r of this.#deps.replicas()) {
        r.enqueueTick();
        r.expire(now);
      }
      try {
        this.#deps.onTick();
      } catch (err) {
        this.#deps.logger.error("store tick failed", { error: String(err) });
      }
      this.wake();
      this.#scheduleTick();
    });
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
    let readies: [Replica, Ready][] = [];
    for (const r of deps.replicas()) {
      if (r.hasInbox()) r.drainInbox();
      if (r.raw.hasReady()) readies.push([r, r.raw.ready()]);
    }
    if (readies.length === 0) return;
    const engine = deps.engine;
    const batch = engine.batch();
    const ctx = newApplyContext(engine, batch, deps.nodeId, deps.logger, deps.lifecycle);
    let sync = false;
    let early = 0;
    try {
      for (const [r, rd] of readies) if (r.stageReady(rd, batch, ctx)) sync = true;
      deps.lifecycle.stageLifecycle(batch);
      // A replica merged away in this turn sends, answers and advances nothing more.
      readies = readies.filter(([r]) => !r.destroyed);
      early = this.#sendEarly(readies);
      let answered = 0;
      for (const [r] of readies) answered += r.answerBeforeWrite();
      if (CRASH_POINT_ARMED) await passCrashPoints(readies, "before-write", answered);
      if (batch.count > 0) {
        const start = deps.clock.monotonic();
        await this.#writeWithinLimit(batch, sync);
        deps.metrics.batchWritten(deps.clock.monotonic() - start, sync, batch.byteSize);
      }
    } catch (err) {
      for (const [r] of readies) r.discardReady();
      throw err;
    }
    if (CRASH_POINT_ARMED) await passCrashPoints(readies, "after-write");
    for (const [r, rd] of readies) r.commitReady(rd);
    if (early < readies.length) this.#send(readies);
    for (const [r] of readies) {
      r.raw.advance();
      deps.metrics.rangeState(r.rangeId, {
        term: r.term,
        commit: r.storage.hardState().commit,
        applied: r.appliedIndex,
      });
    }
    deps.lifecycle.afterLifecycle();
    deps.afterTurn();
    for (const [r] of readies) {
      if (r.raw.hasReady() || r.hasInbox()) {
        this.#scheduled = true;
        break;
      }
    }
  }

  /**
   * Writes the turn's batch; a write that fails, or that has not finished within `maxSyncMs` (a
   * stalled disk: the turn would otherwise wait forever and the node keep its leases on ranges
   * it cannot serve), throws a {@linkcode BatchWriteFailure}.
   */
  async #writeWithinLimit(batch: WriteBatch, sync: boolean): Promise<void> {
    const { engine, clock, maxSyncMs } = this.#deps;
    const write = engine.write(batch, { sync });
    if (!maxSyncMs) {
      await write.catch((cause) => {
        throw new BatchWriteFailure(cause);
      });
      return;
    }
    let cancel = () => {};
    const stalled = new Promise<never>((_, reject) => {
      cancel = clock.after(maxSyncMs, () => reject(diskStalledError(maxSyncMs)));
    });
    // A stalled write may still settle later; nobody waits for it then.
    write.catch(() => undefined);
    try {
      await Promise.race([write, stalled]);
    } catch (cause) {
      throw new BatchWriteFailure(cause);
    } finally {
      cancel();
    }
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
    for (const [to, messages] of early) this.#deps.transport.send(to, messages);
    return empty;
  }

  #send(readies: [Replica, Ready][]): void {
    const deps = this.#deps;
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
    for (const [to, messages] of byNode) deps.transport.send(to, messages);
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
    const sent: Promise<void> = deps.transport.sendSnapshot(to, snapshot).then(
      (ok) => report(ok),
      () => report(false),
    ).finally(() => {
      snapshot.close();
      this.#snapshotsInFlight.delete(sent);
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

/**
 * Passes the crash points of a turn (tests only; `src/storage/crash_points.ts`), one per kind of
 * content in the turn's batch and role of the replicas holding it: `log-append` (entries to
 * append), `hard-state` (a new term, vote or commit), `apply` (committed entries applied),
 * `snapshot-install` (a snapshot replacing a range). `before-write`: everything is staged, the
 * leaders' early appends and heartbeats are sent and applied key-value writes are answered, and
 * nothing of the batch is durable; the crash waits until those have left the process.
 * `after-write`: the batch is durable, and nothing is made visible, sent or advanced yet; the
 * crash is immediate.
 */
async function passCrashPoints(
  readies: [Replica, Ready][],
  when: "before-write" | "after-write",
  answered = 0,
): Promise<void> {
  const kinds = { leader: new Set<string>(), follower: new Set<string>() };
  for (const [r, rd] of readies) {
    const leads = rd.softState === undefined
      ? r.isLeader
      : rd.softState.raftState === StateType.Leader;
    const set = kinds[leads ? "leader" : "follower"];
    if (rd.entries.length > 0) set.add("log-append");
    if (rd.hardState !== undefined) set.add("hard-state");
    if (rd.committedEntries.length > 0) set.add("apply");
    if (rd.snapshot !== undefined) set.add("snapshot-install");
  }
  for (const role of ["leader", "follower"] as const) {
    for (const kind of kinds[role]) {
      const point = `${kind}:${when}` as CrashPoint;
      if (when === "after-write") crashPoint(point, role);
      else await crashPointAfterFlush(point, role, { answered });
    }
  }
}

/** The error of a batch write that did not finish within `maxSyncMs` (a stalled disk). */
export function diskStalledError(ms: number): RangeDbError {
  return new RangeDbError(
    ErrorCode.UNAVAILABLE,
    `Cannot write a raft batch as the disk stalled: the write and its fsync have not finished ` +
      `after ${ms} ms (--max-sync-duration)`,
    { details: { ambiguous: true, diskStalled: true } },
  );
}

/** Marks a failure of the engine's write, as opposed to one staging or applying a turn. */
class BatchWriteFailure extends Error {
  constructor(override readonly cause: unknown) {
    super(`Cannot write the turn's batch: ${cause}`);
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
