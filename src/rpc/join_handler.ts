/**
 * Joins as the peer service handles them: on range 1's leader (or when the leader is unknown)
 * `store.join`; on another node, one forwarding hop to the leader's Peer.Join, marked so that
 * the leader never forwards it again. A join that reaches a node which is not the leader after a
 * hop fails with the store's NOT_LEADER; the joining node then asks again.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import type { Logger } from "../base/logger.ts";
import type { KvStore } from "../kv/kv_store.ts";
import {
  type JoinRequest,
  type JoinResponse,
  JoinResponseSchema,
} from "../../proto/gen/rangedb/v1/peer_pb.ts";
import type { PeerCaller } from "./forwarder.ts";
import type { JoinCallContext } from "./peer_service.ts";

/** Dependencies of {@linkcode createJoinHandler}. */
export interface JoinHandlerDeps {
  store: KvStore;
  peers: PeerCaller;
  logger: Logger;
}

/**
 * Creates the `join` function of `addPeerService`.
 *
 * @param deps store, peer caller and logger
 * @returns the join handler
 */
export function createJoinHandler(
  deps: JoinHandlerDeps,
): (req: JoinRequest, ctx: JoinCallContext) => Promise<JoinResponse> {
  const { store, peers, logger } = deps;
  return async (req, ctx) => {
    const leader = store.leaderNodeId();
    const address = leader !== 0 && leader !== store.nodeId && !ctx.forwarded
      ? store.peerAddressOf(leader)
      : undefined;
    if (address !== undefined) {
      logger.info("peer join forwarded", { name: req.name, node_id: leader, address });
      return await peers.join(address, req, ctx.deadline);
    }
    const res = await store.join(
      {
        name: req.name,
        peerAddress: req.peerAddress,
        clientAddress: req.clientAddress,
        adminAddress: req.adminAddress,
      },
      { deadline: ctx.deadline },
    );
    const peerAddresses: Record<string, string> = {};
    for (const [id, addr] of res.peerAddresses) peerAddresses[String(id)] = addr;
    return create(JoinResponseSchema, {
      clusterId: res.clusterId,
      nodeId: BigInt(res.nodeId),
      peerAddresses,
    });
  };
}
