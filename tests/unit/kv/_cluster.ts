/**
 * Test helpers for the multi-raft store: an in-process network that delivers `RangeMessage`
 * batches and snapshots between stores asynchronously (with partition and drop switches), and a
 * cluster of stores over real LMDB engines in temp dirs.
 *
 * @module
 */

import { SystemClock } from "../../../src/base/clock.ts";
import { ErrorCode, isRangeDbError, RangeDbError } from "../../../src/base/errors.ts";
import { createLogger, type LogLevel } from "../../../src/base/logger.ts";
import type { ClusterRouter } from "../../../src/kv/cluster_router.ts";
import {
  bootstrapCluster,
  type IncomingSnapshot,
  type OutgoingSnapshot,
  type RaftTransport,
  type RangeMessage,
  Store,
  type TransportHandler,
  type WriteResult,
} from "../../../src/kv/mod.ts";
import { encodeAppliedState, newAppliedState, newDescriptor } from "../../../src/kv/command.ts";
import { raftStateKey, RaftStateKind } from "../../../src/kv/keys.ts";
import { encodeHardState, encodeTruncatedState } from "../../../src/kv/raft_log_codec.ts";
import type { Replica } from "../../../src/kv/replica.ts";
import { type Engine, openLmdbEngine } from "../../../src/storage/mod.ts";

/** Delivers messages between in-process stores, each after a macrotask. */
export class InProcessNetwork {
  readonly handlers = new Map<number, TransportHandler>();
  /** Cut links, as "a>b" (one direction). */
  readonly cut = new Set<string>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  snapshotsSent = 0;
  /** Snapshots the receiving store refused. */
  snapshotsRefused = 0;
  /** Drops the messages it returns true for. */
  drop:
    | ((from: number, to: number, m: RangeMessage["message"], rangeId: number) => boolean)
    | undefined;

  /** Cuts both directions between `a` and every node of `others`. */
  isolate(a: number, others: number[]): void {
    for (const b of others) {
      this.cut.add(`${a}>${b}`);
      this.cut.add(`${b}>${a}`);
    }
  }

  /** Restores every link. */
  heal(): void {
    this.cut.clear();
  }

