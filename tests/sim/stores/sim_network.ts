/**
 * The store simulation's network: the peer transport of every store. Each batch of raft messages
 * (one scheduler turn's or tick's, for one node) is delivered after a drawn delay on the
 * simulation clock, or lost, or delivered twice; long delays reorder batches. Partitions cut the
 * links between groups of nodes (the shapes of tests/harness/partition_shapes.ts). A batch for a
 * crashed node, or over a cut link, is lost and the sender hears that the node is unreachable,
 * as from a broken gRPC stream. Snapshots travel whole after a delay; the sender learns whether
 * the receiver installed them, or times out.
 *
 * Every delivery is folded into the run's trace hash.
 *
 * @module
 */

import type { ManualClock } from "../../../src/base/clock.ts";
import type {
  IncomingSnapshot,
  OutgoingSnapshot,
  RaftTransport,
  RangeMessage,
  TransportHandler,
} from "../../../src/kv/mod.ts";
import { connected as groupsConnect } from "../../harness/partition_shapes.ts";
import type { Rng } from "../rng.ts";
import type { TraceHash } from "../trace.ts";
import type { StoreNetworkParams } from "./plan.ts";
import type { NodeClock } from "./sim_time.ts";

/** How long a snapshot sender waits for the receiver's answer. */
const SNAPSHOT_TIMEOUT_MS = 3000;

/** The network of a healed cluster (the liveness phase). */
export const CALM_STORE_NETWORK: StoreNetworkParams = {
  dropRate: 0,
  dupRate: 0,
  minDelayMs: 1,
  maxDelayMs: 3,
  longDelayRate: 0,
  longDelayMs: 0,
};

/** Counters of what the network did. */
export interface StoreNetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  snapshots: number;
  snapshotsInstalled: number;
}

interface Endpoint {
  handler: TransportHandler;
  clock: NodeClock;
}

/** Links between the simulated stores. */
export class SimNetwork {
  params: StoreNetworkParams;
  readonly stats: StoreNetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    snapshots: 0,
    snapshotsInstalled: 0,
  };
  /** The running incarnation of each node that is up. */
  readonly #up = new Map<number, Endpoint>();
  /** Groups of node ids that can talk (undefined: no partition). */
  #groups: number[][] | undefined;

  constructor(
    private readonly base: ManualClock,
    private readonly rng: Rng,
    params: StoreNetworkParams,
    private readonly trace: TraceHash,
  ) {
    this.params = params;
  }

  /** Registers node `id`'s running store (after a start or restart). */
  attach(id: number, handler: TransportHandler, clock: NodeClock): void {
    this.#up.set(id, { handler, clock });
  }

  /** Node `id` crashed: nothing reaches it until it is attached again. */
  detach(id: number): void {
    this.#up.delete(id);
  }

  /** Cuts the links between groups (node ids); a node in no group is isolated. */
  partition(groups: number[][]): void {
    this.#groups = groups;
  }

  /** Restores every link. */
  heal(): void {
    this.#groups = undefined;
  }

  /** Whether `a` and `b` can talk now (both up is not implied). */
  connected(a: number, b: number): boolean {
    return this.#groups === undefined || groupsConnect(this.#groups, a, b);
  }

  /** Whether a call from `a` reaches a running `b`. */
  reachable(a: number, b: number): boolean {
    return this.#up.has(b) && this.connected(a, b);
  }

  /** A delay drawn from the parameters. */
  delay(): number {
    const p = this.params;
    if (this.rng.chance(p.longDelayRate)) return this.rng.range(p.maxDelayMs, p.longDelayMs);
    return this.rng.range(p.minDelayMs, p.maxDelayMs);
  }

  /** The transport of node `from`'s incarnation running on `clock`. */
  transportFor(from: number, clock: NodeClock): RaftTransport {
    return {
      send: (to, messages) => {
        if (clock.alive) this.#send(from, to, messages, clock);
      },
      sendSnapshot: (to, snapshot) => this.#sendSnapshot(from, to, snapshot, clock),
    };
  }

  #unreachable(from: number, to: number, clock: NodeClock): void {
    clock.after(1, () => this.#up.get(from)?.handler.reportUnreachable(to));
  }

  #send(from: number, to: number, messages: RangeMessage[], clock: NodeClock): void {
    this.stats.sent++;
    if (!this.reachable(from, to)) {
      this.stats.dropped++;
      this.#unreachable(from, to, clock);
      return;
    }
    if (this.rng.chance(this.params.dropRate)) {
      this.stats.dropped++;
      return;
    }
    this.#deliverLater(from, to, structuredClone(messages));
    if (this.rng.chance(this.params.dupRate)) {
      this.stats.duplicated++;
      this.#deliverLater(from, to, structuredClone(messages));
    }
  }

  #deliverLater(from: number, to: number, messages: RangeMessage[]): void {
    this.base.after(this.delay(), () => {
      const target = this.#up.get(to);
      if (target === undefined || !this.connected(from, to)) {
        this.stats.dropped++;
        return;
      }
      this.stats.delivered++;
      this.trace.add(1, from, to, messages.length);
      for (const { rangeId, message: m } of messages) {
        this.trace.add(rangeId, m.type, m.term, m.index, m.commit, m.entries.length);
      }
      target.handler.receive(from, messages);
    });
  }

  #sendSnapshot(
    from: number,
    to: number,
    snap: OutgoingSnapshot,
    clock: NodeClock,
  ): Promise<boolean> {
    let pairs;
    try {
      pairs = [...snap.pairs].map((p) => structuredClone(p));
    } finally {
      snap.close();
    }
    if (!clock.alive) return new Promise(() => {});
    const incoming: IncomingSnapshot = {
      rangeId: snap.rangeId,
      fromNodeId: from,
      message: structuredClone(snap.message),
      appliedState: snap.appliedState.slice(),
      pairs,
    };
    this.stats.snapshots++;
    return new Promise((resolve) => {
      let done = false;
      const finish = (ok: boolean) => {
        if (done) return;
        done = true;
        if (ok) this.stats.snapshotsInstalled++;
        resolve(ok);
      };
      clock.after(SNAPSHOT_TIMEOUT_MS, () => finish(false));
      if (!this.reachable(from, to)) {
        clock.after(this.delay(), () => finish(false));
        return;
      }
      this.base.after(this.delay(), () => {
        const target = this.#up.get(to);
        if (target === undefined || !this.connected(from, to)) {
          clock.after(1, () => finish(false));
          return;
        }
        const meta = incoming.message.snapshot?.metadata;
        this.trace.add(2, from, to, incoming.rangeId, meta?.index ?? 0, pairs.length);
        target.handler.receiveSnapshot(incoming).then(
          (ok) => clock.after(this.delay(), () => finish(ok && this.connected(to, from))),
          () => clock.after(this.delay(), () => finish(false)),
        );
      });
    });
  }
}
