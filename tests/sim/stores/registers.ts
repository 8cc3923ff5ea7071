/**
 * Register clients of the store simulation and the history they record for the linearizability
 * checker.
 *
 * Each client runs one operation at a time on the register keys: get, put, compare-and-swap, a
 * scan of a run of keys (read range by range: one read of each key), or (`batchRate`) a put of
 * 2–3 keys in one atomic batch, often across ranges. An attempt goes to
 * the node the last NOT_LEADER named, else to a random running node; a failed or unanswered
 * attempt is retried on another node with the same request id, so a write applies at most once.
 * Answers of earlier attempts still count. A write never answered before the client gives up is
 * recorded with an unknown outcome ("maybe"); a read never answered is dropped. A batch is
 * recorded as one write per key (each key's history must then still be linearizable).
 *
 * @module
 */

import { isRangeDbError } from "../../../src/base/errors.ts";
import type { HistoryOp, RegisterOp } from "../../harness/linearizability.ts";
import type { Rng } from "../rng.ts";
import type { TraceHash } from "../trace.ts";
import {
  bytes,
  digest,
  leaderHint,
  readKey,
  retried,
  scanKeys,
  SETTLE_GRACE_MS,
  text,
  writeBatch,
} from "./client_calls.ts";
import type { SimCluster } from "./cluster.ts";
import type { StoreClientParams } from "./plan.ts";
import { clientCall } from "./sim_rpc.ts";

type OpKind = "get" | "put" | "cas" | "batch" | "scan";

interface Op {
  kind: OpKind;
  keys: string[];
  /** New values (put, cas: one; batch: one per key). */
  values: string[];
  /** The value a cas expects (null: absent). */
  expected?: string | null;
  requestId: string;
  call: number;
  giveUpAt: number;
  done: boolean;
}

interface Client {
  id: number;
  seq: number;
  /** The operation in progress. */
  op: Op | undefined;
  hint: number | undefined;
  lastSeen: Map<string, string | null>;
}

/** What the register workload did. */
export interface RegisterStats {
  ok: number;
  maybe: number;
  abandonedReads: number;
  batches: number;
  crossRangeBatches: number;
  /** Scans answered (each a read of every register key in its span). */
  scans: number;
  retries: number;
}

/** The register keys of a run: `count` keys spread over `/00`…`/99`. */
export function registerKeys(count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) => `/${String(Math.floor(i * 100 / count)).padStart(2, "0")}`,
  );
}

/** The register clients of one run. */
export class RegisterClients {
  readonly history: HistoryOp[] = [];
  readonly stats: RegisterStats = {
    ok: 0,
    maybe: 0,
    abandonedReads: 0,
    batches: 0,
    crossRangeBatches: 0,
    scans: 0,
    retries: 0,
  };
  readonly keys: string[];
  #stopped = false;
  #nextValue = 1;
  readonly #clients: Client[] = [];

  /**
   * @param clock logical time of the history (shared with the other clients of the run)
   * @param fail fails the run (an error no client expects)
   */
  constructor(
    private readonly cluster: SimCluster,
    private readonly rng: Rng,
    private readonly params: StoreClientParams,
    private readonly trace: TraceHash,
    private readonly clock: { tick(): number },
    private readonly fail: (message: string) => void,
  ) {
    this.keys = registerKeys(params.keys);
    for (let i = 1; i <= params.registers; i++) {
      this.#clients.push({ id: i, seq: 0, op: undefined, hint: undefined, lastSeen: new Map() });
    }
  }

  /** Starts every client. */
  start(): void {
    for (const c of this.#clients) {
      this.#later(this.rng.int(this.params.thinkMaxMs + 1), () => this.#begin(c));
    }
  }

  /** Whether no operation is in progress. */
  get idle(): boolean {
    return this.#clients.every((c) => c.op === undefined);
  }

  /** Starts no new operation from now on (operations in progress finish or give up). */
  stop(): void {
    this.#stopped = true;
  }

