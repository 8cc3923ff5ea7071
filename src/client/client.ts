/**
 * The RangeDB client: single-key reads and writes, range scans, batches and compare-and-swap
 * over gRPC, with leader-directed requests, failover across endpoints, retries with backoff and
 * typed errors. Create it with `connect` (`client_connect.ts`).
 *
 * Point requests (linearizable get, put, delete, compare-and-swap, and a batch whose keys lie in
 * one cached range) go first to the leader of their key's range as the range cache knows it
 * (`client_range_cache.ts`), else the way every other request goes.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import {
  ClusterStatusRequestSchema,
  type ClusterStatusResponse,
  ListNodesRequestSchema,
  type NodeStatus,
} from "../../proto/gen/rangedb/v1/admin_pb.ts";
import {
  type BatchOp,
  BatchRequestSchema,
  CompareAndSwapRequestSchema,
  DeleteRequestSchema,
  GetRequestSchema,
  PutRequestSchema,
  RangeRequestSchema,
} from "../../proto/gen/rangedb/v1/kv_pb.ts";
import { LookupRangeRequestSchema, type RangeStatus } from "../../proto/gen/rangedb/v1/admin_pb.ts";
import { AdminApi } from "./client_admin.ts";
import { Batch } from "./client_batch.ts";
import { type CallBudget, CallRunner, type Route, toClientError } from "./client_call.ts";
import { boundBytes, type Key, toBytes, toText, type Value } from "./client_codec.ts";
import type { EndpointPool } from "./client_endpoints.ts";
import { callUnary, RANGEDB_METHODS, type UnaryMethod } from "./client_grpc.ts";
import { DEFAULT_RANGE_IDLE_TIMEOUT_MS, streamRange } from "./client_range.ts";
import { RangeDirectory } from "./client_range_cache.ts";
import type {
  CallOptions,
  CompareAndSwapOutcome,
  KeyValuePair,
  RangeOptions,
  ReadOptions,
  TextKeyValuePair,
  VersionedValue,
  WriteResult,
} from "./client_types.ts";

/** Default budget of a call, retries included. */
export const DEFAULT_TIMEOUT_MS = 5_000;

/** How long one background range lookup may take. */
const RANGE_LOOKUP_TIMEOUT_MS = 1_000;

/** A connection to a RangeDB cluster. Create it with `connect`; end it with close(). */
export class RangeDbClient {
  readonly #pool: EndpointPool;
  readonly #runner: CallRunner;
  readonly #timeoutMs: number;
  readonly #ranges: RangeDirectory;
  /** Partition and meta administration. */
  readonly admin: AdminApi;

