/**
 * The node-level faults of the store simulation's safety phase, drawn every 10 ms from the
 * seed: partitions (the shapes of tests/harness/partition_shapes.ts: an isolated node,
 * majority/minority, bridge, ring), crashes and restarts, leader transfers, and splits at random
 * user keys and merges of random ranges requested on random nodes (as an operator would, through
 * `admin partition split|merge`), all while the others happen. Message faults live in the
 * network. Every fault and every split or merge outcome is one line of the fault log.
 *
 * @module
 */

import { isRangeDbError } from "../../../src/base/errors.ts";
import { randomPartition } from "../../harness/partition_shapes.ts";
import type { Rng } from "../rng.ts";
import { bytes, SETTLE_GRACE_MS } from "./client_calls.ts";
import type { SimCluster, SimNode } from "./cluster.ts";
import type { StoreFaultParams } from "./plan.ts";
import { clientCall } from "./sim_rpc.ts";

/** Milliseconds between two fault draws. */
export const FAULT_STEP_MS = 10;
/** Deadline of an operator's split or merge. */
const ADMIN_TIMEOUT_MS = 8000;

/** Counters of injected faults. */
export interface StoreFaultStats {
  partitions: number;
  crashes: number;
  transfers: number;
  splits: number;
  splitsDone: number;
  merges: number;
  mergesDone: number;
}

/** Injects the faults of one run. */
export class StoreFaults {
  readonly stats: StoreFaultStats = {
    partitions: 0,
    crashes: 0,
    transfers: 0,
    splits: 0,
    splitsDone: 0,
    merges: 0,
    mergesDone: 0,
  };
  /** One line per fault, prefixed with the simulated time. */
  readonly log: string[] = [];
  #partitionUntil = -1;
  #stopped = false;
  readonly #restartAt = new Map<SimNode, number>();

  constructor(
    private readonly cluster: SimCluster,
    private readonly rng: Rng,
    private readonly params: StoreFaultParams,
    private readonly splitKeys: () => string,
  ) {}

  /** Appends a line to the fault log. */
  note(what: string): void {
    this.log.push(`${this.cluster.base.monotonic()}ms ${what}`);
  }

  /** Draws faults every {@linkcode FAULT_STEP_MS} until {@linkcode StoreFaults.healAll}. */
  start(): void {
    const step = () => {
      if (this.#stopped) return;
      this.#step();
      this.cluster.base.after(FAULT_STEP_MS, step);
    };
    this.cluster.base.after(FAULT_STEP_MS, step);
  }

  /** Ends every fault: heals the network and restarts every crashed node. */
  async healAll(): Promise<void> {
    this.#stopped = true;
    this.cluster.net.heal();
    this.#partitionUntil = -1;
    for (const node of this.#restartAt.keys()) await this.cluster.start(node);
    this.#restartAt.clear();
    this.note("heal all");
  }

  #step(): void {
    const p = this.params;
    const now = this.cluster.base.monotonic();
    const c = this.cluster;
    if (this.#partitionUntil >= 0 && now >= this.#partitionUntil) {
      c.net.heal();
      this.#partitionUntil = -1;
      this.note("heal partition");
    } else if (this.#partitionUntil < 0 && this.rng.chance(p.partitionRate)) {
      this.#partition(now);
    }
    for (const [node, at] of this.#restartAt) {
      if (now < at) continue;
      this.#restartAt.delete(node);
      void c.start(node).then(() => this.note(`restart ${node.id}`));
    }
    // At most a minority down at once, so that the workload keeps going.
    const down = c.nodes.length - c.upNodes().length;
    if (this.rng.chance(p.crashRate) && down < Math.floor((c.nodes.length - 1) / 2)) {
      this.#crash(now);
    }
    if (this.rng.chance(p.transferRate)) this.#transfer();
    if (this.rng.chance(p.splitRate)) this.#split();
    if (this.rng.chance(p.mergeRate)) this.#merge();
  }

  #partition(now: number): void {
    const n = this.cluster.nodes.length;
    const shape = randomPartition(n, () => this.rng.next());
    const groups = shape.groups.map((g) => g.map((i) => i + 1));
    this.cluster.net.partition(groups);
    this.#partitionUntil = now +
      this.rng.range(this.params.partitionMs[0], this.params.partitionMs[1]);
    this.stats.partitions++;
    const shown = groups.map((g) => `{${g.join(",")}}`).join(" | ");
    this.note(`partition ${shape.name} (0-based): ${shown} until ${this.#partitionUntil}ms`);
  }

