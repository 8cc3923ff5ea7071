/**
 * The nemesis of a fault run: a seeded schedule of faults against a {@linkcode TestCluster} of
 * real processes. Each round waits a healthy gap, injects one fault (or, in `mixed`, sometimes two
 * at once), holds it, and heals it:
 *
 * - `kill`: SIGKILL of the leader, a random node, a minority, or (now and then) every node, then a
 *   restart with the same flags and data directory;
 * - `pause`: SIGSTOP of the leader, a random node or a minority, then SIGCONT;
 * - `partition`: one of `partitionShapes` (renumbered at random) (isolated node, minority/majority, bridge,
 *   ring) with iptables rules in the nodes' network namespaces, then healed;
 * - `mixed`: any of the above, and a partition together with a kill or a pause.
 *
 * Every action is logged as a {@linkcode FaultEvent}. A node that exits without being killed is a
 * crash: it is recorded in `crashes` (with its output) and restarted so the run can go on.
 *
 * @module
 */
import type { TestCluster } from "../harness/cluster.ts";
import { type NetnsHosts, randomPartition } from "../harness/netns.ts";
import type { Rng } from "../sim/rng.ts";
import { sleepUnlessAborted, tail } from "../harness/cluster_support.ts";

/** The fault kinds of `deno task test:faults --faults`. */
export const FAULT_KINDS = ["none", "kill", "pause", "partition", "mixed"] as const;

/** One fault kind. */
export type FaultKind = typeof FAULT_KINDS[number];

/** Whether a fault kind needs one network namespace per node. */
export function needsNetns(kind: FaultKind): boolean {
  return kind === "partition" || kind === "mixed";
}

/** One action of the nemesis, for the run's log and summary. */
export interface FaultEvent {
  /** Milliseconds since the nemesis started. */
  at: number;
  action: "kill" | "kill-all" | "restart" | "pause" | "resume" | "partition" | "heal" | "crash";
  nodes: number[];
  detail?: string;
}

/** A node that exited although the nemesis had not killed it. */
export interface CrashReport {
  node: number;
  at: number;
  output: string;
}

/** Timing of the schedule, in milliseconds. */
export interface NemesisTiming {
  /** Healthy time between faults. @default [1000, 4000] */
  gap?: [number, number];
  /** How long a fault is held. @default [2000, 8000] */
  hold?: [number, number];
}

/** Injects and heals faults; see the module doc. */
export class Nemesis {
  readonly events: FaultEvent[] = [];
  readonly crashes: CrashReport[] = [];
  /** Problems of the harness itself (a restart that failed), which fail the run. */
  readonly errors: string[] = [];
  readonly #killed = new Set<number>();
  readonly #paused = new Set<number>();
  #partitioned = false;
  readonly #start = performance.now();
  readonly #gap: [number, number];
  readonly #hold: [number, number];

  /**
   * @param cluster the cluster under test (started)
   * @param net the nodes' namespaces; required for `partition` and `mixed`
   * @param kind what to inject
   * @param rng the run's seeded randomness (fork it for the nemesis)
   * @param log progress lines
   */
  constructor(
    readonly cluster: TestCluster,
    readonly net: NetnsHosts | undefined,
    readonly kind: FaultKind,
    readonly rng: Rng,
    readonly log: (message: string) => void,
    timing: NemesisTiming = {},
  ) {
    if (needsNetns(kind) && net === undefined) {
      throw new Error(`Cannot inject ${kind} faults as the nodes have no network namespaces`);
    }
    this.#gap = timing.gap ?? [1000, 4000];
    this.#hold = timing.hold ?? [2000, 8000];
  }

