/**
 * The partition, meta and cluster settings calls of the SDK (`rangedb.v1.Admin`): the range list
 * with its migrations, manual splits and merges (with a dry run), the raw system keyspace, the
 * range of a key, and reading and changing cluster settings. Reach them as `db.admin`. Each call goes to any endpoint with the SDK's usual failover;
 * the answering node reads range 1 itself or asks range 1's nodes.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import {
  type ClusterSetting,
  GetConfigRequestSchema,
  ListPartitionsRequestSchema,
  type ListPartitionsResponse,
  LookupRangeRequestSchema,
  MergePartitionRequestSchema,
  type MergePartitionResponse,
  type MetaEntry,
  MetaGetRequestSchema,
  MetaListRequestSchema,
  type MetaListResponse,
  type RangeStatus,
  SetConfigRequestSchema,
  type SetConfigResponse,
  SplitPartitionRequestSchema,
  type SplitPartitionResponse,
} from "../../proto/gen/rangedb/v1/admin_pb.ts";
import { ErrorCode } from "../base/errors.ts";
import { type Key, toBytes } from "./client_codec.ts";
import { InvalidArgumentError } from "./client_errors.ts";
import { RANGEDB_METHODS, type UnaryMethod } from "./client_grpc.ts";
import type { CallOptions } from "./client_types.ts";

/** Runs one unary call on any endpoint with failover. */
export type AnyEndpointCall = <I, O>(
  def: UnaryMethod<I, O>,
  request: I,
  options?: CallOptions,
) => Promise<O>;

/** Options of {@linkcode AdminApi.listPartitions}. */
export interface ListPartitionsOptions extends CallOptions {
  /** Also collect the splits and merges in flight on every node. @default false */
  showMigrations?: boolean;
}

/** Options of a split or merge. */
export interface DryRunOptions extends CallOptions {
  /** Only check that it is possible and say what it would do. @default false */
  dryRun?: boolean;
}

/** Options of {@linkcode AdminApi.metaList}. */
export interface MetaListOptions extends CallOptions {
  /** At most this many entries (the server's maximum is 10,000). @default 1000 */
  limit?: number;
}

/**
 * Partition and meta administration.
 *
 * @example
 * ```ts
 * import { connect } from "./mod.ts";
 * const db = await connect({ endpoints: ["127.0.0.1:7081"] });
 * const { partitions } = await db.admin.listPartitions();
 * await db.admin.splitPartition("/user/m", { dryRun: true });
 * db.close();
 * ```
 */
export class AdminApi {
  readonly #call: AnyEndpointCall;

  /** @param call runs a unary call on any endpoint (the client's runner) */
  constructor(call: AnyEndpointCall) {
    this.#call = call;
  }

