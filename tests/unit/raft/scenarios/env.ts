/**
 * {@linkcode ScenarioEnv}: the world a scenario file acts on — real RawNodes over MemoryStorage,
 * a queue of messages in flight that only the scenario delivers, link cuts, and the output text.
 *
 * The caller loop is etcd's synchronous one: a Ready is persisted whole (snapshot, entries, hard
 * state) before its messages join the queue, then committed entries are applied (ConfChange
 * entries through `applyConfChange`) and `advance()` is called.
 *
 * @module
 */

import {
  type Config,
  type ConfState,
  decodeConfChange,
  describeMessage,
  describeMessageType,
  describeReady,
  EntryType,
  isRaftError,
  MemoryStorage,
  type Message,
  type NodeId,
  RawNode,
} from "../../../../src/raft/mod.ts";

/** The node options a scenario chooses; the env supplies storage, random and logger. */
export type ScenarioNodeOptions = Omit<Config, "id" | "storage" | "random" | "logger" | "applied">;

/** One replica of the scenario cluster. */
export interface ScenarioNode {
  id: NodeId;
  storage: MemoryStorage;
  /** Undefined while the node is crashed. */
  rawNode: RawNode | undefined;
  options: ScenarioNodeOptions;
  /** The membership as of the last applied entry (used when compacting). */
  confState: ConfState;
  /** The value the injected random source returns; 0 makes the election timeout electionTick. */
  randomValue: number;
}

/** The log thresholds by name, lowest (most verbose) first. */
export const LEVELS = { debug: 0, info: 1, warn: 2, none: 3 } as const;
/** A log threshold of {@linkcode ScenarioEnv}. */
export type LogLevel = keyof typeof LEVELS;

function linkKey(a: NodeId, b: NodeId): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

/** The state shared by all command handlers of one scenario file. */
export class ScenarioEnv {
  readonly nodes = new Map<NodeId, ScenarioNode>();
  /** Messages sent and not yet delivered, in sending order. */
  messages: Message[] = [];
  /** Messages held back by `stash-msgs`, released later (delay and reordering). */
  stashed: Message[] = [];
  /** Cut links ("1-2"); a message over a cut link is dropped when delivered. */
  readonly cuts = new Set<string>();
  logLevel: LogLevel = "info";
  private lines: string[] = [];
  private indent = "";

  /** Appends one output line at the current indentation. */
  print(line: string): void {
    this.lines.push(this.indent + line);
  }

  /** Runs `fn` with its output indented by two more spaces. */
  indented(fn: () => void): void {
    const saved = this.indent;
    this.indent += "  ";
    try {
      fn();
    } finally {
      this.indent = saved;
    }
  }

  /** Returns and clears the output of the current command ("ok" when it printed nothing). */
  takeOutput(): string {
    const out = this.lines.length === 0 ? "ok" : this.lines.join("\n");
    this.lines = [];
    this.indent = "";
    return out;
  }

  /** The node with this id. @throws {Error} when there is none */
  node(id: NodeId): ScenarioNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`Cannot find node as it does not exist: id is ${id}`);
    return n;
  }

  /** The running RawNode of this id. @throws {Error} when crashed */
  raw(id: NodeId): RawNode {
    const rn = this.node(id).rawNode;
    if (rn === undefined) throw new Error(`Cannot use node as it is crashed: id is ${id}`);
    return rn;
  }

  /** Ids of the running nodes, ascending. */
  runningIds(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.rawNode !== undefined).map((n) => n.id)
      .sort((a, b) => a - b);
  }

  /** Starts (or restarts) the RawNode of `n` from its persisted storage. */
  start(n: ScenarioNode): void {
    const log = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
      if (LEVELS[level] < LEVELS[this.logLevel]) return;
      // The line is already prefixed by the node id.
      const extra = Object.entries(fields ?? {}).filter(([k]) => k !== "node_id")
        .map(([k, v]) => ` ${k}=${JSON.stringify(v)}`);
      this.print(`${level.toUpperCase()} ${n.id} ${msg}${extra.join("")}`);
    };
    const snap = n.storage.snapshot();
    n.confState = snap.metadata.confState;
    n.rawNode = new RawNode({
      ...n.options,
      id: n.id,
      storage: n.storage,
      applied: snap.metadata.index,
      random: () => n.randomValue,
      logger: { debug: log("debug"), info: log("info"), warn: log("warn") },
    });
  }

  /** Cuts (or, with `cut` false, restores) the link between two nodes. */
  setLink(a: NodeId, b: NodeId, cut: boolean): void {
    if (cut) this.cuts.add(linkKey(a, b));
    else this.cuts.delete(linkKey(a, b));
  }

  /** Runs `fn`, printing a thrown RaftError as `error: <code>` instead of failing. */
  catchRaftError(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (!isRaftError(err)) throw err;
      this.print(`error: ${err.code}`);
    }
  }

  /**
   * Handles one Ready of node `id` the way a correct caller does, printing it.
   *
   * @param id the node
   */
  processReady(id: NodeId): void {
    const n = this.node(id);
    const rn = this.raw(id);
    if (!rn.hasReady()) {
      this.print("<empty Ready>");
      return;
    }
    const rd = rn.ready();
    for (const line of describeReady(rd)) this.print(line);
    if (rd.snapshot !== undefined) {
      n.storage.applySnapshot(rd.snapshot);
      n.confState = rd.snapshot.metadata.confState;
    }
    n.storage.append(rd.entries);
    if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
    this.messages.push(...rd.messages);
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.ConfChange) {
        n.confState = rn.applyConfChange(decodeConfChange(e.data));
      }
    }
    rn.advance();
  }

  /**
   * Takes the queued messages addressed to `id` (optionally only of one printed type).
   *
   * @param id the recipient
   * @param type e.g. "MsgApp"; all types when undefined
   * @returns the messages, removed from the queue
   */
  takeMessages(id: NodeId, type?: string): Message[] {
    const taken: Message[] = [];
    this.messages = this.messages.filter((m) => {
      const hit = m.to === id && (type === undefined || describeMessageType(m.type) === type);
      if (hit) taken.push(m);
      return !hit;
    });
    return taken;
  }

  /**
   * Steps each message into its recipient, printing it; messages over a cut link or to a crashed
   * node are printed as dropped.
   *
   * @param msgs messages to deliver, in order
   */
  deliver(msgs: Message[]): void {
    for (const m of msgs) {
      const rn = this.nodes.get(m.to)?.rawNode;
      if (rn === undefined || this.cuts.has(linkKey(m.from, m.to))) {
        this.print(`dropped: ${describeMessage(m)}`);
        continue;
      }
      this.print(describeMessage(m));
      this.catchRaftError(() => rn.step(m));
    }
  }
}