  #later(fn: () => void): void {
    const h = setTimeout(() => {
      this.#timers.delete(h);
      fn();
    }, 0);
    this.#timers.add(h);
  }

  /** The transport of node `from`. */
  transportFor(from: number): RaftTransport {
    return {
      send: (to: number, messages: RangeMessage[]) => {
        if (this.cut.has(`${from}>${to}`) || !this.handlers.has(to)) {
          this.#later(() => this.handlers.get(from)?.reportUnreachable(to));
          return;
        }
        const kept = messages.filter((m) => !this.drop?.(from, to, m.message, m.rangeId));
        const copy = structuredClone(kept);
        this.#later(() => {
          if (this.cut.has(`${from}>${to}`)) return;
          this.handlers.get(to)?.receive(from, copy);
        });
      },
      sendSnapshot: (to: number, snap: OutgoingSnapshot): Promise<boolean> => {
        let pairs;
        try {
          pairs = [...snap.pairs].map((p) => structuredClone(p));
        } finally {
          snap.close();
        }
        const handler = this.handlers.get(to);
        if (this.cut.has(`${from}>${to}`) || handler === undefined) return Promise.resolve(false);
        this.snapshotsSent++;
        const incoming: IncomingSnapshot = {
          rangeId: snap.rangeId,
          fromNodeId: from,
          message: structuredClone(snap.message),
          appliedState: snap.appliedState.slice(),
          pairs,
        };
        return handler.receiveSnapshot(incoming).then((ok) => {
          if (!ok) this.snapshotsRefused++;
          return ok;
        });
      },
    };
  }

  /** Cancels deliveries not yet made. */
  close(): void {
    for (const h of this.#timers) clearTimeout(h);
    this.#timers.clear();
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Text to bytes. */
export const b = (s: string): Uint8Array => enc.encode(s);
/** Bytes to text. */
export const s = (x: Uint8Array | undefined): string | undefined =>
  x === undefined ? undefined : dec.decode(x);

/** Sleeps `ms` on the real clock. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `cond` every 10 ms until it holds or `timeoutMs` passes. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await sleep(10);
  }
}

const RETRYABLE = new Set<string>([
  ErrorCode.UNAVAILABLE,
  ErrorCode.NOT_LEADER,
  ErrorCode.TIMEOUT,
  ErrorCode.RANGE_MOVED,
  ErrorCode.RANGE_NOT_FOUND,
]);

/**
 * The in-process {@linkcode ClusterRouter}: proposes on whichever store leads the key's range,
 * following NOT_LEADER, RANGE_MOVED and missing leaders until the deadline.
 */
export class InProcessRouter implements ClusterRouter {
  constructor(readonly stores: Map<number, Store>) {}

  async propose(key: Uint8Array, command: Uint8Array, deadline: number): Promise<Uint8Array> {
    for (;;) {
      const leader = [...this.stores.values()].find((st) => {
        try {
          return st.replicaFor(key).isLeader;
        } catch {
          return false;
        }
      });
      try {
        if (leader !== undefined) return await leader.proposeCommand(key, command, { deadline });
      } catch (err) {
        if (!RETRYABLE.has((err as { code?: string }).code ?? "")) throw err;
      }
      if (Date.now() > deadline) {
        throw new RangeDbError(ErrorCode.UNAVAILABLE, "Cannot propose as no leader took it");
      }
      await sleep(10);
    }
  }

  waitApplied(nodeId: number, rangeId: number, index: number, deadline: number): Promise<number> {
    const store = this.stores.get(nodeId);
    if (store === undefined) {
      return Promise.reject(
        new RangeDbError(ErrorCode.UNAVAILABLE, `Cannot reach node ${nodeId} as it is stopped`),
      );
    }
    return store.waitApplied(rangeId, index, { deadline });
  }

  async timestamps(count: number, deadline: number): Promise<bigint> {
    for (;;) {
      const oracle = [...this.stores.values()].find((st) => st.firstRange()?.isLeader);
      try {
        if (oracle !== undefined) return await oracle.allocateTimestamps(count, { deadline });
      } catch (err) {
        if (!RETRYABLE.has((err as { code?: string }).code ?? "")) throw err;
      }
      if (Date.now() > deadline) {
        throw new RangeDbError(
          ErrorCode.UNAVAILABLE,
          "Cannot get timestamps as no oracle answered",
        );
      }
      await sleep(10);
    }
  }
}

/** Options of a {@linkcode TestCluster}. */
export interface TestClusterOptions {
  /** Election timeout in 20 ms ticks. @default 25 */
  electionTick?: number;
  /** Log truncation of every store. @default the store's */
  logTruncation?: { threshold: number; keep: number };
  /** Ranges formed at once (see `writeRanges`); 1: range 1 over the whole key space. @default 1 */
  ranges?: number;
  /**
   * Whether the automatic split and merge queues run (with the bootstrap split at `_/`). Off by
   * default: most tests lay out their ranges by hand. @default false
   */
  rangeQueues?: boolean;
}

/** A cluster of stores in one process. */
export class TestCluster {
  readonly net = new InProcessNetwork();
  readonly dirs = new Map<number, string>();
  readonly engines = new Map<number, Engine>();
  readonly stores = new Map<number, Store>();
  readonly initialPeers = new Map<number, string>();
  readonly clock = new SystemClock();
  /** Nodes whose engine refuses every batch write (as if the disk failed before the fsync). */
  readonly failWrites = new Set<number>();
  /** Nodes whose batches with MVCC data wait for the promise before they are written. */
  readonly holdDataWrites = new Map<number, Promise<void>>();
  readonly router = new InProcessRouter(this.stores);
  options: TestClusterOptions = {};
  /**
   * Raft timing of the stores started from now on. 20 ms ticks, elections after 500–1000 ms:
   * short for tests, yet a machine busy with other test files (event-loop stalls of a few
   * hundred ms) does not depose a healthy leader.
   */
  raft = { tickIntervalMs: 20, electionTick: 25, heartbeatTick: 1 };

  /**
   * Creates the data dirs of nodes `1..n` and bootstraps them as the initial voters: range 1
   * over the whole key space, or with `ranges` > 1 that many ranges at once (see
   * {@linkcode writeRanges}).
   */
  static async create(n: number, options: TestClusterOptions = {}): Promise<TestCluster> {
    const c = new TestCluster();
    c.options = options;
    if (options.electionTick !== undefined) c.raft.electionTick = options.electionTick;
    const voters = Array.from({ length: n }, (_, i) => i + 1);
    for (const id of voters) c.initialPeers.set(id, `node-${id}:peer`);
    for (const id of voters) {
      const dir = await Deno.makeTempDir({ prefix: "rangedb-kv-" });
      c.dirs.set(id, dir);
      const engine = await openLmdbEngine(dir);
      if ((options.ranges ?? 1) > 1) await writeRanges(engine, voters, options.ranges!);
      else await bootstrapCluster(engine, { voters });
      await engine.close();
    }
    return c;
  }

  /**
   * Has node `voters[(id - 1) % n]` campaign for each range `id` of `1..ranges`, so that
   * leadership is spread and a cluster of many ranges elects without waiting out timeouts.
   */
  campaignSpread(ranges: number): void {
    const ids = [...this.stores.keys()].sort((a, b) => a - b);
    for (let id = 1; id <= ranges; id++) {
      const r = this.stores.get(ids[(id - 1) % ids.length])?.replicas.get(id);
      r?.enqueueEvent(() => r.raw.campaign());
    }
  }

  /** The replica leading range `rangeId`, if any node has one. */
  rangeLeader(rangeId: number): Replica | undefined {
    for (const st of this.stores.values()) {
      const r = st.replicas.get(rangeId);
      if (r?.isLeader) return r;
    }
    return undefined;
  }

  /** Starts (or restarts) node `id` from its data dir; a new id gets an empty dir. */
  async start(id: number): Promise<Store> {
    let dir = this.dirs.get(id);
    if (dir === undefined) {
      dir = await Deno.makeTempDir({ prefix: "rangedb-kv-" });
      this.dirs.set(id, dir);
    }
    const engine = await openLmdbEngine(dir);
    this.engines.set(id, engine);
    const write: Engine["write"] = async (batch, options) => {
      if (this.failWrites.has(id)) {
        throw new Error(`Cannot write batch as the test failed node ${id}'s disk`);
      }
      const hold = this.holdDataWrites.get(id);
      const ops = (batch as unknown as { ops: { keyspace: string }[] }).ops;
      if (hold !== undefined && ops.some((op) => op.keyspace === "data")) await hold;
      await engine.write(batch, options);
    };
    const failing = new Proxy(engine, {
      get(target, prop) {
        if (prop === "write") return write;
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const level = (Deno.env.get("KV_TEST_LOG") ?? "error") as LogLevel;
    const store = await Store.open({
      engine: failing,
      identity: { clusterId: "test", nodeId: id, name: `node-${id}`, incarnation: `inc-${id}` },
      self: {
        peerAddress: `node-${id}:peer`,
        clientAddress: `node-${id}:client`,
        adminAddress: `node-${id}:admin`,
      },
      initialPeers: this.initialPeers,
      transport: this.net.transportFor(id),
      clock: this.clock,
      logger: createLogger({ level, fields: { test_node: id } }),
      raft: this.raft,
      logTruncation: this.options.logTruncation,
      router: this.router,
      rangeQueues: this.options.rangeQueues ?? false,
    });
    this.stores.set(id, store);
    this.net.handlers.set(id, store);
    return store;
  }

  /** Starts every bootstrapped node. */
  async startAll(): Promise<void> {
    for (const id of this.dirs.keys()) await this.start(id);
  }

  /** Stops node `id` and closes its engine (its data dir stays). */
  async stop(id: number): Promise<void> {
    this.net.handlers.delete(id);
    await this.stores.get(id)?.stop();
    this.stores.delete(id);
    await this.engines.get(id)?.close();
    this.engines.delete(id);
  }

  /**
   * Puts through whichever store leads, retrying with one request id (so at most once) when
   * leadership moves under a busy machine, as a client would.
   */
  async put(key: Uint8Array, value: Uint8Array, timeoutMs = 10_000): Promise<WriteResult> {
    const requestId = crypto.randomUUID();
    const end = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await (await this.waitForLeader(timeoutMs)).put(key, value, { requestId });
      } catch (err) {
        const code = (err as { code?: string }).code;
        const retryable = code === "UNAVAILABLE" || code === "NOT_LEADER" || code === "TIMEOUT";
        if (!retryable || Date.now() > end) throw err;
        await sleep(20);
      }
    }
  }

  /**
   * Runs `fn` on whichever store leads, again on the new leader when leadership moves under a
   * busy machine (NOT_LEADER, UNAVAILABLE, TIMEOUT), as a client would. Use only for calls that
   * are safe to repeat.
   */
  async onLeader<T>(fn: (leader: Store) => Promise<T>, timeoutMs = 10_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await fn(await this.waitForLeader(timeoutMs));
      } catch (err) {
        const code = (err as { code?: string }).code;
        const retryable = code === "UNAVAILABLE" || code === "NOT_LEADER" || code === "TIMEOUT";
        if (!retryable || Date.now() > end) throw err;
        await sleep(20);
      }
    }
  }

  /** The store leading the range that holds `key`, if any. */
  leaderOf(key: Uint8Array): Store | undefined {
    for (const st of this.stores.values()) {
      try {
        if (st.replicaFor(key).isLeader) return st;
      } catch (err) {
        if (!isRangeDbError(err, ErrorCode.RANGE_NOT_FOUND)) throw err;
      }
    }
    return undefined;
  }

  /**
   * Runs `fn` on the store leading the range of `key`, again when leadership or the range moves
   * (NOT_LEADER, UNAVAILABLE, TIMEOUT, RANGE_MOVED), as a client would. Only for calls that are
   * safe to repeat (writes with a request id).
   */
  async onRangeLeader<T>(
    key: Uint8Array,
    fn: (leader: Store) => Promise<T>,
    timeoutMs = 10_000,
  ): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const leader = this.leaderOf(key);
      try {
        if (leader !== undefined) return await fn(leader);
      } catch (err) {
        if (!RETRYABLE.has((err as { code?: string }).code ?? "") || Date.now() > end) throw err;
      }
      if (Date.now() > end) throw new Error(`Timed out waiting for a leader of ${s(key)}`);
      await sleep(20);
    }
  }

  /** The store leading range 1, if any. */
  leader(): Store | undefined {
    for (const st of this.stores.values()) if (st.firstRange()?.isLeader) return st;
    return undefined;
  }

  /** Waits for a leader of range 1 whose timestamp oracle is ready. */
  async waitForLeader(timeoutMs = 5000): Promise<Store> {
    let found: Store | undefined;
    await waitFor(
      () => {
        found = this.leader();
        return found !== undefined && found.tso.ready;
      },
      timeoutMs,
      "a leader",
    );
    return found!;
  }

  /** Stops everything and removes the data dirs. */
  async close(): Promise<void> {
    for (const id of [...this.stores.keys()]) await this.stop(id);
    this.net.close();
    for (const dir of this.dirs.values()) await Deno.remove(dir, { recursive: true });
  }
}

