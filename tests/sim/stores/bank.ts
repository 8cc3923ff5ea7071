/**
 * Bank clients of the store simulation: each owns a few accounts spread over the key space and
 * moves money between two of them with one atomic batch (across ranges: the two-phase commit).
 *
 * A client reads its accounts (per key: a read that meets a batch's intent waits for it or
 * settles it), picks an amount its source holds, and writes both new balances in one batch with
 * one request id, retried on another node until it succeeds or the client gives up. Attempts run
 * one at a time, each until its node answers or crashes: once a transfer ends, no coordinator of
 * it runs on, so the next reads see its outcome or settle it (a coordinator that crashed after
 * proposing its decision left intents on every key). Being the only writer of its accounts, a
 * client therefore keeps their total constant; the run checks it at the end, and every read
 * checks that no balance is negative.
 *
 * @module
 */

import { isRangeDbError } from "../../../src/base/errors.ts";
import type { Rng } from "../rng.ts";
import type { TraceHash } from "../trace.ts";
import {
  digest,
  leaderHint,
  readKey,
  retried,
  SETTLE_GRACE_MS,
  writeBatch,
} from "./client_calls.ts";
import type { SimCluster } from "./cluster.ts";
import type { StoreClientParams } from "./plan.ts";
import { clientCall } from "./sim_rpc.ts";

/** Every account starts with this balance. */
export const INITIAL_BALANCE = 100;

/** What the bank workload did. */
export interface BankStats {
  transfers: number;
  unknownTransfers: number;
  reads: number;
}

interface Account {
  key: string;
}

/** The accounts of bank client `i` (0-based) of `clients`, spread over the key space. */
export function bankAccounts(i: number, clients: number, perClient: number): string[] {
  const n = clients * perClient;
  return Array.from({ length: perClient }, (_, j) => {
    const slot = j * clients + i;
    return `/${String(Math.floor(slot * 100 / n)).padStart(2, "0")}/acct${i}.${j}`;
  });
}

/** One bank client. */
export class BankClient {
  readonly accounts: Account[];
  #stopped = false;
  #seq = 0;
  #hint: number | undefined;
  /** Whether the opening deposit is known to have applied. */
  opened = false;
  /** What the client is doing, for failure reports. */
  status = "starting";

  /**
   * @param keys the client's accounts
   * @param fail fails the run with an error no client expects
   * @param violate fails the run with a broken bank invariant (a balance read negative or absent)
   */
  constructor(
    readonly id: number,
    keys: string[],
    private readonly cluster: SimCluster,
    private readonly rng: Rng,
    private readonly params: StoreClientParams,
    private readonly trace: TraceHash,
    readonly stats: BankStats,
    private readonly fail: (message: string) => void,
    private readonly violate: (message: string) => void,
  ) {
    this.accounts = keys.map((key) => ({ key }));
  }

  /** The sum every reading of all accounts must give. */
  get total(): number {
    return INITIAL_BALANCE * this.accounts.length;
  }

  /** Runs the client until stopped. */
  async run(): Promise<void> {
    const keys = this.accounts.map((a) => a.key);
    // The opening deposit must apply exactly once: retried until it does, never given up.
    await this.#batch(keys, keys.map(() => String(INITIAL_BALANCE)), Infinity);
    this.opened = true;
    while (!this.#stopped) {
      const balances: number[] = [];
      for (const key of keys) {
        const b = await this.#read(key);
        if (b === undefined) return;
        balances.push(b);
      }
      const from = this.rng.int(keys.length);
      const to = (from + 1 + this.rng.int(keys.length - 1)) % keys.length;
      if (balances[from] === 0) continue;
      const amount = 1 + this.rng.int(balances[from]);
      const ok = await this.#batch(
        [keys[from], keys[to]],
        [String(balances[from] - amount), String(balances[to] + amount)],
        this.params.giveUpMs,
      );
      if (ok) this.stats.transfers++;
      else this.stats.unknownTransfers++;
      await this.#sleep(this.rng.int(this.params.thinkMaxMs + 1));
    }
    this.status = "stopped";
  }

  /** Ends the client after its current step. */
  stop(): void {
    this.#stopped = true;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.cluster.base.after(ms, resolve));
  }

  #node(): number | undefined {
    const hinted = this.#hint === undefined ? undefined : this.cluster.node(this.#hint);
    return (hinted?.up && this.rng.chance(0.8) ? hinted : this.cluster.randomUp())?.id;
  }

  #onError(err: unknown, what: string, node: number): void {
    if (!retried(err)) {
      this.fail(
        `Cannot accept the bank's ${what} as node ${node} failed it unexpectedly: ${
          isRangeDbError(err) ? `${err.code} ${err.message}` : String(err)
        }`,
      );
      this.#stopped = true;
    }
    this.#hint = leaderHint(err) ?? (this.#hint === node ? undefined : this.#hint);
  }

  /** A balance, checked; undefined once the client stopped. */
  async #read(key: string): Promise<number | undefined> {
    while (!this.#stopped) {
      const node = this.#node();
      if (node !== undefined) {
        try {
          this.status = `reading ${key} on node ${node} since ${this.cluster.base.monotonic()}ms`;
          const timeout = this.params.attemptTimeoutMs;
          const v = await clientCall(
            this.cluster,
            node,
            timeout,
            "read balance",
            (st) => readKey(st, key, st.clock.now() + timeout - 20),
            timeout + SETTLE_GRACE_MS,
          );
          this.stats.reads++;
          this.trace.add(5, this.id, digest(v));
          const balance = Number(v);
          if (v === null || !Number.isInteger(balance) || balance < 0) {
            this.violate(`Cannot accept the balance of ${key} read on node ${node}: ${v}`);
            return undefined;
          }
          return balance;
        } catch (err) {
          this.#onError(err, "read", node);
        }
      }
      await this.#sleep(this.rng.range(5, 30));
    }
    return undefined;
  }

  /**
   * Writes a batch with one request id until it succeeds (true) or `giveUpMs` passed (false:
   * unknown outcome). Each attempt waits for its node's answer, or for the node's crash.
   */
  async #batch(keys: string[], values: string[], giveUpMs: number): Promise<boolean> {
    const requestId = `bank${this.id}.${++this.#seq}`;
    const giveUpAt = this.cluster.base.monotonic() + giveUpMs;
    while (this.cluster.base.monotonic() < giveUpAt) {
      if (this.#stopped && giveUpMs !== Infinity) return false;
      const node = this.#node();
      if (node !== undefined) {
        try {
          this.status = `writing ${
            keys.join(",")
          } (${requestId}) through node ${node} since ${this.cluster.base.monotonic()}ms`;
          await clientCall(
            this.cluster,
            node,
            "untilSettled",
            "transfer",
            (st) =>
              writeBatch(this.cluster, st, keys, values, {
                deadline: st.clock.now() + this.params.attemptTimeoutMs,
                requestId,
              }),
            this.params.attemptTimeoutMs + SETTLE_GRACE_MS,
          );
          this.trace.add(6, this.id, this.#seq, node);
          return true;
        } catch (err) {
          this.#onError(err, "transfer", node);
          if (this.#stopped && giveUpMs !== Infinity) return false;
        }
      }
      await this.#sleep(this.rng.range(5, 30));
    }
    return false;
  }
}
