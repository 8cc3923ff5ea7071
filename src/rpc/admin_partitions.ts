/**
 * The partition and meta requests of the Admin service (docs/design/0009): ListPartitions,
 * SplitPartition, MergePartition, LookupRange, MetaList and MetaGet, each taking the decoded
 * request and a call context and returning the response message.
 *
 * Requests that read range 1 (the partition list, meta entries, and lookups the local store cannot
 * answer) go to range 1's nodes through Peer.Forward when this node holds no replica of range 1;
 * the receiver answers from its own store and never forwards again. With `show_migrations`, the
 * splits and merges in flight are collected from every node (Forward "Migrations", best effort,
 * 1 s each, in parallel).
 *
 * @module
 */

import {
  create,
  type DescMessage,
  fromBinary,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { Clock } from "../base/clock.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { DEFAULT_KEY_LIMITS, type KeyLimits } from "../base/key_limits.ts";
import { keyText } from "../base/key_text.ts";
import type { Logger } from "../base/logger.ts";
import type { KvStore, RangeInfo } from "../kv/kv_store.ts";
import {
  type ListPartitionsRequest,
  ListPartitionsRequestSchema,
  type ListPartitionsResponse,
  ListPartitionsResponseSchema,
  type LookupRangeRequest,
  LookupRangeRequestSchema,
  type LookupRangeResponse,
  LookupRangeResponseSchema,
  type MergePartitionRequest,
  type MergePartitionResponse,
  MergePartitionResponseSchema,
  type MetaGetRequest,
  MetaGetRequestSchema,
  type MetaGetResponse,
  MetaGetResponseSchema,
  type MetaListRequest,
  MetaListRequestSchema,
  type MetaListResponse,
  MetaListResponseSchema,
  type Migration,
  type RangeStatus,
  type SplitPartitionRequest,
  type SplitPartitionResponse,
  SplitPartitionResponseSchema,
} from "../../proto/gen/rangedb/v1/admin_pb.ts";
import {
  MigrationsRequestSchema,
  MigrationsResponseSchema,
} from "../../proto/gen/rangedb/v1/peer_pb.ts";
import type { PeerCaller } from "./forwarder.ts";
import { type CallContext, storeDeadline } from "./kv_request_routing.ts";
import { metaEntryOf, validateMetaKey, validateMetaList } from "./admin_meta.ts";
import { migrationOf, rangeStatusOf } from "./range_codec.ts";
import { RangeLocator } from "./range_locator.ts";

/** How long the migrations of one other node may take to arrive. */
export const MIGRATIONS_TIMEOUT_MS = 1_000;

/** How long asking a range's replica for its leader may take (LookupRange). */
const LEADER_PROBE_MS = 1_000;

/** Dependencies of {@linkcode AdminPartitions}. */
export interface AdminPartitionsDeps {
  store: KvStore;
  peers: PeerCaller;
  clock: Clock;
  logger: Logger;
  /** @default DEFAULT_KEY_LIMITS */
  limits?: Readonly<KeyLimits>;
}

function invalid(message: string): RangeDbError {
  return new RangeDbError(ErrorCode.INVALID_ARGUMENT, message);
}

/**
 * The partition and meta request logic.
 *
 * @example
 * ```ts ignore
 * const admin = new AdminPartitions({ store, peers: forwarder, clock, logger });
 * const res = await admin.listPartitions(req, { deadline: Date.now() + 5000, forwarded: false });
 * ```
 */
export class AdminPartitions {
  readonly #store: KvStore;
  readonly #peers: PeerCaller;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #limits: Readonly<KeyLimits>;
  readonly #locator: RangeLocator;

  /** @param deps store, peer caller, clock, logger and key limits */
  constructor(deps: AdminPartitionsDeps) {
    this.#store = deps.store;
    this.#peers = deps.peers;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#limits = deps.limits ?? DEFAULT_KEY_LIMITS;
    this.#locator = new RangeLocator(deps);
  }

  /** The ranges of the cluster from range 1's meta copy, and with show_migrations the migrations. */
  async listPartitions(
    req: ListPartitionsRequest,
    ctx: CallContext,
  ): Promise<ListPartitionsResponse> {
    const res = await this.#onRange1(
      "ListPartitions",
      ListPartitionsRequestSchema,
      create(ListPartitionsRequestSchema),
      ListPartitionsResponseSchema,
      ctx,
      "list partitions",
      async (deadline) =>
        create(ListPartitionsResponseSchema, {
          partitions: (await this.#store.listRanges({ deadline })).map((r) => this.#status(r)),
        }),
    );
    if (req.showMigrations && !ctx.forwarded) res.migrations = await this.#migrations(ctx.deadline);
    return res;
  }

  /** Splits the range holding `key` at `key` (or says what that would do). */
  async splitPartition(
    req: SplitPartitionRequest,
    ctx: CallContext,
  ): Promise<SplitPartitionResponse> {
    const key = req.key;
    if (key.length === 0) throw invalid("Cannot split partition as the key is empty");
    if (key[0] === 0x5f && key[1] === 0x2f) {
      throw invalid(
        `Cannot split partition as the key lies in the system keyspace '_/': key is ${
          keyText(key)
        }`,
      );
    }
    if (key[0] !== 0x2f) {
      throw invalid(
        `Cannot split partition as the key does not start with '/': key is ${keyText(key)}`,
      );
    }
    if (key.length > this.#limits.maxKeyBytes) {
      throw invalid(
        `Cannot split partition as the key exceeds the maximum key size: key is ${key.length} bytes, limit is ${this.#limits.maxKeyBytes} bytes`,
      );
    }
    const out = await this.#store.splitRange(key, {
      deadline: this.#storeDeadline(ctx),
      dryRun: req.dryRun,
    });
    return create(SplitPartitionResponseSchema, {
      left: this.#status(out.left),
      right: this.#status(out.right),
      dryRun: out.dryRun,
    });
  }

  /** Merges a range into its right-hand neighbour (or says what that would do). */
  async mergePartition(
    req: MergePartitionRequest,
    ctx: CallContext,
  ): Promise<MergePartitionResponse> {
    if (req.rangeId === 0n) {
      throw invalid(
        "Cannot merge partition as the range id is 0: pass the id of a range (see 'rangedb admin partition list')",
      );
    }
    if (req.rangeId > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw invalid(
        `Cannot merge partition as the range id is too large: range id is ${req.rangeId}`,
      );
    }
    const out = await this.#store.mergeRange(Number(req.rangeId), {
      deadline: this.#storeDeadline(ctx),
      dryRun: req.dryRun,
    });
    return create(MergePartitionResponseSchema, {
      merged: this.#status(out.merged),
      subsumedRangeId: BigInt(out.subsumedRangeId),
      dryRun: out.dryRun,
    });
  }

  /**
   * The range holding a key and its leader's client address: this node's view, else range 1's
   * nodes'; a range known only from the meta copy (no leader) is asked of one of its replicas.
   * A forwarded lookup answers from this node's store only.
   */
  async lookupRange(req: LookupRangeRequest, ctx: CallContext): Promise<LookupRangeResponse> {
    if (req.key.length === 0) throw invalid("Cannot look up the range as the key is empty");
    if (ctx.forwarded) {
      return create(LookupRangeResponseSchema, {
        range: this.#status(this.#store.lookupRange(req.key)),
      });
    }
    const deadline = this.#storeDeadline(ctx);
    let range: RangeStatus = this.#status(await this.#locator.lookup(req.key, deadline));
    if (range.leaderNodeId === 0n) {
      const probe = await this.#locator.forwardToNodes(
        range.voters.map(Number).filter((n) => n !== this.#store.nodeId),
        "LookupRange",
        toBinary(LookupRangeRequestSchema, req),
        Math.min(deadline, this.#clock.now() + LEADER_PROBE_MS),
      );
      const seen = probe.ok
        ? fromBinary(LookupRangeResponseSchema, probe.response).range
        : undefined;
      if (seen !== undefined && seen.leaderNodeId !== 0n) range = seen;
    }
    if (range.leaderClientAddress === "" && range.leaderNodeId !== 0n) {
      range.leaderClientAddress = this.#store.clientAddressOf(Number(range.leaderNodeId)) ?? "";
    }
    return create(LookupRangeResponseSchema, { range });
  }

  /** Entries of the system keyspace under a prefix. */
  async metaList(req: MetaListRequest, ctx: CallContext): Promise<MetaListResponse> {
    const limit = validateMetaList(req);
    return await this.#onRange1(
      "MetaList",
      MetaListRequestSchema,
      req,
      MetaListResponseSchema,
      ctx,
      "list meta entries",
      async (deadline) => {
        const { entries, more } = await this.#store.metaScan(req.prefix, limit, { deadline });
        return create(MetaListResponseSchema, { entries: entries.map(metaEntryOf), more });
      },
    );
  }

  /** One entry of the system keyspace. */
  async metaGet(req: MetaGetRequest, ctx: CallContext): Promise<MetaGetResponse> {
    validateMetaKey(req.key);
    return await this.#onRange1(
      "MetaGet",
      MetaGetRequestSchema,
      req,
      MetaGetResponseSchema,
      ctx,
      "get the meta entry",
      async (deadline) => {
        const entry = await this.#store.metaGet(req.key, { deadline });
        return entry === undefined
          ? create(MetaGetResponseSchema)
          : create(MetaGetResponseSchema, { found: true, entry: metaEntryOf(entry) });
      },
    );
  }

  #storeDeadline(ctx: CallContext): number {
    return storeDeadline(ctx.deadline, this.#clock.now());
  }

  #status(range: RangeInfo): RangeStatus {
    const leader = range.leaderNodeId;
    return rangeStatusOf(range, leader === 0 ? "" : this.#store.clientAddressOf(leader) ?? "");
  }

  #onRange1<Req extends DescMessage, Res extends DescMessage>(
    method: string,
    reqSchema: Req,
    req: MessageShape<Req>,
    resSchema: Res,
    ctx: CallContext,
    what: string,
    local: (deadline: number) => Promise<MessageShape<Res>>,
  ): Promise<MessageShape<Res>> {
    return this.#locator.onRange1({ method, reqSchema, req, resSchema }, ctx, what, local);
  }

  /** This node's migrations and every other node's that answers within 1 s. */
  async #migrations(deadline: number): Promise<Migration[]> {
    const self = this.#store.nodeId;
    const request = toBinary(MigrationsRequestSchema, create(MigrationsRequestSchema));
    const each = Math.min(deadline, this.#clock.now() + MIGRATIONS_TIMEOUT_MS);
    const others = await Promise.all(
      this.#store.nodes().filter((n) => n.nodeId !== self).map(async (n) => {
        const address = this.#store.peerAddressOf(n.nodeId) ?? n.peerAddress;
        try {
          const bytes = await this.#peers.forward(address, "Migrations", request, each);
          return fromBinary(MigrationsResponseSchema, bytes).migrations;
        } catch (err) {
          this.#logger.debug("admin migrations unavailable", {
            node_id: n.nodeId,
            err: err instanceof Error ? err.message : String(err),
          });
          return [];
        }
      }),
    );
    const all = [...this.#store.migrations().map(migrationOf), ...others.flat()];
    return all.sort((a, b) => Number(a.startedAtMs - b.startedAtMs));
  }
}
