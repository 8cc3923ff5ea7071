/**
 * The builder of an atomic batch of puts and deletes (`db.batch()`).
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { type BatchOp, BatchOpSchema } from "../../proto/gen/rangedb/v1/kv_pb.ts";
import { type Key, toBytes, type Value } from "./client_codec.ts";
import type { CallOptions, WriteResult } from "./client_types.ts";

/** Sends the operations of a batch; provided by the client. */
export type BatchCommitter = (ops: BatchOp[], options?: CallOptions) => Promise<WriteResult>;

/**
 * Puts and deletes applied all together at one version, or not at all.
 *
 * @example
 * ```ts
 * import { connect } from "./mod.ts";
 * const db = await connect({ endpoints: ["127.0.0.1:7081"] });
 * const { version } = await db.batch().put("/a", "1").delete("/b").commit();
 * db.close();
 * ```
 */
export class Batch {
  readonly #ops: BatchOp[] = [];
  readonly #commit: BatchCommitter;

  /** @param commit sends the operations (the client's) */
  constructor(commit: BatchCommitter) {
    this.#commit = commit;
  }

  /** How many operations the batch holds. */
  get size(): number {
    return this.#ops.length;
  }

  /**
   * Adds a put.
   *
   * @param key the key
   * @param value the value
   * @returns this batch
   */
  put(key: Key, value: Value): this {
    this.#ops.push(create(BatchOpSchema, {
      op: { case: "put", value: { key: toBytes(key), value: toBytes(value) } },
    }));
    return this;
  }

  /**
   * Adds a delete.
   *
   * @param key the key
   * @returns this batch
   */
  delete(key: Key): this {
    this.#ops.push(create(BatchOpSchema, { op: { case: "delete", value: { key: toBytes(key) } } }));
    return this;
  }

  /**
   * Applies every operation atomically. Retried on failover with one request id, so it applies
   * at most once.
   *
   * @param options deadline and signal
   * @returns the version of every write of the batch
   * @throws {RangeDbClientError} as the client's writes do
   */
  commit(options?: CallOptions): Promise<WriteResult> {
    return this.#commit([...this.#ops], options);
  }
}
