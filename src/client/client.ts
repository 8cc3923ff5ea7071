/**
 * The RangeDB client: single-key reads and writes, range scans, batches and compare-and-swap
 * over gRPC, with leader-directed requests, failover across endpoints, retries with backoff and
 * typed errors. Create it with {@linkcode connect}.
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
import { ErrorCode } from "../base/errors.ts";
import { parseHostPort } from "../base/config_units.ts";
import { Batch } from "./client_batch.ts";
import { type CallBudget, CallRunner, type Route } from "./client_call.ts";
import { boundBytes, type Key, toBytes, toText, type Value } from "./client_codec.ts";
import { EndpointPool } from "./client_endpoints.ts";
import { InvalidArgumentError } from "./client_errors.ts";
import { callUnary, RANGEDB_METHODS, type UnaryMethod } from "./client_grpc.ts";
import { DEFAULT_RANGE_IDLE_TIMEOUT_MS, streamRange } from "./client_range.ts";
import type {
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

/** Default budget of a call, retries included. */
export const DEFAULT_TIMEOUT_MS = 5_000;

/** A connection to a RangeDB cluster. Create it with {@linkcode connect}; end it with close(). */
export class RangeDbClient {
  readonly #pool: EndpointPool;
  readonly #runner: CallRunner;
  readonly #timeoutMs: number;

  /**
   * Use {@linkcode connect}, which also finds the leader.
   *
   * @param pool the endpoints
   * @param timeoutMs the default call budget
   */
  constructor(pool: EndpointPool, timeoutMs: number) {
    this.#pool = pool;
    this.#runner = new CallRunner(pool);
    this.#timeoutMs = timeoutMs;
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

  #unary<I, O>(
    def: UnaryMethod<I, O>,
    route: Route,
    request: I,
    options?: CallOptions,
  ): Promise<O> {
    return this.#runner.run(
      def.path.slice(def.path.lastIndexOf("/") + 1),
      route,
      this.#budget(options),
      (client, _address, deadline, signal) => callUnary(client, def, request, deadline, signal),
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
    const res = await this.#unary(
      RANGEDB_METHODS.Get,
      serializable ? "any" : "leader",
      create(GetRequestSchema, { key: toBytes(key), serializable }),
      options,
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
    const res = await this.#unary(
      RANGEDB_METHODS.Put,
      "leader",
      request,
      options,
    );
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
    const res = await this.#unary(
      RANGEDB_METHODS.Delete,
      "leader",
      request,
      options,
    );
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
    const res = await this.#unary(RANGEDB_METHODS.CompareAndSwap, "leader", request, options);
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
    const res = await this.#unary(
      RANGEDB_METHODS.Batch,
      "leader",
      request,
      options,
    );
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

/**
 * Validates the endpoints of {@linkcode connect}.
 *
 * @param endpoints `host:port` addresses
 * @throws {InvalidArgumentError} when there is none or one is not host:port
 */
function validateEndpoints(endpoints: readonly string[]): void {
  if (endpoints.length === 0) {
    throw new InvalidArgumentError(
      ErrorCode.INVALID_ARGUMENT,
      "Cannot connect as no endpoint is given: pass at least one host:port",
    );
  }
  for (const endpoint of endpoints) {
    if (parseHostPort(endpoint) === undefined) {
      throw new InvalidArgumentError(
        ErrorCode.INVALID_ARGUMENT,
        `Cannot connect as an endpoint is not host:port: got '${endpoint}'`,
      );
    }
  }
}

/**
 * Connects to a RangeDB cluster: checks that an endpoint answers and learns the leader.
 *
 * @example
 * ```ts
 * import { connect } from "./mod.ts";
 * const db = await connect({ endpoints: ["127.0.0.1:7081", "127.0.0.1:7091"] });
 * await db.put("/user/123", JSON.stringify({ name: "John" }));
 * console.log(await db.getJson("/user/123"));
 * db.close();
 * ```
 *
 * @param options endpoints, default timeout, signal
 * @returns the client
 * @throws {InvalidArgumentError} for malformed endpoints
 * @throws {UnavailableError} when no endpoint answers within the timeout
 * @throws {CancelledError} when the signal aborts
 */
export async function connect(options: ConnectOptions): Promise<RangeDbClient> {
  validateEndpoints(options.endpoints);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const pool = new EndpointPool(
    options.endpoints,
    Math.floor(Math.random() * options.endpoints.length),
  );
  const client = new RangeDbClient(pool, timeoutMs);
  try {
    await client.findLeader({ timeoutMs, signal: options.signal });
  } catch (err) {
    client.close();
    throw err;
  }
  return client;
}
