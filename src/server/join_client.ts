/**
 * The joining side of `Peer.Join`: asks the members named by `--join`, one after another with
 * backoff, until one admits the node or the time runs out.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import type { Clock } from "../base/clock.ts";
import { ErrorCode, isRangeDbError, RangeDbError } from "../base/errors.ts";
import type { Logger } from "../base/logger.ts";
import type { Forwarder } from "../rpc/forwarder.ts";
import { JoinRequestSchema } from "../../proto/gen/rangedb/v1/peer_pb.ts";
import type { CheckCall, JoinAnswer, JoinCall } from "./cluster_formation.ts";

/** Codes after which asking again (or another member) cannot help. */
const FINAL_CODES = new Set<string>([
  ErrorCode.INVALID_ARGUMENT,
  ErrorCode.FAILED_PRECONDITION,
  ErrorCode.ALREADY_EXISTS,
]);

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Options of {@linkcode createJoinCall}. */
export interface JoinCallOptions {
  /** The node's pooled peer clients. */
  peers: Forwarder;
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
  const { peers, clock, logger } = options;
  const timeoutMs = options.timeoutMs ?? 60_000;
  return async (addresses, record): Promise<JoinAnswer> => {
    const request = create(JoinRequestSchema, record);
    const deadline = clock.now() + timeoutMs;
    let backoff = 100;
    let last = "";
    for (let attempt = 0; clock.now() < deadline; attempt++) {
      const address = addresses[attempt % addresses.length];
      try {
        const answer = await peers.join(address, request, clock.now() + 10_000, false);
        return {
          clusterId: answer.clusterId,
          nodeId: Number(answer.nodeId),
          peerAddresses: new Map(
            Object.entries(answer.peerAddresses).map(([id, a]) => [Number(id), a]),
          ),
        };
      } catch (err) {
        last = `${address}: ${messageOf(err)}`;
        if (isRangeDbError(err) && FINAL_CODES.has(err.code)) {
          throw new RangeDbError(
            ErrorCode.FAILED_PRECONDITION,
            `Cannot join the cluster as a member refused: ${last}`,
            { cause: err },
          );
        }
        logger.warn("join attempt failed", { address, error: messageOf(err) });
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
 * @param peers the node's pooled peer clients
 * @param clock for the deadline
 * @param logger where skipped members are noted
 * @returns the check function used by `establishIdentity`
 */
export function createCheckCall(peers: Forwarder, clock: Clock, logger: Logger): CheckCall {
  return async (addresses, record) => {
    const request = create(JoinRequestSchema, { ...record, checkOnly: true });
    const answers = await Promise.all(
      addresses.map((address) =>
        peers.join(address, request, clock.now() + CHECK_TIMEOUT_MS, false).then(
          () => undefined,
          (err: unknown) => ({ address, err }),
        )
      ),
    );
    for (const answer of answers) {
      if (answer === undefined) continue;
      const { address, err } = answer;
      if (isRangeDbError(err, ErrorCode.FAILED_PRECONDITION)) {
        throw new RangeDbError(
          ErrorCode.FAILED_PRECONDITION,
          `Cannot start as the member at ${address} refuses this node: ${err.message}`,
          { cause: err },
        );
      }
      logger.info("start-up check skipped a member", { address, error: messageOf(err) });
    }
  };
}
