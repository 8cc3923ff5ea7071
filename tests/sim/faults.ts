/**
 * Cluster-level faults of the safety phase, drawn tick by tick from the run's seed: partitions of
 * every shape, crashes with restarts, membership changes and leader transfers. Message-level
 * faults (drop, duplication, delay, reordering) live in the network.
 *
 * @module
 */

import {
  type ConfChange,
  ConfChangeTransition,
  ConfChangeType,
  isRaftError,
  type NodeId,
} from "../../src/raft/mod.ts";
import type { Network } from "./network.ts";
import type { SimNode } from "./node.ts";
import type { FaultParams } from "./plan.ts";
import type { Rng } from "./rng.ts";

/** What the fault injector may do to the cluster. */
export interface FaultTarget {
  readonly network: Network;
  /** Nodes that exist and have not removed themselves. */
  liveNodes(): SimNode[];
  /** The up leader of the highest term, if any. */
  leader(): SimNode | undefined;
  crash(node: SimNode): void;
  restart(node: SimNode): void;
  /** Reserves an id for a node that is created on its first message. */
  newNodeId(): NodeId | undefined;
}

/** The largest membership (voters + learners) the injector grows a cluster to. */
const MAX_MEMBERS = 7;

/** Counters of injected faults. */
export interface FaultStats {
  partitions: number;
  crashes: number;
  confChanges: number;
  transfers: number;
}

/** Injects cluster-level faults. */
export class FaultInjector {
  readonly stats: FaultStats = { partitions: 0, crashes: 0, confChanges: 0, transfers: 0 };
  /** One line per injected fault, for verbose output. */
  readonly log: string[] = [];
  private partitionUntil = -1;
  private readonly restartAt = new Map<SimNode, number>();
  private crashQueue: SimNode[] = [];

  constructor(
    private readonly rng: Rng,
    private readonly params: FaultParams,
    private readonly target: FaultTarget,
  ) {}

  /** Draws this tick's faults. */
  step(now: number): void {
    const p = this.params;
    const t = this.target;
    if (this.partitionUntil >= 0 && now >= this.partitionUntil) {
      t.network.heal();
      this.partitionUntil = -1;
      this.note(now, "heal partition");
    } else if (this.partitionUntil < 0 && this.rng.chance(p.partitionRate)) {
      this.partition(now);
    }
    if (this.rng.chance(p.crashRate)) {
      const up = t.liveNodes().filter((n) => n.up);
      if (up.length > 0) this.crashNode(this.rng.pick(up), now, "crash");
    }
    if (this.rng.chance(p.confChangeRate)) this.changeMembership(now);
    if (this.rng.chance(p.transferRate)) this.transferLeader(now);
  }

  /** `node` just sent a granted vote: maybe crash it before it does anything else. */
  voteGranted(node: SimNode): void {
    if (this.rng.chance(this.params.crashAfterVoteRate)) this.crashQueue.push(node);
  }

  /**
   * Runs every simulated millisecond between two steps: crashes the nodes queued by
   * {@linkcode FaultInjector.voteGranted} and restarts the nodes whose downtime is over.
   */
  stepMs(now: number): void {
    for (const node of this.crashQueue) {
      if (node.up) this.crashNode(node, now, "crash after vote");
    }
    this.crashQueue = [];
    for (const [node, at] of this.restartAt) {
      if (now < at) continue;
      this.restartAt.delete(node);
      if (!node.removedSelf) {
        this.target.restart(node);
        this.note(now, `restart ${node.id}`);
      }
    }
  }

  /** Ends every fault: heals the network and restarts every crashed node. */
  healAll(now: number): void {
    this.target.network.heal();
    this.partitionUntil = -1;
    for (const node of this.restartAt.keys()) {
      if (!node.removedSelf) this.target.restart(node);
    }
    this.restartAt.clear();
    this.crashQueue = [];
    this.note(now, "heal all");
  }

  private crashNode(node: SimNode, now: number, what: string): void {
    const p = this.params;
    this.target.crash(node);
    this.restartAt.set(node, now + this.rng.range(p.downMs[0], p.downMs[1]));
    this.stats.crashes++;
    this.note(now, `${what} ${node.id}`);
  }

  private note(now: number, what: string): void {
    this.log.push(`${now}ms ${what}`);
  }