const pad = (k: number) => String(k).padStart(6, "0");

/**
 * A key inside range `rangeId` of a cluster formed by {@linkcode writeRanges} with more than two
 * ranges: range 2 starts at the beginning of the key space, range `k + 2` at `/r<k>`.
 */
export function keyIn(rangeId: number): Uint8Array {
  if (rangeId === 1) return enc.encode("_/test/key");
  return enc.encode(rangeId === 2 ? "/a" : `/r${pad(rangeId - 2)}/key`);
}

/**
 * Writes the initial Raft state of ranges `1..count` on one node, as `bootstrapCluster` does for
 * range 1 (a snapshot at index 1, term 1, every voter a member), with disjoint spans: range 1
 * keeps `["_/", "")`, the rightmost; ranges 2..count cut `["", "_/")` at `/r000001`,
 * `/r000002`, …
 */
export async function writeRanges(engine: Engine, voters: number[], count: number): Promise<void> {
  const batch = engine.batch();
  const bound = (k: number) => enc.encode(`/r${pad(k)}`);
  for (let id = 1; id <= count; id++) {
    const start = id === 1 ? enc.encode("_/") : id === 2 ? new Uint8Array(0) : bound(id - 2);
    const end = id === 1 ? new Uint8Array(0) : id === count ? enc.encode("_/") : bound(id - 1);
    const applied = newAppliedState({
      appliedIndex: 1n,
      appliedTerm: 1n,
      nextNodeId: id === 1 ? BigInt(Math.max(...voters) + 1) : 0n,
      descriptor: newDescriptor({ rangeId: id, start, end, generation: 1, voters }),
    });
    batch.put(
      "raft_state",
      raftStateKey(id, RaftStateKind.HardState),
      encodeHardState({ term: 1, vote: 0, commit: 1 }),
    );
    batch.put(
      "raft_state",
      raftStateKey(id, RaftStateKind.TruncatedState),
      encodeTruncatedState({ index: 1, term: 1 }),
    );
    batch.put(
      "raft_state",
      raftStateKey(id, RaftStateKind.AppliedState),
      encodeAppliedState(applied),
    );
  }
  await engine.write(batch, { sync: true });
}
