/**
 * The joining side of `Peer.Join`: asks the members named by `--join`, one after another with
 * backoff, until one admits the node or the time runs out.
 *
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { Clock } from "../base/clock.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { Logger } from "../base/logger.ts";
import {
  type JoinRequest,
  JoinRequestSchema,
  type JoinResponse,
  JoinResponseSchema,
} from "../../proto/gen/rangedb/v1/peer_pb.ts";
import type { CheckCall, JoinAnswer, JoinCall } from "./cluster_formation.ts";

const JOIN_METHOD: grpc.MethodDefinition<JoinRequest, JoinResponse> = {
  path: "/rangedb.v1.Peer/Join",
  requestStream: false,
  responseStream: false,
  requestSerialize: (m) => Buffer.from(toBinary(JoinRequestSchema, m)),
  requestDeserialize: (b) => fromBinary(JoinRequestSchema, b),
  responseSerialize: (m) => Buffer.from(toBinary(JoinResponseSchema, m)),
  responseDeserialize: (b) => fromBinary(JoinResponseSchema, b),
};

const JoinClient = grpc.makeGenericClientConstructor({ Join: JOIN_METHOD }, "Peer");

/** Codes after which asking again (or another member) cannot help. */
const FINAL_CODES = new Set([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.ALREADY_EXISTS,
]);

function callJoin(address: string, request: JoinRequest, timeoutMs: number) {
  const client = new JoinClient(address, grpc.credentials.createInsecure());
  return new Promise<JoinResponse>((resolve, reject) => {
    (client as unknown as {
      Join(
        r: JoinRequest,
        o: grpc.CallOptions,
        cb: (e: grpc.ServiceError | null, v?: JoinResponse) => void,
      ): void;
    }).Join(request, { deadline: Date.now() + timeoutMs }, (err, value) => {
      client.close();
      if (err) reject(err);
      else resolve(value!);
    });
  });
}

/** Options of {@linkcode createJoinCall}. */
export interface JoinCallOptions {
  clock: Clock;
  logger: Logger;
  /** Give up after this long. @default 60000 */
  timeoutMs?: number;
}

/**
 * A {@linkcode JoinCall} over gRPC.
 *
 * @param options clock, logger and overall timeout
 * @returns the join function used by `establishIdentity`
 */
export function createJoinCall(options: JoinCallOptions): JoinCall {
  const { clock, logger } = options;
  const timeoutMs = options.timeoutMs ?? 60_000;
  return async (addresses, record): Promise<JoinAnswer> => {
    const request = create(JoinRequestSchema, record);
    const deadline = clock.now() + timeoutMs;
    let backoff = 100;
    let last = "";
    for (let attempt = 0; clock.now() < deadline; attempt++) {
      const address = addresses[attempt % addresses.length];
      try {
        const answer = await callJoin(address, request, 10_000);
        return {
          clusterId: answer.clusterId,
          nodeId: Number(answer.nodeId),
          peerAddresses: new Map(
            Object.entries(answer.peerAddresses).map(([id, a]) => [Number(id), a]),
          ),
        };
      } catch (err) {
        const e = err as grpc.ServiceError;
        last = `${address}: ${e.details ?? e.message}`;
        if (FINAL_CODES.has(e.code)) {
          throw new RangeDbError(
            ErrorCode.FAILED_PRECONDITION,
            `Cannot join the cluster as a member refused: ${last}`,
            { cause: err },
          );
        }
        logger.warn("join attempt failed", { address, error: e.details ?? e.message });
      }
      await new Promise<void>((r) => clock.after(backoff, r));
      backoff = Math.min(backoff * 2, 2_000);
    }
    throw new RangeDbError(
      ErrorCode.UNAVAILABLE,
      `Cannot join the cluster as no member of --join admitted this node within ${timeoutMs} ms: ` +
        `last answer ${last || "none"}`,
    );
  };
}

/** How long each member gets to answer a start-up check. */
const CHECK_TIMEOUT_MS = 2_000;

/**
 * A {@linkcode CheckCall} over gRPC: asks every member at once (`Peer.Join` with `check_only`);
 * members that do not answer in time are skipped, a refusal (FAILED_PRECONDITION) wins.
 *
 * @param logger where skipped members are noted
 * @returns the check function used by `establishIdentity`
 */
export function createCheckCall(logger: Logger): CheckCall {
  return async (addresses, record) => {
    const request = create(JoinRequestSchema, { ...record, checkOnly: true });
    const answers = await Promise.all(
      addresses.map((address) =>
        callJoin(address, request, CHECK_TIMEOUT_MS).then(
          () => undefined,
          (err: grpc.ServiceError) => ({ address, err }),
        )
      ),
    );
    for (const answer of answers) {
      if (answer === undefined) continue;
      const { address, err } = answer;
      if (err.code === grpc.status.FAILED_PRECONDITION) {
        throw new RangeDbError(
          ErrorCode.FAILED_PRECONDITION,
          `Cannot start as the member at ${address} refuses this node: ${err.details}`,
          { cause: err },
        );
      }
      logger.info("start-up check skipped a member", {
        address,
        error: err.details ?? err.message,
      });
    }
  };
}