  private partition(now: number): void {
    const t = this.target;
    const ids = this.rng.shuffled(t.liveNodes().map((n) => n.id));
    if (ids.length < 2) return;
    const shape = this.rng.pick(this.params.partitionShapes);
    const side = new Map<NodeId, number>();
    let linked: (a: NodeId, b: NodeId) => boolean;
    switch (shape) {
      case "isolate":
        linked = (a, b) => a !== ids[0] && b !== ids[0];
        break;
      case "split": {
        const cut = this.rng.range(1, Math.floor(ids.length / 2));
        ids.forEach((id, i) => side.set(id, i < cut ? 0 : 1));
        linked = (a, b) => side.get(a) === side.get(b);
        break;
      }
      case "leader-minority": {
        // The leader keeps a minority of followers: it can append but never commit, and the
        // majority side elects a new leader that overwrites those entries.
        const leader = t.leader();
        if (leader !== undefined && ids.includes(leader.id)) {
          ids.splice(ids.indexOf(leader.id), 1);
          ids.unshift(leader.id);
        }
        const minority = Math.floor((ids.length - 1) / 2);
        ids.forEach((id, i) => side.set(id, i < minority ? 0 : 1));
        linked = (a, b) => side.get(a) === side.get(b);
        break;
      }
      case "ring": {
        // Each node reaches its ring neighbours within reach: overlapping majorities, none
        // seeing the whole cluster.
        const majority = Math.floor(ids.length / 2) + 1;
        const reach = Math.ceil((majority - 1) / 2);
        ids.forEach((id, i) => side.set(id, i));
        linked = (a, b) => {
          const d = Math.abs(side.get(a)! - side.get(b)!);
          return Math.min(d, ids.length - d) <= reach;
        };
        break;
      }
      case "bridge": {
        // Two halves that only one node connects.
        const half = Math.floor((ids.length - 1) / 2);
        ids.forEach((id, i) => side.set(id, i === 0 ? 2 : i <= half ? 0 : 1));
        linked = (a, b) => side.get(a) === 2 || side.get(b) === 2 || side.get(a) === side.get(b);
        break;
      }
      case "oneway": {
        const victim = ids[0];
        linked = (a, _b) => a !== victim;
        break;
      }
    }
    for (const a of ids) {
      for (const b of ids) if (a !== b) t.network.setLink(a, b, linked(a, b));
    }
    this.partitionUntil = now +
      this.rng.range(this.params.partitionMs[0], this.params.partitionMs[1]);
    this.stats.partitions++;
    this.note(now, `partition ${shape} [${ids.join(",")}] until ${this.partitionUntil}ms`);
  }

  private changeMembership(now: number): void {
    const leader = this.target.leader();
    if (leader === undefined) return;
    const cfg = leader.raw!.status().config;
    const empty = new Uint8Array(0);
    if (cfg.votersOutgoing.length > 0) {
      // Joint configurations entered with JointExplicit wait for an explicit empty change.
      if (!cfg.autoLeave) {
        this.propose(leader, now, {
          transition: ConfChangeTransition.Auto,
          changes: [],
          context: empty,
        });
      }
      return;
    }
    const voters = cfg.voters, learners = cfg.learners;
    const members = voters.length + learners.length;
    const options: (() => ConfChange | undefined)[] = [];
    const single = (type: ConfChangeType, nodeId: NodeId): ConfChange => ({
      transition: ConfChangeTransition.Auto,
      changes: [{ type, nodeId }],
      context: empty,
    });
    const fresh = (type: ConfChangeType) => () => {
      const id = this.target.newNodeId();
      return id === undefined ? undefined : single(type, id);
    };
    if (members < MAX_MEMBERS) {
      options.push(fresh(ConfChangeType.AddLearnerNode), fresh(ConfChangeType.AddNode));
    }
    if (learners.length > 0) {
      const l = this.rng.pick(learners);
      options.push(() => single(ConfChangeType.AddNode, l));
      options.push(() => single(ConfChangeType.RemoveNode, l));
      if (voters.length > this.params.minVoters) {
        const v = this.rng.pick(voters);
        options.push(() => ({
          transition: this.rng.pick([
            ConfChangeTransition.JointImplicit,
            ConfChangeTransition.JointExplicit,
          ]),
          changes: [
            { type: ConfChangeType.AddNode, nodeId: l },
            { type: ConfChangeType.RemoveNode, nodeId: v },
          ],
          context: empty,
        }));
      }
    }
    if (voters.length > this.params.minVoters) {
      const v = this.rng.pick(voters);
      options.push(() => single(ConfChangeType.RemoveNode, v));
      options.push(() => single(ConfChangeType.AddLearnerNode, v));
    }
    if (options.length === 0) return;
    const cc = this.rng.pick(options)();
    if (cc !== undefined) this.propose(leader, now, cc);
  }

  private propose(leader: SimNode, now: number, cc: ConfChange): void {
    try {
      leader.raw!.proposeConfChange(cc);
    } catch (err) {
      if (!isRaftError(err, "ErrProposalDropped")) throw err;
      return;
    }
    this.stats.confChanges++;
    const what = cc.changes.map((c) => `${["add", "remove", "addLearner"][c.type]} ${c.nodeId}`);
    this.note(now, `conf change via ${leader.id}: ${what.join(" + ") || "leave joint"}`);
  }

  private transferLeader(now: number): void {
    const leader = this.target.leader();
    if (leader === undefined) return;
    const voters = leader.raw!.status().config.voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    const to = this.rng.pick(voters);
    leader.raw!.transferLeader(to);
    this.stats.transfers++;
    this.note(now, `transfer leader ${leader.id} -> ${to}`);
  }
}
