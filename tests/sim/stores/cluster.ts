/**
 * The simulated cluster: K nodes, each a real {@linkcode Store} over its memory engine, its
 * {@linkcode NodeClock}, {@linkcode NodeDisk}, transport and {@linkcode SimRouter}, and the
 * cross-range batch committer the rpc layer would use (src/txn/batch_committer.ts).
 *
 * A crash drops the running store without waiting for anything: its clock dies (no timer of it
 * fires again), the network forgets it, its disk handle refuses further writes (the write in
 * progress is lost), and the engine keeps exactly the batches whose write completed. A restart
 * opens a new store over the same engine.
 *
 * @module
 */

import type { ManualClock } from "../../../src/base/clock.ts";
import { ErrorCode, RangeDbError } from "../../../src/base/errors.ts";
import { createLogger, type Logger } from "../../../src/base/logger.ts";
import { bootstrapCluster, Store } from "../../../src/kv/mod.ts";
import { createMemoryEngine, type MemoryEngine } from "../../../src/storage/memory_engine.ts";
import { batchCommitter, type CrossRangeBatch } from "../../../src/txn/batch_committer.ts";
import type { Rng } from "../rng.ts";
import type { StorePlan } from "./plan.ts";
import { NodeDisk } from "./sim_disk.ts";
import type { SimNetwork } from "./sim_network.ts";
import { SimRouter } from "./sim_router.ts";
import type { RpcWorld, Running } from "./sim_rpc.ts";
import { NodeClock } from "./sim_time.ts";

/** A node's running incarnation with its helpers. */
export interface Incarnation extends Running {
  disk: NodeDisk;
  router: SimRouter;
  /** Commits a batch over several ranges from this node (the rpc Batch handler's path). */
  committer: CrossRangeBatch;
  logger: Logger;
}

/** One simulated node. */
export class SimNode {
  /** The node's disk: survives its crashes. */
  readonly engine: MemoryEngine = createMemoryEngine();
  running: Incarnation | undefined;
  /** Starts so far (the first included). */
  starts = 0;

  constructor(readonly id: number, readonly rng: Rng, readonly skewMs: number) {}

  get up(): boolean {
    return this.running !== undefined;
  }
}

/** What the cluster reports to the run. */
export interface ClusterHooks {
  /** A bug surfaced inside a store (a failed turn, a throwing timer): the run fails. */
  fail(checker: string, message: string): void;
  /** A store call outlived its deadline on a running node: the run fails. */
  hung(message: string): void;
  /** Keeps a store's warning and error lines for the failure report. */
  log(line: string): void;
}

/** The nodes of one run. */
export class SimCluster implements RpcWorld {
  readonly nodes: SimNode[] = [];
  readonly #peers = new Map<number, string>();

  constructor(
    readonly plan: StorePlan,
    readonly base: ManualClock,
    readonly net: SimNetwork,
    private readonly rng: Rng,
    private readonly hooks: ClusterHooks,
  ) {
    for (let id = 1; id <= plan.nodes; id++) {
      const skew = plan.clockSkewMs === 0 ? 0 : rng.range(-plan.clockSkewMs, plan.clockSkewMs);
      this.nodes.push(new SimNode(id, rng.fork(), skew));
      this.#peers.set(id, `node-${id}:peer`);
    }
  }

  /** Writes range 1's initial state on every node and starts them all. */
  async startAll(): Promise<void> {
    const voters = this.nodes.map((n) => n.id);
    for (const n of this.nodes) await bootstrapCluster(n.engine, { voters });
    for (const n of this.nodes) await this.start(n);
  }

  hung(what: string, node: number, ms: number): void {
    this.hooks.hung(
      `Cannot end a ${what} on node ${node} as it still runs ${ms}ms after it started, past its deadline`,
    );
  }

  node(id: number): SimNode {
    return this.nodes[id - 1];
  }