  /**
   * Every range of the cluster in key order, from range 1's meta copy.
   *
   * @param options showMigrations, deadline and signal
   * @returns the ranges (and, with showMigrations, the splits and merges in flight)
   */
  listPartitions(options?: ListPartitionsOptions): Promise<ListPartitionsResponse> {
    return this.#call(
      RANGEDB_METHODS.ListPartitions,
      create(ListPartitionsRequestSchema, { showMigrations: options?.showMigrations ?? false }),
      options,
    );
  }

  /**
   * Splits the range holding `key` at `key`: a new range takes the keys before it.
   *
   * @param key the first key of the right-hand part (a user key)
   * @param options dryRun, deadline and signal
   * @returns the new left range and the parent (now starting at `key`)
   * @throws {InvalidArgumentError} for a key outside the user keyspace or already a boundary
   */
  splitPartition(key: Key, options?: DryRunOptions): Promise<SplitPartitionResponse> {
    return this.#call(
      RANGEDB_METHODS.SplitPartition,
      create(SplitPartitionRequestSchema, { key: toBytes(key), dryRun: options?.dryRun ?? false }),
      options,
    );
  }

  /**
   * Merges range `rangeId` into its right-hand neighbour.
   *
   * @param rangeId the range to merge away
   * @param options dryRun, deadline and signal
   * @returns the neighbour after absorbing it
   * @throws {InvalidArgumentError} for an id that is not a positive whole number
   */
  mergePartition(
    rangeId: number | bigint,
    options?: DryRunOptions,
  ): Promise<MergePartitionResponse> {
    const id = typeof rangeId === "bigint"
      ? rangeId
      : Number.isSafeInteger(rangeId)
      ? BigInt(rangeId)
      : -1n;
    if (id <= 0n) {
      return Promise.reject(
        new InvalidArgumentError(
          ErrorCode.INVALID_ARGUMENT,
          `Cannot merge partition as the range id is not a positive whole number: got ${rangeId}`,
        ),
      );
    }
    return this.#call(
      RANGEDB_METHODS.MergePartition,
      create(MergePartitionRequestSchema, { rangeId: id, dryRun: options?.dryRun ?? false }),
      options,
    );
  }

  /**
   * Entries of the system keyspace under `prefix`, with readable renderings.
   *
   * @param prefix a prefix starting with `_/`
   * @param options limit, deadline and signal
   * @returns the entries and whether more exist
   */
  metaList(prefix: Key, options?: MetaListOptions): Promise<MetaListResponse> {
    return this.#call(
      RANGEDB_METHODS.MetaList,
      create(MetaListRequestSchema, { prefix: toBytes(prefix), limit: options?.limit ?? 0 }),
      options,
    );
  }

  /**
   * One entry of the system keyspace.
   *
   * @param key a key starting with `_/`
   * @param options deadline and signal
   * @returns the entry, or null when absent
   */
  async metaGet(key: Key, options?: CallOptions): Promise<MetaEntry | null> {
    const res = await this.#call(
      RANGEDB_METHODS.MetaGet,
      create(MetaGetRequestSchema, { key: toBytes(key) }),
      options,
    );
    return res.found && res.entry !== undefined ? res.entry : null;
  }

  /**
   * The range holding `key` and its leader's client address, as the answering node knows them.
   *
   * @param key any key
   * @param options deadline and signal
   * @returns the range
   */
  async lookupRange(key: Key, options?: CallOptions): Promise<RangeStatus | undefined> {
    const res = await this.#call(
      RANGEDB_METHODS.LookupRange,
      create(LookupRangeRequestSchema, { key: toBytes(key) }),
      options,
    );
    return res.range;
  }

  /**
   * Cluster settings with their values in effect, as range 1 stores them.
   *
   * @param name one setting (e.g. "range_max_bytes"); omitted: every cluster setting
   * @param options deadline and signal
   * @returns the settings, each with its default and whether a value is stored
   * @throws {InvalidArgumentError} for an unknown setting
   */
  async getConfig(name?: string, options?: CallOptions): Promise<ClusterSetting[]> {
    const res = await this.#call(
      RANGEDB_METHODS.GetConfig,
      create(GetConfigRequestSchema, { name: name ?? "" }),
      options,
    );
    return res.settings;
  }

  /**
   * Changes one cluster setting; the value is checked alone and against the other settings
   * (range_min_bytes must stay below range_max_bytes …) before it is written.
   *
   * @param name the setting
   * @param value its text form, as in docs/configuration.md ("64MiB", "5m", "3")
   * @param options dryRun, deadline and signal
   * @returns the setting before and after (as it would be, with dryRun)
   * @throws {InvalidArgumentError} for an unknown setting, a bad value or a broken rule
   */
  setConfig(name: string, value: string, options?: DryRunOptions): Promise<SetConfigResponse> {
    return this.#call(
      RANGEDB_METHODS.SetConfig,
      create(SetConfigRequestSchema, { name, value, dryRun: options?.dryRun ?? false }),
      options,
    );
  }
}