  /** Runs rounds until `signal` aborts; the fault in force then stays until {@linkcode healAll}. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.kind === "none") return;
    while (!signal.aborted) {
      await sleepUnlessAborted(this.rng.range(...this.#gap), signal);
      if (signal.aborted) break;
      await this.checkCrashes();
      await this.#inject(this.kind === "mixed" ? this.#mixedPick() : this.kind);
      await sleepUnlessAborted(this.rng.range(...this.#hold), signal);
      if (signal.aborted) break;
      await this.healAll();
    }
  }

  /** Heals every fault in force: heals the partition, continues paused nodes, restarts killed ones. */
  async healAll(): Promise<void> {
    if (this.#partitioned) {
      await this.net!.heal();
      this.#partitioned = false;
      this.#event("heal", []);
    }
    if (this.#paused.size > 0) {
      const nodes = [...this.#paused];
      for (const i of nodes) this.cluster.resume(i);
      this.#paused.clear();
      this.#event("resume", nodes);
    }
    await this.checkCrashes();
    if (this.#killed.size > 0) {
      const nodes = [...this.#killed].sort();
      this.#killed.clear();
      this.#event("restart", nodes);
      await Promise.all(nodes.map((i) => this.#restart(i)));
    }
  }

  /** The count of each action, for the summary. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.events) out[e.action] = (out[e.action] ?? 0) + 1;
    return out;
  }

  #mixedPick(): "kill" | "pause" | "partition" | "partition+" {
    return this.rng.pick(["kill", "pause", "partition", "partition+"] as const);
  }

  async #inject(kind: "kill" | "pause" | "partition" | "partition+"): Promise<void> {
    const n = this.cluster.nodes.length;
    switch (kind) {
      case "kill": {
        if (this.rng.chance(0.15)) {
          const all = [...Array(n).keys()];
          await this.#kill(all, "kill-all");
        } else {
          await this.#kill(await this.#victims(), "kill");
        }
        return;
      }
      case "pause":
        this.#pause(await this.#victims());
        return;
      case "partition":
        await this.#partition();
        return;
      case "partition+":
        await this.#partition();
        if (this.rng.chance(0.5)) await this.#kill([this.rng.int(n)], "kill");
        else this.#pause([this.rng.int(n)]);
        return;
    }
  }

  /** The leader (half the time), a random node, or a random minority. */
  async #victims(): Promise<number[]> {
    const n = this.cluster.nodes.length;
    const roll = this.rng.next();
    if (roll < 0.5) {
      const leader = await this.cluster.leaderIndex(2_000).catch(() => undefined);
      if (leader !== undefined) return [leader];
    }
    if (roll < 0.8 || n < 5) return [this.rng.int(n)];
    return this.rng.shuffled([...Array(n).keys()]).slice(0, Math.floor((n - 1) / 2));
  }

  async #kill(nodes: number[], action: "kill" | "kill-all"): Promise<void> {
    const live = nodes.filter((i) => !this.#killed.has(i));
    this.#event(action, live);
    await Promise.all(live.map(async (i) => {
      this.#paused.delete(i);
      this.#killed.add(i);
      await this.cluster.kill(i, "SIGKILL");
    }));
  }

  #pause(nodes: number[]): void {
    const live = nodes.filter((i) => !this.#killed.has(i) && !this.#paused.has(i));
    if (live.length === 0) return;
    this.#event("pause", live);
    for (const i of live) {
      this.cluster.pause(i);
      this.#paused.add(i);
    }
  }

  async #partition(): Promise<void> {
    const shape = randomPartition(this.cluster.nodes.length, () => this.rng.next());
    await this.net!.partition(shape.groups);
    this.#partitioned = true;
    this.#event("partition", [], `${shape.name}: ${this.net!.describe()}`);
  }

  async #restart(i: number): Promise<void> {
    try {
      await this.cluster.startNode(i);
    } catch (err) {
      this.errors.push(`Cannot restart node ${i}: ${err instanceof Error ? err.message : err}`);
    }
  }

  /** Records and restarts nodes that exited although nobody killed them. */
  async checkCrashes(): Promise<void> {
    for (const node of this.cluster.nodes) {
      const i = node.index;
      if (this.#killed.has(i) || this.cluster.isRunning(i)) continue;
      const at = Math.round(performance.now() - this.#start);
      this.crashes.push({ node: i, at, output: tail(this.cluster.stderrOf(i), 60) });
      this.#event("crash", [i]);
      this.log(`node ${i} exited on its own; restarting it`);
      await this.#restart(i);
    }
  }

  #event(action: FaultEvent["action"], nodes: number[], detail?: string): void {
    const event: FaultEvent = { at: Math.round(performance.now() - this.#start), action, nodes };
    if (detail !== undefined) event.detail = detail;
    this.events.push(event);
    this.log(`${(event.at / 1000).toFixed(1)}s ${action} ${nodes.join(",")} ${detail ?? ""}`);
  }
}