  running(id: number): Running | undefined {
    return this.nodes[id - 1]?.running;
  }

  /** Opens a store over the node's engine (a start or a restart). */
  async start(node: SimNode): Promise<void> {
    if (node.running !== undefined) return;
    const id = node.id;
    const r = node.rng.fork();
    const random = () => r.next();
    const randomBytes = (buf: Uint8Array) => {
      for (let i = 0; i < buf.length; i++) buf[i] = r.nextU32() & 0xff;
      return buf;
    };
    const clock = new NodeClock(this.base, node.skewMs, (err) => {
      this.hooks.fail("store_exception", `A timer of node ${id} threw: ${describe(err)}`);
    });
    const maxDelay = this.plan.diskDelayMs[id - 1] ?? 0;
    const disk = new NodeDisk(node.engine, clock, () => maxDelay === 0 ? 0 : r.range(0, maxDelay));
    const logger = createLogger({
      level: "warn",
      clock,
      sink: (line) => this.hooks.log(line),
      fields: { sim_node: id },
    });
    // The router belongs to this incarnation (it dies with it), which exists once the store does.
    const self: { inc?: Incarnation } = {};
    const router = new SimRouter(this, () => self.inc!, (key, from) => this.leaderOf(key, from));
    const store = await Store.open({
      engine: disk,
      identity: { clusterId: "sim", nodeId: id, name: `node-${id}`, incarnation: `inc-${id}` },
      self: {
        peerAddress: `node-${id}:peer`,
        clientAddress: `node-${id}:client`,
        adminAddress: `node-${id}:admin`,
      },
      initialPeers: this.#peers,
      transport: this.net.transportFor(id, clock),
      clock,
      logger,
      raft: this.plan.raft,
      logTruncation: this.plan.logTruncation,
      random,
      randomBytes,
      router,
      rangeQueues: true,
      rangeThresholds: this.plan.thresholds,
      onWriteFailure: (cause, inWrite) => {
        this.hooks.fail(
          "store_failed",
          `Node ${id}'s store stopped as a turn failed ${inWrite ? "in" : "before"} its write: ${
            describe(cause)
          }`,
        );
        return new RangeDbError(ErrorCode.UNAVAILABLE, `Cannot continue as the turn failed`);
      },
    });
    const committer = batchCommitter({ router, store, clock, logger, random, randomBytes });
    const inc = self.inc = { id, store, clock, disk, router, committer, logger };
    node.running = inc;
    node.starts++;
    this.net.attach(id, store, clock);
  }

  /** Drops the node's store at once (see the module doc). */
  crash(node: SimNode): void {
    const inc = node.running;
    if (inc === undefined) return;
    node.running = undefined;
    this.net.detach(node.id);
    inc.clock.kill();
  }

  /** Kills every running store (the end of a run: nothing of it may run on). */
  killAll(): void {
    for (const n of this.nodes) this.crash(n);
  }

  /**
   * The first node (by id) that `from` can reach (itself included) whose replica of the range
   * holding `key` (or of range 1, for the timestamp oracle) leads.
   */
  leaderOf(key: Uint8Array | "oracle", from: number): number | undefined {
    for (const n of this.nodes) {
      const inc = n.running;
      if (inc === undefined || (n.id !== from && !this.net.connected(from, n.id))) continue;
      if (key === "oracle") {
        if (inc.store.firstRange()?.isLeader) return n.id;
        continue;
      }
      const r = inc.store.rangeSet.replicaHolding(key);
      if (r?.isLeader) return n.id;
    }
    return undefined;
  }

  /** The running nodes. */
  upNodes(): SimNode[] {
    return this.nodes.filter((n) => n.up);
  }

  /** A random running node, if any. */
  randomUp(): SimNode | undefined {
    const up = this.upNodes();
    return up.length === 0 ? undefined : this.rng.pick(up);
  }
}

/** A thrown value as text, with its stack when it has one. */
export function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
