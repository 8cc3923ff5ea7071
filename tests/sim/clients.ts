/**
 * Concurrent clients of the simulated key-value service and the history they record.
 *
 * Each client runs one operation at a time: put, cas, or get (through the log or through
 * ReadIndex). A log command keeps its sequence number across retries, so the state machine's
 * session table applies it at most once. Honest ambiguity: a write whose proposal was accepted by
 * some node but never answered before the client gave up is recorded with an unknown outcome
 * ("maybe"); a read that was never answered constrains nothing and is dropped.
 *
 * @module
 */

import { isRaftError, type NodeId } from "../../src/raft/mod.ts";
import type { HistoryOp, RegisterOp } from "../harness/linearizability.ts";
import { encodeCommand, type KvCommand, type KvResult } from "./kv_state_machine.ts";
import type { SimNode } from "./node.ts";
import type { Rng } from "./rng.ts";
import type { TraceHash } from "./trace.ts";

/** Workload parameters, drawn from the seed. */
export interface ClientParams {
  clients: number;
  keys: number;
  /** Share of reads served by ReadIndex instead of through the log. */
  readIndexRate: number;
  /** Time before an unanswered attempt is retried at another node, in ms. */
  attemptTimeoutMs: number;
  /** Time after which a client gives up on an operation, in ms. */
  giveUpMs: number;
  /** Upper bound of the pause between two operations of a client, in ms. */
  thinkMaxMs: number;
}

interface PendingOp {
  seq: number;
  key: string;
  /** The command for log operations; undefined for ReadIndex reads. */
  cmd: KvCommand | undefined;
  /** ReadIndex request contexts issued for this read (any of them may answer). */
  readCtxs: Set<string>;
  call: number;
  target: NodeId;
  deadline: number;
  giveUpAt: number;
  /** Some node accepted a proposal of this command: it may take effect. */
  accepted: boolean;
}

interface Client {
  id: number;
  /** The liveness phase's final write: one put that never gives up. */
  final: boolean;
  seq: number;
  op: PendingOp | undefined;
  nextAt: number;
  leaderGuess: NodeId;
  lastSeen: Map<string, string | null>;
}

/** Counters of the workload's outcomes. */
export interface ClientStats {
  ok: number;
  /** Reads answered through ReadIndex (the rest of `ok` went through the log). */
  readIndexOk: number;
  maybe: number;
  abandonedReads: number;
  proposalsDropped: number;
}

/** The clients of one run. */
export class Clients {
  /** Every completed or ambiguous operation, for the linearizability checker. */
  readonly history: HistoryOp[] = [];
  readonly stats: ClientStats = {
    ok: 0,
    readIndexOk: 0,
    maybe: 0,
    abandonedReads: 0,
    proposalsDropped: 0,
  };
  private readonly clients: Client[] = [];
  private readonly readOwners = new Map<string, Client>();
  private clock = 0;
  private nextReadId = 1;
  private nextValue = 1;
  private now = 0;
  /** Log index at which the final write was acknowledged, once it was. */
  finalIndex: number | undefined;

  constructor(
    private readonly rng: Rng,
    private readonly params: ClientParams,
    private readonly nodes: () => readonly SimNode[],
    private readonly trace: TraceHash,
  ) {
    for (let i = 1; i <= params.clients; i++) {
      this.clients.push({
        id: i,
        final: false,
        seq: 0,
        op: undefined,
        nextAt: rng.int(params.thinkMaxMs + 1),
        leaderGuess: 0,
        lastSeen: new Map(),
      });
    }
  }

  /** Starts new operations, retries and gives up, as due at `now`. */
  step(now: number): void {
    this.now = now;
    for (const c of this.clients) {
      const op = c.op;
      if (op === undefined) {
        if (!c.final && now >= c.nextAt) this.begin(c, now);
      } else if (now >= op.giveUpAt) {
        this.giveUp(c);
      } else if (now >= op.deadline) {
        this.attempt(c, op, now);
      }
    }
  }

  /** Starts the final write of the liveness phase; see {@linkcode Clients.finalIndex}. */
  startFinalWrite(now: number): void {
    const c: Client = {
      id: this.clients.length + 1,
      final: true,
      seq: 0,
      op: undefined,
      nextAt: now,
      leaderGuess: 0,
      lastSeen: new Map(),
    };
    this.clients.push(c);
    this.begin(c, now);
  }

  /** Records every operation still in progress as ambiguous (end of the run). */
  abandonAll(): void {
    for (const c of this.clients) if (c.op !== undefined) this.giveUp(c);
  }