  #crash(now: number): void {
    const node = this.cluster.randomUp();
    if (node === undefined) return;
    this.cluster.crash(node);
    const p = this.params;
    this.#restartAt.set(node, now + this.rng.range(p.downMs[0], p.downMs[1]));
    this.stats.crashes++;
    this.note(`crash ${node.id}`);
  }

  #transfer(): void {
    const node = this.cluster.randomUp();
    const store = node?.running?.store;
    if (store === undefined) return;
    const led = [...store.replicas.values()].filter((r) =>
      r.isLeader && r.descriptor !== undefined
    );
    if (led.length === 0) return;
    const r = this.rng.pick(led);
    const others = r.descriptor!.replicas.map((d) => Number(d.nodeId)).filter((id) =>
      id !== node!.id
    );
    if (others.length === 0) return;
    const to = this.rng.pick(others);
    r.enqueueEvent(() => r.raw.transferLeader(to));
    this.stats.transfers++;
    this.note(`transfer range ${r.rangeId} leader ${node!.id} -> ${to}`);
  }

  #split(): void {
    const node = this.cluster.randomUp();
    if (node === undefined) return;
    const key = this.splitKeys();
    this.stats.splits++;
    const call = clientCall(
      this.cluster,
      node.id,
      ADMIN_TIMEOUT_MS + 500,
      "split",
      (st) => st.splitRange(bytes(key), { deadline: st.clock.now() + ADMIN_TIMEOUT_MS }),
      ADMIN_TIMEOUT_MS + SETTLE_GRACE_MS,
    );
    call.then(
      (out) => {
        this.stats.splitsDone++;
        this.note(
          `split at ${key} via ${node.id}: range ${out.left.rangeId} [${show(out.left.start)}, ${
            show(out.left.end)
          }) from ${out.right.rangeId}`,
        );
      },
      (err) => this.note(`split at ${key} via ${node.id} failed: ${brief(err)}`),
    );
  }

  #merge(): void {
    const node = this.cluster.randomUp();
    const store = node?.running?.store;
    if (store === undefined) return;
    const ids = [...store.replicas.values()]
      .filter((r) => r.descriptor !== undefined && r.rangeId !== 1)
      .map((r) => r.rangeId);
    if (ids.length === 0) return;
    const rangeId = this.rng.pick(ids);
    this.stats.merges++;
    const call = clientCall(
      this.cluster,
      node!.id,
      ADMIN_TIMEOUT_MS + 6000,
      "merge",
      (st) => st.mergeRange(rangeId, { deadline: st.clock.now() + ADMIN_TIMEOUT_MS }),
      // A merge that failed late aborts itself with 5 s more (range_merge.ts).
      ADMIN_TIMEOUT_MS + 5000 + SETTLE_GRACE_MS,
    );
    call.then(
      (out) => {
        this.stats.mergesDone++;
        this.note(
          `merge ${rangeId} via ${node!.id}: into ${out.merged.rangeId} [${
            show(out.merged.start)
          }, ${show(out.merged.end)})`,
        );
      },
      (err) => this.note(`merge ${rangeId} via ${node!.id} failed: ${brief(err)}`),
    );
  }
}

function show(key: Uint8Array): string {
  return JSON.stringify(new TextDecoder().decode(key));
}

function brief(err: unknown): string {
  return isRangeDbError(err) ? `${err.code} ${err.message}` : String(err);
}
