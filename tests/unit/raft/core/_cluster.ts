/**
 * A tiny in-test message pump over {@linkcode RawNode}s with {@linkcode MemoryStorage}: persists,
 * sends, applies and advances every Ready, with partitions between nodes.
 *
 * @module
 */

import {
  type Config,
  decodeConfChange,
  EntryType,
  MemoryStorage,
  type Message,
  type NodeId,
  RawNode,
  type ReadState,
  StateType,
} from "../../../../src/raft/mod.ts";

/** A seeded pseudo-random source in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** One member of a {@linkcode TestCluster}. */
export interface TestMember {
  node: RawNode;
  storage: MemoryStorage;
  /** Data of applied normal entries, in order. */
  applied: string[];
  /** Read states handed out, in order. */
  readStates: ReadState[];
}

/** Nodes wired together in memory. */
export class TestCluster {
  readonly members = new Map<NodeId, TestMember>();
  private readonly cut = new Set<string>();
  /** Messages delivered so far, for assertions. */
  readonly delivered: Message[] = [];
  /** Messages for which this returns true are dropped. */
  drop: (m: Message) => boolean = () => false;

  /**
   * @param ids founding voters
   * @param overrides config fields to override for every node
   */
  constructor(ids: NodeId[], overrides: Partial<Config> = {}) {
    for (const id of ids) {
      const storage = MemoryStorage.fromConfState({
        voters: ids,
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      });
      this.add(id, storage, overrides);
    }
  }

  /** Adds a node over `storage`. */
  add(id: NodeId, storage: MemoryStorage, overrides: Partial<Config> = {}): TestMember {
    const node = new RawNode({
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      maxInflightMsgs: 256,
      random: seededRandom(id * 7919),
      ...overrides,
    });
    const m = { node, storage, applied: [], readStates: [] };
    this.members.set(id, m);
    return m;
  }

  /** The member `id`. */
  get(id: NodeId): TestMember {
    return this.members.get(id)!;
  }

  /** Cuts both directions between `a` and every node of `others`. */
  isolate(a: NodeId): void {
    for (const b of this.members.keys()) {
      if (b !== a) {
        this.cut.add(`${a}-${b}`);
        this.cut.add(`${b}-${a}`);
      }
    }
  }

  /** Cuts both directions between `a` and `b`. */
  cutBoth(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}-${b}`);
    this.cut.add(`${b}-${a}`);
  }

  /** Removes every partition. */
  heal(): void {
    this.cut.clear();
  }

  /** The ids of nodes that believe they are leader. */
  leaders(): NodeId[] {
    const out: NodeId[] = [];
    for (const [id, m] of this.members) {
      if (m.node.status().softState.raftState === StateType.Leader) out.push(id);
    }
    return out;
  }

  /** Ticks every node `n` times, pumping messages after each round. */
  tick(n: number): void {
    for (let i = 0; i < n; i++) {
      for (const m of this.members.values()) m.node.tick();
      this.pump();
    }
  }

  /** Handles Readies and delivers messages until the cluster is quiet. */
  pump(): void {
    for (let round = 0; round < 10000; round++) {
      const inFlight: Message[] = [];
      for (const [, m] of this.members) {
        if (!m.node.hasReady()) continue;
        const rd = m.node.ready();
        if (rd.snapshot) m.storage.applySnapshot(rd.snapshot);
        m.storage.append(rd.entries);
        if (rd.hardState) m.storage.setHardState(rd.hardState);
        inFlight.push(...rd.messages);
        m.readStates.push(...rd.readStates);
        for (const e of rd.committedEntries) {
          if (e.type === EntryType.ConfChange) m.node.applyConfChange(decodeConfChange(e.data));
          else if (e.data.length > 0) m.applied.push(new TextDecoder().decode(e.data));
        }
        m.node.advance();
      }
      if (inFlight.length === 0) return;
      for (const msg of inFlight) {
        if (this.cut.has(`${msg.from}-${msg.to}`) || this.drop(msg)) continue;
        const target = this.members.get(msg.to);
        if (target === undefined) continue;
        this.delivered.push(msg);
        target.node.step(msg);
      }
    }
    throw new Error("Cannot settle cluster as messages keep flowing: 10000 rounds");
  }
}
