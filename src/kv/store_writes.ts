/**
 * {@linkcode StoreWrites}: the store's client writes (put, delete, batch, compare-and-swap),
 * proposed on the leader of the key's range only (NOT_LEADER elsewhere; the rpc layer forwards)
 * with a timestamp from the {@linkcode TimestampOracle}.
 *
 * Apply refuses a write whose keys left the range (a split or merge applied first) with a
 * deterministic RANGE_MOVED that writes nothing, not even a dedupe record; the write is then
 * re-routed to the replica now holding the key, so a retry with the same request id applies it
 * once. A range frozen for a merge is retried the same way until the deadline.
 *
 * @module
 */

import { decodeIntent, type Intent } from "../mvcc/mod.ts";
import { ErrorCode, isRangeDbError, RangeDbError } from "../base/errors.ts";
import { type CommandResult, newCommand } from "./command.ts";
import { inSpan, showKey } from "./apply_context.ts";
import type {
  CompareAndSwap,
  CompareAndSwapResult,
  DeleteResult,
  WriteOp,
  WriteOptions,
  WriteResult,
} from "./kv_store.ts";
import type { Replica } from "./replica.ts";
import type { Store } from "./store.ts";
import { movedError, pauseOrThrow } from "./store_reads.ts";

type CommandBody = NonNullable<Parameters<typeof newCommand>[0]>["body"];

/** The store's writes. */
export class StoreWrites {
  readonly #store: Store;

  /** @param store the store */
  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * Proposes a key-value write on the leader of the range holding `keys[0]`. A frozen range, or
   * a RANGE_MOVED refusal at apply (a split or merge applied here first, so the key now lives in
   * another local range), is retried from routing until the deadline.
   */
  async #write(
    keys: Uint8Array[],
    body: CommandBody,
    options: WriteOptions | undefined,
  ): Promise<CommandResult> {
    const store = this.#store;
    store.checkRunning();
    const deadline = store.deadlineOf(options);
    const key = keys[0];
    let last: Replica | undefined;
    for (;;) {
      const replica = store.replicaFor(key);
      if (replica.frozen) {
        await pauseOrThrow(store, deadline, () => movedError(key, replica));
        continue;
      }
      this.#checkOneRange(replica, keys);
      if (!replica.isLeader) {
        // Re-routed to a range just created here by a split: its leader is being elected (the
        // parent's leader campaigns at once), wait for it rather than bounce the client.
        if (last === undefined || replica.lead !== 0) throw replica.notLeaderError();
        await pauseOrThrow(store, deadline, () => replica.notLeaderError());
        continue;
      }
      const timestamp = await store.timestamps.timestamp(deadline);
      const cmd = newCommand({ requestId: options?.requestId ?? "", timestamp, body });
      try {
        return await replica.propose(cmd, deadline, true);
      } catch (err) {
        if (isRangeDbError(err, ErrorCode.LOCKED)) {
          // A cross-range batch holds a key: nothing was written. Wait for the batch (or settle
          // it past its TTL), then write again.
          const intent = intentOn(store, keys);
          if (intent !== undefined) await store.coordination.resolver.resolve(intent, deadline);
          else await pauseOrThrow(store, deadline, () => err);
          if (store.clock.now() >= deadline) throw err;
          continue;
        }
        if (!isRangeDbError(err, ErrorCode.RANGE_MOVED)) throw err;
        // The range changed under the proposal: nothing was applied (not even a dedupe record).
        if (replica === last) await pauseOrThrow(store, deadline, () => err);
        else if (store.clock.now() >= deadline) throw err;
        last = replica;
      }
    }
  }

  /**
   * Refuses a batch whose keys lie in more than one range (atomic batches across ranges need
   * the two-phase commit of docs/design/0009, not built yet).
   */
  #checkOneRange(replica: Replica, keys: Uint8Array[]): void {
    for (const k of keys) {
      if (inSpan(replica.descriptor, k)) continue;
      throw new RangeDbError(
        ErrorCode.INVALID_ARGUMENT,
        `Cannot write batch as its keys lie in more than one range: range ${replica.rangeId} holds the first key, not ${
          showKey(k)
        }`,
        { details: { crossRange: true, rangeId: replica.rangeId } },
      );
    }
  }

  async put(key: Uint8Array, value: Uint8Array, options?: WriteOptions): Promise<WriteResult> {
    const r = await this.#write([key], {
      case: "write",
      value: { ops: [{ key, value, delete: false }] },
    }, options);
    return { version: r.version };
  }

  async delete(key: Uint8Array, options?: WriteOptions): Promise<DeleteResult> {
    const r = await this.#write([key], {
      case: "write",
      value: { ops: [{ key, delete: true }] },
    }, options);
    return { version: r.version, deleted: r.succeeded };
  }

  async batch(ops: WriteOp[], options?: WriteOptions): Promise<WriteResult> {
    if (ops.length === 0) {
      throw new RangeDbError(
        ErrorCode.INVALID_ARGUMENT,
        "Cannot write batch as it has no operations",
      );
    }
    const body = {
      ops: ops.map((op) =>
        op.type === "put"
          ? { key: op.key, value: op.value, delete: false }
          : { key: op.key, delete: true }
      ),
    };
    const keys = ops.map((op) => op.key);
    const r = await this.#write(keys, { case: "write", value: body }, options);
    return { version: r.version };
  }

  async compareAndSwap(cas: CompareAndSwap, options?: WriteOptions): Promise<CompareAndSwapResult> {
    const r = await this.#write([cas.key], {
      case: "compareAndSwap",
      value: {
        key: cas.key,
        expected: cas.expected ?? new Uint8Array(0),
        expectAbsent: cas.expected === undefined,
        value: cas.value ?? new Uint8Array(0),
        delete: cas.value === undefined,
      },
    }, options);
    return {
      succeeded: r.succeeded,
      found: r.found,
      actual: r.succeeded || !r.found ? undefined : r.actual,
      version: r.succeeded ? r.version : 0n,
    };
  }
}

/** The intent on the first of `keys` that holds one, in this node's engine. */
function intentOn(store: Store, keys: Uint8Array[]): Intent | undefined {
  for (const key of keys) {
    const stored = store.engine.get("locks", key);
    if (stored !== undefined) return decodeIntent(key, stored);
  }
  return undefined;
}
