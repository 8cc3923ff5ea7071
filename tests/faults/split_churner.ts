/**
 * The split churner of a fault run (`deno task test:faults --splits`): alongside the workload
 * and the nemesis, a background loop moves range boundaries through the workload's key space with
 * the Admin RPCs, as an operator or the split and merge queues would:
 *
 * - `SplitPartition` at a key of the run's prefix `/faults/<runId>/`: a key the workload wrote
 *   (sampled by a keys-only scan every few rounds) or, before any is known, a random key there;
 * - `MergePartition` of a random user range into its right-hand neighbour (never across `_/`).
 *
 * It splits while fewer than `maxRanges` ranges exist and otherwise merges, so the layout keeps
 * changing without growing. Every call goes through the SDK (every endpoint, failover) with a
 * deadline; a call that fails under faults is counted, not fatal: the checkers judge the
 * workload's history, and the churner only has to keep splits and merges running.
 *
 * @module
 */
import { connect, type RangeDbClient } from "../../src/client/mod.ts";
import type { Rng } from "../sim/rng.ts";
import { sleepUnlessAborted } from "../harness/cluster_support.ts";

/** What the churner did, for the run's summary. */
export interface ChurnCounts {
  splits: number;
  splitsFailed: number;
  merges: number;
  mergesFailed: number;
  /** The most ranges a partition list showed during the run. */
  mostRanges: number;
}

/** Options of {@linkcode SplitChurner}. */
export interface SplitChurnerOptions {
  /** Pause between two operations. @default [100, 600] */
  gap?: [number, number];
  /** Deadline of one Admin call. @default 10000 */
  callTimeoutMs?: number;
  /** Split while fewer ranges exist, merge otherwise. @default 12 */
  maxRanges?: number;
}

const decoder = new TextDecoder();

/** Splits and merges ranges under the run's prefix until stopped; see the module doc. */
export class SplitChurner {
  readonly counts: ChurnCounts = {
    splits: 0,
    splitsFailed: 0,
    merges: 0,
    mergesFailed: 0,
    mostRanges: 0,
  };
  /** The first few failures, for the run's log. */
  readonly failures: string[] = [];
  readonly #prefix: string;
  readonly #gap: [number, number];
  readonly #timeoutMs: number;
  readonly #maxRanges: number;
  #sample: string[] = [];

  /**
   * @param endpoints every node's client address
   * @param runId the run's id: the workload's keys live under `/faults/<runId>/`
   * @param rng the run's seeded randomness (fork it for the churner)
   * @param log progress lines
   */
  constructor(
    readonly endpoints: readonly string[],
    runId: string,
    readonly rng: Rng,
    readonly log: (message: string) => void,
    options: SplitChurnerOptions = {},
  ) {
    this.#prefix = `/faults/${runId}/`;
    this.#gap = options.gap ?? [100, 600];
    this.#timeoutMs = options.callTimeoutMs ?? 10_000;
    this.#maxRanges = options.maxRanges ?? 12;
  }

  /** Runs until `signal` aborts; the call in flight then ends by its own deadline. */
  async run(signal: AbortSignal): Promise<void> {
    const db = await connect({ endpoints: [...this.endpoints], timeoutMs: this.#timeoutMs });
    try {
      for (let round = 0; !signal.aborted; round++) {
        await sleepUnlessAborted(this.rng.range(...this.#gap), signal);
        if (signal.aborted) break;
        if (round % 5 === 0) await this.#refreshSample(db);
        const ranges = await this.#userRanges(db);
        if (ranges === undefined) continue;
        if (ranges.length + 1 < this.#maxRanges && (ranges.length < 2 || this.rng.chance(0.6))) {
          await this.#split(db);
        } else {
          await this.#merge(db, ranges);
        }
      }
    } finally {
      db.close();
    }
  }

  /** The user ranges that may merge into a right-hand neighbour, or undefined on failure. */
  async #userRanges(db: RangeDbClient): Promise<bigint[] | undefined> {
    try {
      const { partitions } = await db.admin.listPartitions({ timeoutMs: this.#timeoutMs });
      this.counts.mostRanges = Math.max(this.counts.mostRanges, partitions.length);
      // Range 1 holds `_/` and the range ending at `_/` has no user neighbour to its right.
      return partitions
        .filter((r) => r.rangeId !== 1n && decoder.decode(r.end) !== "_/")
        .map((r) => r.rangeId);
    } catch {
      return undefined;
    }
  }

  async #refreshSample(db: RangeDbClient): Promise<void> {
    try {
      const keys: string[] = [];
      const scan = db.rangeText(this.#prefix, this.#prefix.slice(0, -1) + "0", {
        keysOnly: true,
        limit: 2_000,
        timeoutMs: this.#timeoutMs,
      });
      for await (const { key } of scan) keys.push(key);
      if (keys.length > 0) this.#sample = keys;
    } catch { /* keep the last sample */ }
  }

  #splitKey(): string {
    if (this.#sample.length > 0 && this.rng.chance(0.8)) return this.rng.pick(this.#sample);
    return `${this.#prefix}${this.rng.pick(["register/", "set/"])}${
      String(this.rng.int(400)).padStart(5, "0")
    }`;
  }

  async #split(db: RangeDbClient): Promise<void> {
    const key = this.#splitKey();
    try {
      await db.admin.splitPartition(key, { timeoutMs: this.#timeoutMs });
      this.counts.splits++;
    } catch (err) {
      this.counts.splitsFailed++;
      this.#failed(`split at ${key}`, err);
    }
  }

  async #merge(db: RangeDbClient, ranges: bigint[]): Promise<void> {
    if (ranges.length === 0) return;
    const id = this.rng.pick(ranges);
    try {
      await db.admin.mergePartition(id, { timeoutMs: this.#timeoutMs });
      this.counts.merges++;
    } catch (err) {
      this.counts.mergesFailed++;
      this.#failed(`merge of range ${id}`, err);
    }
  }

  #failed(what: string, err: unknown): void {
    const message = `${what} failed: ${err instanceof Error ? err.message : String(err)}`;
    if (this.failures.length < 20) this.failures.push(message);
    this.log(`churn: ${message}`);
  }
}