  /**
   * Use `connect`, which also finds the leader.
   *
   * @param pool the endpoints
   * @param timeoutMs the default call budget
   */
  constructor(pool: EndpointPool, timeoutMs: number) {
    this.#pool = pool;
    this.#runner = new CallRunner(pool);
    this.#timeoutMs = timeoutMs;
    this.#ranges = new RangeDirectory((key) => this.#lookUpRange(key));
    this.admin = new AdminApi((def, request, options) => this.#unary(def, "any", request, options));
  }

  /** The range cache and its lookups (for tests and diagnostics). */
  get ranges(): RangeDirectory {
    return this.#ranges;
  }

  /** One LookupRange attempt on range 1's leader as known, else the first reachable endpoint. */
  async #lookUpRange(key: Uint8Array): Promise<RangeStatus | undefined> {
    const address = this.#pool.leader ??
      this.#pool.endpoints.find((e) => !this.#pool.isUnreachable(e)) ?? this.#pool.endpoints[0];
    if (this.#pool.closed) return undefined;
    const request = create(LookupRangeRequestSchema, { key });
    const deadline = Date.now() + RANGE_LOOKUP_TIMEOUT_MS;
    try {
      const res = await callUnary(
        this.#pool.client(address),
        RANGEDB_METHODS.LookupRange,
        request,
        deadline,
      );
      return res.range;
    } catch (err) {
      throw toClientError(err, "LookupRange", address);
    }
  }

  /** The configured endpoints. */
  get endpoints(): readonly string[] {
    return this.#pool.endpoints;
  }

  /** The leader's client address as last learned, if known. */
  get leader(): string | undefined {
    return this.#pool.leader;
  }

  #budget(options?: CallOptions): CallBudget {
    return { timeoutMs: options?.timeoutMs ?? this.#timeoutMs, signal: options?.signal };
  }

  /**
   * Runs a unary call; `keys` (a point request's) send its first attempt to the cached leader of
   * their range when they all lie in one cached range.
   */
  #unary<I, O>(
    def: UnaryMethod<I, O>,
    route: Route,
    request: I,
    options?: CallOptions,
    keys?: readonly Uint8Array[],
  ): Promise<O> {
    return this.#runner.run(
      def.path.slice(def.path.lastIndexOf("/") + 1),
      route,
      this.#budget(options),
      (client, _address, deadline, signal) => callUnary(client, def, request, deadline, signal),
      keys === undefined ? undefined : this.#ranges.route(keys),
    );
  }

  /**
   * Reads a key's value and version.
   *
   * @param key the key
   * @param options serializable, deadline and signal
   * @returns the value and its version, or null when the key does not exist
   * @throws {RangeDbClientError} InvalidArgumentError for a bad key; UnavailableError,
   * TimeoutError, CancelledError
   */
  async getWithVersion(key: Key, options?: ReadOptions): Promise<VersionedValue | null> {
    const serializable = options?.serializable ?? false;
    const bytes = toBytes(key);
    const res = await this.#unary(
      RANGEDB_METHODS.Get,
      serializable ? "any" : "leader",
      create(GetRequestSchema, { key: bytes, serializable }),
      options,
      serializable ? undefined : [bytes],
    );
    return res.found ? { value: res.value, version: res.version } : null;
  }

  /**
   * Reads a key.
   *
   * @example
   * ```ts
   * import { connect } from "./mod.ts";
   * const db = await connect({ endpoints: ["127.0.0.1:7081"] });
   * const value = await db.get("/user/123"); // Uint8Array | null
   * db.close();
   * ```
   *
   * @param key the key
   * @param options serializable, deadline and signal
   * @returns the value, or null when the key does not exist
   * @throws {RangeDbClientError} as {@linkcode RangeDbClient.getWithVersion}
   */
  async get(key: Key, options?: ReadOptions): Promise<Uint8Array | null> {
    return (await this.getWithVersion(key, options))?.value ?? null;
  }

  /**
   * Reads a key as UTF-8 text.
   *
   * @param key the key
   * @param options serializable, deadline and signal
   * @returns the text, or null when the key does not exist
   */
  async getText(key: Key, options?: ReadOptions): Promise<string | null> {
    const value = await this.get(key, options);
    return value === null ? null : toText(value);
  }

  /**
   * Reads a key holding JSON.
   *
   * @param key the key
   * @param options serializable, deadline and signal
   * @returns the parsed value, or null when the key does not exist
   * @throws {SyntaxError} when the value is not JSON
   */
  async getJson<T = unknown>(key: Key, options?: ReadOptions): Promise<T | null> {
    const text = await this.getText(key, options);
    return text === null ? null : JSON.parse(text) as T;
  }

  /**
   * Writes a key. Retries after a failover reuse one request id, so it applies at most once.
   *
   * @example
   * ```ts
   * import { connect } from "./mod.ts";
   * const db = await connect({ endpoints: ["127.0.0.1:7081"] });
   * const { version } = await db.put("/user/123", '{"name": "John"}');
   * db.close();
   * ```
   *
   * @param key the key
   * @param value the value
   * @param options deadline and signal
   * @returns the commit version
   * @throws {RangeDbClientError} InvalidArgumentError for a bad key or value; UnavailableError,
   * TimeoutError (outcome unknown), CancelledError
   */
  async put(key: Key, value: Value, options?: CallOptions): Promise<WriteResult> {
    const request = create(PutRequestSchema, {
      key: toBytes(key),
      value: toBytes(value),
      requestId: crypto.randomUUID(),
    });
    const res = await this.#unary(RANGEDB_METHODS.Put, "leader", request, options, [request.key]);
    return { version: res.version };
  }

  /**
   * Writes a key as JSON.
   *
   * @param key the key
   * @param value anything `JSON.stringify` accepts
   * @param options deadline and signal
   * @returns the commit version
   */
  putJson(key: Key, value: unknown, options?: CallOptions): Promise<WriteResult> {
    return this.put(key, JSON.stringify(value), options);
  }

  /**
   * Deletes a key.
   *
   * @param key the key
   * @param options deadline and signal
   * @returns whether the key existed
   */
  async delete(key: Key, options?: CallOptions): Promise<boolean> {
    const request = create(DeleteRequestSchema, {
      key: toBytes(key),
      requestId: crypto.randomUUID(),
    });
    const res = await this.#unary(RANGEDB_METHODS.Delete, "leader", request, options, [
      request.key,
    ]);
    return res.deleted;
  }

  /**
   * Scans the keys of [start, end) in order. Pairs arrive lazily; leaving the loop early
   * cancels the scan.
   *
   * @example
   * ```ts
   * import { connect } from "./mod.ts";
   * const db = await connect({ endpoints: ["127.0.0.1:7081"] });
   * for await (const { key, value } of db.range("/user/", "/user/z", { limit: 100 })) {
   *   console.log(key, value);
   * }
   * db.close();
   * ```
   *
   * @param start the first key (inclusive); null or "" for the start of the user keyspace
   * @param end the end (exclusive); null or "" for the end of the user keyspace
   * @param options limit, reverse, keysOnly, serializable, timeoutMs (of the first chunk),
   *   idleTimeoutMs (between later chunks), signal
   * @returns the pairs
   */
  range(
    start: Key | null,
    end: Key | null,
    options?: RangeOptions,
  ): AsyncGenerator<KeyValuePair, void, undefined> {
    const serializable = options?.serializable ?? false;
    const request = create(RangeRequestSchema, {
      start: boundBytes(start),
      end: boundBytes(end),
      limit: options?.limit ?? 0,
      reverse: options?.reverse ?? false,
      keysOnly: options?.keysOnly ?? false,
      serializable,
    });
    return streamRange(
      this.#runner,
      request,
      serializable ? "any" : "leader",
      this.#budget(options),
      options?.idleTimeoutMs ?? DEFAULT_RANGE_IDLE_TIMEOUT_MS,
    );
  }

  /**
   * Scans like {@linkcode RangeDbClient.range}, decoding keys and values as UTF-8.
   *
   * @param start the first key (inclusive)
   * @param end the end (exclusive)
   * @param options as for range
   * @returns the pairs as text
   */
  async *rangeText(
    start: Key | null,
    end: Key | null,
    options?: RangeOptions,
  ): AsyncGenerator<TextKeyValuePair, void, undefined> {
    for await (const { key, value, version } of this.range(start, end, options)) {
      yield { key: toText(key), value: toText(value), version };
    }
  }

  /**
   * Writes `value` only if the key currently holds `expected`.
   *
   * @example
   * ```ts
   * import { connect } from "./mod.ts";
   * const db = await connect({ endpoints: ["127.0.0.1:7081"] });
   * const swapped = await db.compareAndSwap("/counter", "10", "11");
   * const created = await db.compareAndSwap("/lock", null, "me");
   * db.close();
   * ```
   *
   * @param key the key
   * @param expected the current value required; null: the key must not exist
   * @param value the new value
   * @param options deadline and signal
   * @returns whether the value was written
   */
  async compareAndSwap(
    key: Key,
    expected: Value | null,
    value: Value,
    options?: CallOptions,
  ): Promise<boolean> {
    return (await this.compareAndSwapDetailed(key, expected, value, options)).succeeded;
  }

  /**
   * Compare-and-swap that also tells what was found when the swap failed.
   *
   * @param key the key
   * @param expected the current value required; null: the key must not exist
   * @param value the new value
   * @param options deadline and signal
   * @returns whether it succeeded, whether the key existed, its value and the write's version
   */
  async compareAndSwapDetailed(
    key: Key,
    expected: Value | null,
    value: Value,
    options?: CallOptions,
  ): Promise<CompareAndSwapOutcome> {
    const request = create(CompareAndSwapRequestSchema, {
      key: toBytes(key),
      expected: expected === null ? new Uint8Array() : toBytes(expected),
      expectAbsent: expected === null,
      value: toBytes(value),
      requestId: crypto.randomUUID(),
    });
    const res = await this.#unary(RANGEDB_METHODS.CompareAndSwap, "leader", request, options, [
      request.key,
    ]);
    return {
      succeeded: res.succeeded,
      found: res.found,
      actual: !res.succeeded && res.found ? res.actual : null,
      version: res.version,
    };
  }

  /**
   * Starts an atomic batch of puts and deletes.
   *
   * @example
   * ```ts
   * import { connect } from "./mod.ts";
   * const db = await connect({ endpoints: ["127.0.0.1:7081"] });
   * await db.batch().put("/a", "1").delete("/b").commit();
   * db.close();
   * ```
   *
   * @returns an empty batch; commit() sends it
   */
  batch(): Batch {
    return new Batch((ops, options) => this.#commitBatch(ops, options));
  }

  async #commitBatch(ops: BatchOp[], options?: CallOptions): Promise<WriteResult> {
    const request = create(BatchRequestSchema, { ops, requestId: crypto.randomUUID() });
    const keys = ops.flatMap((op) => op.op.case === undefined ? [] : [op.op.value.key]);
    const res = await this.#unary(RANGEDB_METHODS.Batch, "leader", request, options, keys);
    return { version: res.version };
  }

  /**
   * The cluster's status as one node sees it: nodes, ranges, health.
   *
   * @param options deadline and signal
   * @returns the status
   */
  clusterStatus(options?: CallOptions): Promise<ClusterStatusResponse> {
    return this.#unary(
      RANGEDB_METHODS.ClusterStatus,
      "any",
      create(ClusterStatusRequestSchema),
      options,
    );
  }

  /**
   * The nodes of the cluster.
   *
   * @param options deadline and signal
   * @returns one status per node
   */
  async listNodes(options?: CallOptions): Promise<NodeStatus[]> {
    const res = await this.#unary(
      RANGEDB_METHODS.ListNodes,
      "any",
      create(ListNodesRequestSchema),
      options,
    );
    return res.nodes;
  }

  /**
   * Asks any endpoint (with failover) which node leads, and directs writes there from now on.
   *
   * @param options deadline and signal
   * @returns the leader's client address, or undefined when the answering node knows none
   * @throws {UnavailableError} when no endpoint answers in time
   */
  async findLeader(options?: CallOptions): Promise<string | undefined> {
    const status = await this.#runner.run(
      "Connect",
      "any",
      this.#budget(options),
      (client, _address, deadline, signal) =>
        callUnary(
          client,
          RANGEDB_METHODS.ClusterStatus,
          create(ClusterStatusRequestSchema),
          deadline,
          signal,
        ),
    );
    this.#pool.leader = status.nodes.find((n) => n.leader && n.clientAddress !== "")?.clientAddress;
    return this.#pool.leader;
  }

  /** Closes every connection. Calls made afterwards fail with FAILED_PRECONDITION. */
  close(): void {
    this.#pool.close();
  }
}
