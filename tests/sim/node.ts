/**
 * One simulated replica: a RawNode, its "disk" (a SimStorage) and its volatile state machine.
 *
 * Durability model: the storage is the disk. A Ready is persisted a drawn delay after it was
 * taken (none when `fsyncDelayMs` is 0); only then are its messages sent, its committed entries
 * applied and `advance()` called. A crash discards the RawNode, the Ready being persisted and the state
 * machine; a restart rebuilds the state machine from the storage's last snapshot (the only
 * durable copy of applied state) and restarts the RawNode with `applied` = that snapshot's index,
 * so committed entries after it are applied again.
 *
 * @module
 */

import {
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  type Message,
  type NodeId,
  type PlantedBug,
  RawNode,
  type ReadOnlyOption,
  type ReadState,
  type Ready,
  type SoftState,
} from "../../src/raft/mod.ts";
import {
  decodeCommand,
  type KvCommand,
  type KvResult,
  KvStateMachine,
} from "./kv_state_machine.ts";
import { checkApplyOrder } from "./checks/apply_order.ts";
import type { Rng } from "./rng.ts";
import type { SimStorage } from "./sim_storage.ts";

/** What a node reports to the cluster (checkers, network, clients) while it works. */
export interface NodeHooks {
  /** Messages to send, after the Ready they came from was persisted. */
  send(node: SimNode, msgs: Message[]): void;
  /** Entries written to the node's disk (before a hard state pointing at them). */
  persisted(node: SimNode, entries: Entry[]): void;
  /** The role and leader the node reported, with its current term. */
  softState(node: SimNode, ss: SoftState, term: number): void;
  /** An entry handed out as committed, with the node's term at that point. */
  committed(node: SimNode, entry: Entry, term: number): void;
  /** The state machine reached applied index `index` with digest `digest`. */
  applied(node: SimNode, index: number, digest: number): void;
  /** A client command took effect (or was recognised as a retry) on this node. */
  commandApplied(node: SimNode, index: number, cmd: KvCommand, result: KvResult | undefined): void;
  /** A ReadIndex request can now be served from this node's state machine. */
  readReady(node: SimNode, ctx: Uint8Array): void;
}

/** Raft and durability parameters of a node, drawn from the seed. */
export interface NodeParams {
  electionTick: number;
  heartbeatTick: number;
  checkQuorum: boolean;
  preVote: boolean;
  disableProposalForwarding: boolean;
  readOnlyOption: ReadOnlyOption;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  /** Mean delay between taking a Ready and having it on disk, in ms (each write draws 0–2×). */
  fsyncDelayMs: number;
  /** Probability that the storage refuses a snapshot to Raft for now. */
  snapshotUnavailableRate: number;
  /** Take a state-machine snapshot every this many applied entries. */
  snapshotEvery: number;
  /** Entries kept in the log behind a snapshot when compacting. */
  compactionLag: number;
  plantedBugs: ReadonlySet<PlantedBug>;
}

/** Membership of `id` in `cs`. */
export function isMember(cs: ConfState, id: NodeId): boolean {
  return cs.voters.includes(id) || cs.learners.includes(id) || cs.votersOutgoing.includes(id) ||
    cs.learnersNext.includes(id);
}

/** A simulated replica. */
export class SimNode {
  /** The durable storage; survives crashes. */
  readonly storage: SimStorage;
  /** The running Raft node; undefined while the node is down. */
  raw: RawNode | undefined;
  /** The volatile state machine; undefined while the node is down. */
  sm: KvStateMachine | undefined;
  /** Membership as of `applied`. */
  confState: ConfState;
  applied = 0;
  /**
   * The node applied its own removal. It keeps running (it may still owe a vote to the remaining
   * voters, who may not know the removal committed) until the cluster has moved on; then the
   * cluster stops it for good.
   */
  removedSelf = false;
  /** The index of the entry that removed this node (meaningful when `removedSelf`). */
  removedAt = 0;
  /** The last role the node reported. */
  softState: SoftState = { lead: 0, raftState: 0 };
  /** Term of the last hard state the node produced. */
  term = 0;
  private pending: { rd: Ready; at: number } | undefined;
  /** Term at which the leader-completeness check last ran for this node. */
  checkedLeaderTerm = 0;
  private readQueue: ReadState[] = [];

  constructor(
    readonly id: NodeId,
    storage: SimStorage,
    private readonly params: NodeParams,
    private readonly rng: Rng,
    private readonly hooks: NodeHooks,
  ) {
    this.storage = storage;
    storage.rng = rng.fork();
    storage.unavailableRate = params.snapshotUnavailableRate;
    this.confState = storage.initialState().confState;
  }

  /** True while the node runs. */
  get up(): boolean {
    return this.raw !== undefined;
  }