  #later(ms: number, fn: () => void): void {
    this.cluster.base.after(ms, fn);
  }

  #begin(c: Client): void {
    if (this.#stopped) return;
    const p = this.params;
    const roll = this.rng.next();
    const key = this.rng.pick(this.keys);
    const value = () => `v${this.#nextValue++}${"x".repeat(p.valuePad)}`;
    let op: Omit<Op, "call" | "giveUpAt" | "done" | "requestId">;
    if (roll < p.batchRate) {
      const keys = this.rng.shuffled(this.keys).slice(0, this.rng.range(2, 3));
      op = { kind: "batch", keys, values: keys.map(value) };
    } else if (roll < p.batchRate + 0.25) {
      op = { kind: "put", keys: [key], values: [value()] };
    } else if (roll < p.batchRate + 0.5) {
      op = { kind: "cas", keys: [key], values: [value()], expected: c.lastSeen.get(key) ?? null };
    } else if (roll < p.batchRate + 0.6) {
      // A scan over a run of keys, often across ranges: one read of each key.
      const i = this.rng.int(this.keys.length);
      const j = Math.min(this.keys.length, i + 1 + this.rng.int(this.keys.length));
      op = { kind: "scan", keys: this.keys.slice(i, j), values: [] };
    } else {
      op = { kind: "get", keys: [key], values: [] };
    }
    const full: Op = {
      ...op,
      requestId: `c${c.id}.${++c.seq}`,
      call: this.clock.tick(),
      giveUpAt: this.cluster.base.monotonic() + p.giveUpMs,
      done: false,
    };
    c.op = full;
    this.#attempt(c, full);
  }

  #attempt(c: Client, op: Op): void {
    if (op.done) return;
    if (this.cluster.base.monotonic() >= op.giveUpAt) {
      this.#giveUp(c, op);
      return;
    }
    const hinted = c.hint === undefined ? undefined : this.cluster.node(c.hint);
    const node = hinted?.up && this.rng.chance(0.8) ? hinted : this.cluster.randomUp();
    if (node === undefined) {
      this.#later(20, () => this.#attempt(c, op));
      return;
    }
    const timeout = this.params.attemptTimeoutMs;
    const call = clientCall<unknown>(this.cluster, node.id, timeout, op.kind, (st) => {
      const deadline = st.clock.now() + timeout - 20;
      const key = op.keys[0];
      switch (op.kind) {
        case "get":
          return readKey(st, key, deadline);
        case "put":
          return st.put(bytes(key), bytes(op.values[0]), { deadline, requestId: op.requestId });
        case "cas":
          return st.compareAndSwap(
            {
              key: bytes(key),
              expected: op.expected === null ? undefined : bytes(op.expected!),
              value: bytes(op.values[0]),
            },
            { deadline, requestId: op.requestId },
          );
        case "batch":
          return writeBatch(this.cluster, st, op.keys, op.values, {
            deadline,
            requestId: op.requestId,
          });
        case "scan":
          return scanKeys(st, op.keys[0], op.keys[op.keys.length - 1], deadline);
      }
    }, timeout + SETTLE_GRACE_MS);
    call.then(
      (result) => this.#finish(c, op, node.id, result),
      (err) => {
        if (op.done) return;
        if (!retried(err)) {
          this.fail(
            `Cannot accept a ${op.kind} of ${
              op.keys.join(",")
            } as node ${node.id} failed it unexpectedly: ${
              isRangeDbError(err) ? `${err.code} ${err.message}` : String(err)
            }`,
          );
          return;
        }
        c.hint = leaderHint(err) ?? (c.hint === node.id ? undefined : c.hint);
        this.stats.retries++;
        this.#later(c.hint !== undefined ? 1 : this.rng.range(5, 30), () => this.#attempt(c, op));
      },
    );
  }

  #finish(c: Client, op: Op, nodeId: number, result: unknown): void {
    if (op.done) return;
    op.done = true;
    c.op = undefined;
    const ret = this.clock.tick();
    const record = (key: string, reg: RegisterOp) =>
      this.history.push({ id: this.history.length + 1, key, call: op.call, ret, op: reg });
    const key = op.keys[0];
    let observed: string | null = null;
    switch (op.kind) {
      case "get": {
        observed = result as string | null;
        record(key, { kind: "read", value: observed });
        c.lastSeen.set(key, observed);
        break;
      }
      case "put":
        observed = op.values[0];
        record(key, { kind: "write", value: observed });
        c.lastSeen.set(key, observed);
        break;
      case "cas": {
        const r = result as { succeeded: boolean; found: boolean; actual?: Uint8Array };
        const actual = r.succeeded ? undefined : r.found && r.actual ? text(r.actual) : null;
        record(key, {
          kind: "cas",
          expected: op.expected!,
          value: op.values[0],
          ok: r.succeeded,
          ...(r.succeeded ? {} : { actual: actual ?? null }),
        });
        observed = r.succeeded ? op.values[0] : actual ?? null;
        c.lastSeen.set(key, observed);
        break;
      }
      case "scan": {
        const found = result as Map<string, string>;
        for (const k of op.keys) {
          const v = found.get(k) ?? null;
          record(k, { kind: "read", value: v });
          c.lastSeen.set(k, v);
        }
        this.stats.scans++;
        observed = op.keys.map((k) => found.get(k) ?? "-").join();
        break;
      }
      case "batch":
        this.stats.batches++;
        if (result === true) this.stats.crossRangeBatches++;
        op.keys.forEach((k, i) => {
          record(k, { kind: "write", value: op.values[i] });
          c.lastSeen.set(k, op.values[i]);
        });
        observed = op.values.join();
        break;
    }
    this.stats.ok++;
    this.trace.add(3, c.id, c.seq, nodeId, op.kind.length, digest(observed));
    this.#later(this.rng.int(this.params.thinkMaxMs + 1), () => this.#begin(c));
  }

  #giveUp(c: Client, op: Op): void {
    op.done = true;
    c.op = undefined;
    if (op.kind === "get" || op.kind === "scan") {
      this.stats.abandonedReads++;
    } else {
      op.keys.forEach((key, i) => {
        const reg: RegisterOp = op.kind === "cas"
          ? { kind: "cas", expected: op.expected!, value: op.values[i], ok: false }
          : { kind: "write", value: op.values[i] };
        this.history.push({
          id: this.history.length + 1,
          key,
          call: op.call,
          ret: undefined,
          op: reg,
        });
      });
      this.stats.maybe++;
      // The client no longer knows the value.
      for (const k of op.keys) c.lastSeen.delete(k);
    }
    this.trace.add(4, c.id, c.seq);
    this.#later(this.rng.int(this.params.thinkMaxMs + 1), () => this.#begin(c));
  }

  /** Stops and records every operation still in progress as given up (the end of the run). */
  abandonAll(): void {
    this.#stopped = true;
    for (const c of this.#clients) if (c.op !== undefined) this.#giveUp(c, c.op);
  }
}