  /** A node applied a client command: answers the client waiting on that node. */
  onCommandApplied(
    node: SimNode,
    index: number,
    cmd: KvCommand,
    result: KvResult | undefined,
  ): void {
    const c = this.clients[cmd.client - 1];
    const op = c?.op;
    if (op === undefined || op.cmd === undefined || op.seq !== cmd.seq) return;
    if (op.target !== node.id || result === undefined) return;
    let reg: RegisterOp;
    switch (result.kind) {
      case "put":
        reg = { kind: "write", value: (cmd as { value: string }).value };
        c.lastSeen.set(op.key, reg.value);
        break;
      case "get":
        reg = { kind: "read", value: result.value };
        c.lastSeen.set(op.key, result.value);
        break;
      case "cas": {
        const cas = cmd as Extract<KvCommand, { kind: "cas" }>;
        reg = { kind: "cas", expected: cas.expected, value: cas.value, ok: result.ok };
        if (result.ok) c.lastSeen.set(op.key, cas.value);
        break;
      }
    }
    if (c.final) this.finalIndex = index;
    this.finish(c, op, reg, node);
  }

  /** A ReadIndex request became servable on `node`: reads the value there. */
  onReadReady(node: SimNode, ctx: Uint8Array): void {
    const id = new TextDecoder().decode(ctx);
    const c = this.readOwners.get(id);
    const op = c?.op;
    if (c === undefined || op === undefined || !op.readCtxs.has(id)) return;
    if (op.target !== node.id) return;
    const value = node.sm!.get(op.key);
    c.lastSeen.set(op.key, value);
    this.stats.readIndexOk++;
    this.finish(c, op, { kind: "read", value }, node);
  }

  private finish(c: Client, op: PendingOp, reg: RegisterOp, node: SimNode): void {
    this.history.push({
      id: this.history.length + 1,
      key: op.key,
      call: op.call,
      ret: ++this.clock,
      op: reg,
    });
    this.trace.add(3, c.id, op.seq, node.id, this.clock);
    this.stats.ok++;
    this.release(c, op);
  }

  private release(c: Client, op: PendingOp): void {
    for (const id of op.readCtxs) this.readOwners.delete(id);
    c.op = undefined;
    c.nextAt = this.now + this.rng.int(this.params.thinkMaxMs + 1);
  }

  private giveUp(c: Client): void {
    const op = c.op!;
    const cmd = op.cmd;
    if (cmd !== undefined && cmd.kind !== "get" && op.accepted) {
      const reg: RegisterOp = cmd.kind === "put"
        ? { kind: "write", value: cmd.value }
        : { kind: "cas", expected: cmd.expected, value: cmd.value, ok: false };
      this.history.push({
        id: this.history.length + 1,
        key: op.key,
        call: op.call,
        ret: undefined,
        op: reg,
      });
      this.stats.maybe++;
    } else {
      this.stats.abandonedReads++;
    }
    this.release(c, op);
  }

  private begin(c: Client, now: number): void {
    const p = this.params;
    const key = c.final ? "final" : `k${this.rng.int(p.keys)}`;
    const seq = ++c.seq;
    const roll = c.final ? 0 : this.rng.next();
    let cmd: KvCommand | undefined;
    if (roll < 0.3) {
      cmd = { kind: "put", client: c.id, seq, key, value: `v${this.nextValue++}` };
    } else if (roll < 0.55) {
      const expected = c.lastSeen.get(key) ?? null;
      cmd = { kind: "cas", client: c.id, seq, key, expected, value: `v${this.nextValue++}` };
    } else if (!this.rng.chance(p.readIndexRate)) {
      cmd = { kind: "get", client: c.id, seq, key };
    }
    const op: PendingOp = {
      seq,
      key,
      cmd,
      readCtxs: new Set(),
      call: ++this.clock,
      target: 0,
      deadline: now,
      giveUpAt: c.final ? Infinity : now + p.giveUpMs,
      accepted: false,
    };
    c.op = op;
    this.attempt(c, op, now);
  }

  /** Sends the operation to the node the client believes leads, or to a random live node. */
  private attempt(c: Client, op: PendingOp, now: number): void {
    const live = this.nodes().filter((n) => n.up && !n.removedSelf);
    if (live.length === 0) {
      op.deadline = now + 10;
      return;
    }
    const guess = live.find((n) => n.id === c.leaderGuess);
    const node = guess !== undefined && this.rng.chance(0.8) ? guess : this.rng.pick(live);
    op.target = node.id;
    op.deadline = now + this.params.attemptTimeoutMs;
    const raw = node.raw!;
    let readCtx: Uint8Array | undefined;
    if (op.cmd === undefined) {
      const id = `r${c.id}.${this.nextReadId++}`;
      readCtx = new TextEncoder().encode(id);
      op.readCtxs.add(id);
      this.readOwners.set(id, c);
    }
    try {
      if (readCtx !== undefined) raw.readIndex(readCtx);
      else {
        raw.propose(encodeCommand(op.cmd!));
        op.accepted = true;
      }
    } catch (err) {
      if (!isRaftError(err, "ErrProposalDropped")) throw err;
      this.stats.proposalsDropped++;
      op.deadline = now + 5 + this.rng.int(20);
    }
    c.leaderGuess = node.softState.lead !== 0 ? node.softState.lead : c.leaderGuess;
  }
}