  /** Starts (or restarts) the node from its durable state. */
  start(): void {
    const snap = this.storage.lastSnapshot();
    this.sm = KvStateMachine.restore(snap.data);
    this.applied = snap.metadata.index;
    this.confState = snap.metadata.confState;
    this.term = this.storage.initialState().hardState.term;
    this.softState = { lead: 0, raftState: 0 };
    const p = this.params;
    this.raw = new RawNode({
      id: this.id,
      electionTick: p.electionTick,
      heartbeatTick: p.heartbeatTick,
      storage: this.storage,
      applied: this.applied,
      maxSizePerMsg: p.maxSizePerMsg,
      maxInflightMsgs: p.maxInflightMsgs,
      checkQuorum: p.checkQuorum,
      preVote: p.preVote,
      disableProposalForwarding: p.disableProposalForwarding,
      readOnlyOption: p.readOnlyOption,
      random: () => this.rng.next(),
      plantedBugs: p.plantedBugs,
    });
  }

  /** Loses everything that is not on disk. */
  crash(): void {
    this.raw = undefined;
    this.sm = undefined;
    this.pending = undefined;
    this.readQueue = [];
    this.softState = { lead: 0, raftState: 0 };
  }

  /**
   * Persists, sends and applies what the node has ready, as far as the fsync delay allows at
   * `now`. Several Ready cycles may run in one call.
   */
  processReady(now: number): void {
    const raw = this.raw;
    if (raw === undefined) return;
    if (this.pending !== undefined) {
      if (now < this.pending.at) return;
      const rd = this.pending.rd;
      this.pending = undefined;
      this.finishReady(raw, rd);
    }
    for (let cycles = 0; cycles < 8 && this.raw === raw && raw.hasReady(); cycles++) {
      const rd = raw.ready();
      if (rd.softState !== undefined) {
        this.softState = rd.softState;
        this.hooks.softState(this, rd.softState, raw.status().hardState.term);
      }
      if (this.params.fsyncDelayMs > 0 && rd.mustSync) {
        this.pending = { rd, at: now + this.rng.range(0, 2 * this.params.fsyncDelayMs) };
        return;
      }
      this.finishReady(raw, rd);
    }
  }

  private finishReady(raw: RawNode, rd: Ready): void {
    if (rd.snapshot !== undefined) this.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) {
      this.storage.append(rd.entries);
      this.hooks.persisted(this, rd.entries);
    }
    if (rd.hardState !== undefined) {
      this.storage.setHardState(rd.hardState);
      this.term = rd.hardState.term;
    }
    if (rd.messages.length > 0) this.hooks.send(this, rd.messages);
    if (rd.snapshot !== undefined) this.installSnapshot(rd);
    for (const e of rd.committedEntries) {
      this.hooks.committed(this, e, this.term);
      this.applyEntry(raw, e);
    }
    for (const rs of rd.readStates) this.readQueue.push(rs);
    raw.advance();
    this.serveReads();
    this.maybeCompact();
  }

  private installSnapshot(rd: Ready): void {
    const snap = rd.snapshot!;
    this.sm = KvStateMachine.restore(snap.data);
    this.applied = snap.metadata.index;
    this.confState = snap.metadata.confState;
    this.hooks.applied(this, this.applied, this.sm.digest());
  }

  private applyEntry(raw: RawNode, e: Entry): void {
    const sm = this.sm!;
    checkApplyOrder(this.id, this.applied, e.index);
    if (e.type === EntryType.ConfChange) {
      const wasMember = isMember(this.confState, this.id);
      this.confState = raw.applyConfChange(decodeConfChange(e.data));
      if (wasMember && !isMember(this.confState, this.id)) {
        this.removedSelf = true;
        this.removedAt = e.index;
      }
    } else if (e.data.byteLength > 0) {
      const cmd = decodeCommand(e.data);
      this.hooks.commandApplied(this, e.index, cmd, sm.apply(cmd));
    }
    this.applied = e.index;
    this.hooks.applied(this, e.index, sm.digest());
  }

  private serveReads(): void {
    if (this.readQueue.length === 0) return;
    const waiting: ReadState[] = [];
    for (const rs of this.readQueue) {
      if (rs.index <= this.applied) this.hooks.readReady(this, rs.requestCtx);
      else waiting.push(rs);
    }
    this.readQueue = waiting;
  }

  /** Snapshots the state machine every `snapshotEvery` entries and compacts the log behind it. */
  private maybeCompact(): void {
    const snapIndex = this.storage.lastSnapshot().metadata.index;
    if (this.applied - snapIndex < this.params.snapshotEvery) return;
    this.storage.createSnapshot(this.applied, this.confState, this.sm!.serialize());
    const to = this.applied - this.params.compactionLag;
    if (to >= this.storage.firstIndex()) this.storage.compact(to);
  }
}
