/**
 * The RangeDB TypeScript SDK.
 *
 * ```ts
 * import { connect } from "./mod.ts";
 *
 * const db = await connect({ endpoints: ["127.0.0.1:7081", "127.0.0.1:7091"] });
 * await db.put("/user/123", JSON.stringify({ name: "John" }));
 * const user = await db.getJson<{ name: string }>("/user/123");
 * for await (const { key, value } of db.rangeText("/user/", "/user/z", { limit: 100 })) {
 *   console.log(key, value);
 * }
 * await db.compareAndSwap("/counter", "10", "11");
 * await db.batch().put("/a", "1").delete("/b").commit();
 * db.close();
 * ```
 *
 * Writes and linearizable reads go to the leader of the key space (learned at connect, and again
 * after failures); serializable reads go to any endpoint in turn. A call that meets an
 * unreachable node, a leader change or an attempt timeout is retried on the next endpoint with
 * backoff (50 ms doubling to 1 s, with jitter) until its timeout (5 s by default). Writes keep one
 * request id across retries, so the server applies each at most once. Failures are
 * {@linkcode RangeDbClientError}s with a `code`.
 *
 * @module
 */
export { DEFAULT_TIMEOUT_MS, RangeDbClient } from "./client.ts";
export { connect } from "./client_connect.ts";
export {
  AdminApi,
  type DryRunOptions,
  type ListPartitionsOptions,
  type MetaListOptions,
} from "./client_admin.ts";
export { Batch } from "./client_batch.ts";
export type { Key, Value } from "./client_codec.ts";
export {
  CancelledError,
  InvalidArgumentError,
  RangeDbClientError,
  TimeoutError,
  UnavailableError,
} from "./client_errors.ts";
export type {
  CallOptions,
  CompareAndSwapOutcome,
  ConnectOptions,
  KeyValuePair,
  RangeOptions,
  ReadOptions,
  TextKeyValuePair,
  VersionedValue,
  WriteResult,
} from "./client_types.ts";
export type {
  ClusterStatusResponse,
  ListPartitionsResponse,
  MergePartitionResponse,
  MetaEntry,
  MetaListResponse,
  Migration,
  NodeStatus,
  RangeStatus,
  SplitPartitionResponse,
} from "../../proto/gen/rangedb/v1/admin_pb.ts";
export { ErrorCode } from "../base/errors.ts";
