/**
 * Runs the requests that other nodes send through Peer.Forward, by method name: the KV methods and
 * "RangePage" go to {@linkcode KvHandlers.runForwarded}; "Propose", "WaitApplied",
 * "Migrations" and "Timestamps" run on this node's store (`proposeCommand`, `waitApplied`,
 * `migrations`, `allocateTimestamps`); the Admin
 * methods "LookupRange", "ListPartitions", "MetaList", "MetaGet", "GetConfig" and "SetConfig" answer
 * from this node's store.
 * None of them is forwarded again: a node that cannot serve one answers with the store's error
 * (NOT_LEADER, RANGE_NOT_FOUND …) and the sending node tries another.
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { Clock } from "../base/clock.ts";
import { isRangeDbError } from "../base/errors.ts";
import type { KvStore } from "../kv/kv_store.ts";
import {
  GetConfigRequestSchema,
  GetConfigResponseSchema,
  ListPartitionsRequestSchema,
  ListPartitionsResponseSchema,
  LookupRangeRequestSchema,
  LookupRangeResponseSchema,
  MetaGetRequestSchema,
  MetaGetResponseSchema,
  MetaListRequestSchema,
  MetaListResponseSchema,
  SetConfigRequestSchema,
  SetConfigResponseSchema,
} from "../../proto/gen/rangedb/v1/admin_pb.ts";
import {
  MigrationsResponseSchema,
  ProposeRequestSchema,
  ProposeResponseSchema,
  TimestampsRequestSchema,
  TimestampsResponseSchema,
  WaitAppliedRequestSchema,
  WaitAppliedResponseSchema,
} from "../../proto/gen/rangedb/v1/peer_pb.ts";
import type { AdminConfig } from "./admin_config.ts";
import type { AdminPartitions } from "./admin_partitions.ts";
import type { KvHandlers, ObserveCall } from "./kv_handlers.ts";
import { type CallContext, storeDeadline } from "./kv_request_routing.ts";
import { migrationOf } from "./range_codec.ts";
import { grpcStatusOf } from "./status.ts";

/** Dependencies of {@linkcode createForwardedRunner}. */
export interface ForwardedRunnerDeps {
  store: KvStore;
  kv: KvHandlers;
  admin: AdminPartitions;
  /** The cluster settings requests. */
  config: AdminConfig;
  clock: Clock;
  /** Metrics hook of the internal and admin methods (KvHandlers reports the KV ones). */
  observe?: ObserveCall;
}

/** Runs one forwarded request: method, serialized request, deadline → serialized response. */
export type ForwardedRunner = (
  method: string,
  request: Uint8Array,
  deadline: number,
) => Promise<Uint8Array>;

type Internal = (request: Uint8Array, ctx: CallContext) => Promise<Uint8Array>;

/**
 * Builds the runner the peer service hands forwarded requests to.
 *
 * @example
 * ```ts ignore
 * const run = createForwardedRunner({ store, kv: handlers, admin, config, clock });
 * addPeerService(server, { ...deps, forward: run });
 * ```
 *
 * @param deps store, KV handlers, admin handlers, clock and metrics hook
 * @returns the runner
 */
export function createForwardedRunner(deps: ForwardedRunnerDeps): ForwardedRunner {
  const { store, kv, admin, config, clock } = deps;
  const observe = deps.observe ?? (() => {});
  const internal: Record<string, Internal> = {
    Timestamps: async (request, ctx) => {
      const req = fromBinary(TimestampsRequestSchema, request);
      const first = await store.allocateTimestamps(req.count, {
        deadline: storeDeadline(ctx.deadline, clock.now()),
      });
      return toBinary(TimestampsResponseSchema, create(TimestampsResponseSchema, { first }));
    },
    Propose: async (request, ctx) => {
      const req = fromBinary(ProposeRequestSchema, request);
      const result = await store.proposeCommand(req.key, req.command, {
        deadline: storeDeadline(ctx.deadline, clock.now()),
      });
      return toBinary(ProposeResponseSchema, create(ProposeResponseSchema, { result }));
    },
    WaitApplied: async (request, ctx) => {
      const req = fromBinary(WaitAppliedRequestSchema, request);
      const applied = await store.waitApplied(Number(req.rangeId), Number(req.index), {
        deadline: storeDeadline(ctx.deadline, clock.now()),
      });
      return toBinary(
        WaitAppliedResponseSchema,
        create(WaitAppliedResponseSchema, { appliedIndex: BigInt(applied) }),
      );
    },
    Migrations: () =>
      Promise.resolve(toBinary(
        MigrationsResponseSchema,
        create(MigrationsResponseSchema, { migrations: store.migrations().map(migrationOf) }),
      )),
    LookupRange: async (request, ctx) =>
      toBinary(
        LookupRangeResponseSchema,
        await admin.lookupRange(fromBinary(LookupRangeRequestSchema, request), ctx),
      ),
    ListPartitions: async (request, ctx) =>
      toBinary(
        ListPartitionsResponseSchema,
        await admin.listPartitions(fromBinary(ListPartitionsRequestSchema, request), ctx),
      ),
    MetaList: async (request, ctx) =>
      toBinary(
        MetaListResponseSchema,
        await admin.metaList(fromBinary(MetaListRequestSchema, request), ctx),
      ),
    MetaGet: async (request, ctx) =>
      toBinary(
        MetaGetResponseSchema,
        await admin.metaGet(fromBinary(MetaGetRequestSchema, request), ctx),
      ),
    GetConfig: async (request, ctx) =>
      toBinary(
        GetConfigResponseSchema,
        await config.getConfig(fromBinary(GetConfigRequestSchema, request), ctx),
      ),
    SetConfig: async (request, ctx) =>
      toBinary(
        SetConfigResponseSchema,
        await config.setConfig(fromBinary(SetConfigRequestSchema, request), ctx),
      ),
  };
  return async (method, request, deadline) => {
    const run = Object.hasOwn(internal, method) ? internal[method] : undefined;
    if (run === undefined) return await kv.runForwarded(method, request, deadline);
    const started = clock.monotonic();
    const finish = (code: grpc.status) =>
      observe(method, grpc.status[code], (clock.monotonic() - started) / 1000);
    try {
      const response = await run(request, { deadline, forwarded: true });
      finish(grpc.status.OK);
      return response;
    } catch (err) {
      finish(isRangeDbError(err) ? grpcStatusOf(err.code) : grpc.status.INTERNAL);
      throw err;
    }
  };
}
