/**
 * The simulated cluster: nodes, network and checkers wired together, driven one simulated
 * millisecond at a time by {@linkcode Cluster.step}.
 *
 * @module
 */

import {
  type ConfState,
  type Entry,
  EntryType,
  isRaftError,
  type Message,
  MessageType,
  type NodeId,
  type SoftState,
  StateType,
} from "../../src/raft/mod.ts";
import { AppliedStateCheck } from "./checks/applied_state.ts";
import { CommittedEntriesCheck } from "./checks/committed_entries.ts";
import { LeaderPerTermCheck } from "./checks/leader_per_term.ts";
import { LogMatchingCheck } from "./checks/log_matching.ts";
import { Clients } from "./clients.ts";
import type { FaultTarget } from "./faults.ts";
import { type KvCommand, type KvResult, KvStateMachine } from "./kv_state_machine.ts";
import { Network } from "./network.ts";
import { isMember, type NodeHooks, SimNode } from "./node.ts";
import type { SimPlan } from "./plan.ts";
import { SimStorage } from "./sim_storage.ts";
import type { Rng } from "./rng.ts";
import { TraceHash } from "./trace.ts";

/** The highest node id the injector may hand out (ids are never reused). */
const MAX_NODE_ID = 24;

/** The membership founding members start with: a snapshot at index 1, term 1. */
function bootstrapStorage(voters: NodeId[]): SimStorage {
  const s = new SimStorage();
  const cs: ConfState = {
    voters,
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
  s.applySnapshot({
    metadata: { index: 1, term: 1, confState: cs },
    data: new KvStateMachine().serialize(),
  });
  s.setHardState({ term: 1, vote: 0, commit: 1 });
  return s;
}

/** Nodes, network, clients and checkers of one run. */
export class Cluster implements FaultTarget, NodeHooks {
  readonly network: Network;
  readonly trace = new TraceHash();
  readonly clients: Clients;
  readonly leaders = new LeaderPerTermCheck();
  readonly logs = new LogMatchingCheck();
  readonly commits = new CommittedEntriesCheck();
  readonly states = new AppliedStateCheck();
  private readonly nodes = new Map<NodeId, SimNode>();
  /** Ids handed out for new members; the node is created when its first message arrives. */
  private readonly planned = new Set<NodeId>();
  /** Each node's tick period and next tick time: clocks drift apart. */
  private readonly clocks = new Map<NodeId, { period: number; next: number }>();
  private nextId: NodeId;
  private readonly confChangeIndexes = new Set<number>();
  /** Snapshots delivered to followers. */
  snapshotsDelivered = 0;
  now = 0;
  /** Called when a node sends a granted vote (the fault injector may crash it). */
  onVoteGranted: ((node: SimNode) => void) | undefined;

  constructor(readonly plan: SimPlan, private readonly rng: Rng) {
    this.network = new Network(rng.fork(), plan.network);
    this.clients = new Clients(rng.fork(), plan.clients, () => this.nodeList(), this.trace);
    const voters = Array.from({ length: plan.nodes }, (_, i) => i + 1);
    for (const id of voters) this.addNode(id, bootstrapStorage(voters));
    this.nextId = plan.nodes + 1;
  }

  /** Conf-change entries committed (each counted once). */
  get confChangesCommitted(): number {
    return this.confChangeIndexes.size;
  }

  /** Every node that exists, in id order. */
  nodeList(): SimNode[] {
    return [...this.nodes.values()];
  }

  liveNodes(): SimNode[] {
    return this.nodeList().filter((n) => !n.removedSelf);
  }

  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (!n.up || n.softState.raftState !== StateType.Leader) continue;
      if (best === undefined || n.term > best.term) best = n;
    }
    return best;
  }

  crash(node: SimNode): void {
    node.crash();
    this.trace.add(4, node.id, this.now);
  }

  restart(node: SimNode): void {
    if (node.up) return;
    node.start();
    this.trace.add(5, node.id, this.now);
  }

  newNodeId(): NodeId | undefined {
    if (this.nextId > MAX_NODE_ID) return undefined;
    const id = this.nextId++;
    this.planned.add(id);
    return id;
  }

  /** Advances the cluster to time `now`: deliveries, ticks, clients, Ready processing. */
  step(now: number): void {
    this.now = now;
    for (const m of this.network.deliverDue(now, (lost) => this.lost(lost))) this.deliver(m);
    for (const node of this.nodes.values()) {
      const clock = this.clocks.get(node.id)!;
      if (now < clock.next) continue;
      clock.next += clock.period;
      if (node.up) node.raw!.tick();
    }
    this.clients.step(now);
    for (const node of this.nodes.values()) {
      node.processReady(now);
      if (node.removedSelf && node.up && this.movedOnWithout(node)) {
        node.crash();
        this.trace.add(6, node.id, now);
        continue;
      }
      if (
        node.up && node.softState.raftState === StateType.Leader &&
        node.checkedLeaderTerm !== node.term
      ) {
        node.checkedLeaderTerm = node.term;
        this.commits.onLeader(node.id, node.term, node.storage);
      }
    }
  }

  /**
   * Tells whether a removed node is no longer needed: an up leader that is a member of its own
   * configuration has applied the removal, so the new configuration is committed and durable
   * there. Stopping the node earlier can leave the remaining voters needing its vote forever
   * (they may not know yet that its removal committed), as a real replica GC must also respect.
   */
  private movedOnWithout(removed: SimNode): boolean {
    for (const n of this.nodes.values()) {
      if (
        n !== removed && n.up && !n.removedSelf && isMember(n.confState, n.id) &&
        n.softState.raftState === StateType.Leader && n.applied >= removed.removedAt
      ) return true;
    }
    return false;
  }

  /**
   * The membership according to the up node that applied the most: nodes outside it are
   * stopped and members brought up (the liveness phase's operator).
   */
  reconcileMembership(): ConfState | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.up && (best === undefined || n.applied > best.applied)) best = n;
    }
    if (best === undefined) return undefined;
    const cs = best.confState;
    for (const n of this.nodes.values()) {
      // A node that removed itself is stopped by `step` once the cluster moved on without it.
      if (!isMember(cs, n.id) && n.up && !n.removedSelf) this.crash(n);
      else if (isMember(cs, n.id) && !n.up && !n.removedSelf) this.restart(n);
    }
    return cs;
  }

  private addNode(id: NodeId, storage: SimStorage): SimNode {
    const node = new SimNode(id, storage, this.plan.node, this.rng.fork(), this);
    this.nodes.set(id, node);
    const drift = this.plan.clockDriftMs;
    this.clocks.set(id, {
      period: this.plan.tickMs + this.rng.range(-drift, drift),
      next: this.now + this.rng.int(this.plan.tickMs),
    });
    node.start();
    return node;
  }

  private deliver(m: Message): void {
    let node = this.nodes.get(m.to);
    if (node === undefined && this.planned.has(m.to)) {
      this.planned.delete(m.to);
      node = this.addNode(m.to, new SimStorage());
      this.trace.add(7, m.to, this.now);
    }
    if (node === undefined || !node.up) {
      this.lost(m);
      return;
    }
    this.trace.add(1, m.from, m.to, m.type, m.term, m.index, m.commit, this.now);
    try {
      node.raw!.step(m);
    } catch (err) {
      if (!isRaftError(err, "ErrStepPeerNotFound")) throw err;
    }
    if (m.type === MessageType.Snap) {
      this.snapshotsDelivered++;
      this.nodes.get(m.from)?.raw?.reportSnapshot(m.to, "finish");
    }
  }

  /**
   * A message that never arrived. The sender's transport notices a cut link (a broken stream)
   * and failed snapshots, not single lost messages.
   */
  private lost(m: Message): void {
    const sender = this.nodes.get(m.from)?.raw;
    if (sender === undefined) return;
    if (m.type === MessageType.Snap) {
      sender.reportUnreachable(m.to);
      sender.reportSnapshot(m.to, "failure");
    } else if (!this.network.connected(m.from, m.to)) {
      sender.reportUnreachable(m.to);
    }
  }

  // NodeHooks

  send(node: SimNode, msgs: Message[]): void {
    for (const m of msgs) {
      if (m.type === MessageType.VoteResp && !m.reject) this.onVoteGranted?.(node);
      if (!this.network.send(m, this.now)) this.lost(m);
    }
    this.trace.add(8, node.id, msgs.length);
  }

  persisted(node: SimNode, entries: Entry[]): void {
    this.logs.onPersisted(node.id, entries, node.storage);
  }

  softState(node: SimNode, ss: SoftState, term: number): void {
    this.leaders.onSoftState(node.id, ss, term);
  }

  committed(node: SimNode, entry: Entry, term: number): void {
    this.trace.add(2, node.id, entry.index, entry.term);
    if (entry.type === EntryType.ConfChange) this.confChangeIndexes.add(entry.index);
    this.commits.onCommitted(node.id, entry, term);
  }

  applied(node: SimNode, index: number, digest: number): void {
    this.states.onApplied(node.id, index, digest);
  }

  commandApplied(node: SimNode, index: number, cmd: KvCommand, result: KvResult | undefined): void {
    this.clients.onCommandApplied(node, index, cmd, result);
  }

  readReady(node: SimNode, ctx: Uint8Array): void {
    this.clients.onReadReady(node, ctx);
  }
}
