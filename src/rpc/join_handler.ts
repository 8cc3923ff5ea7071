/**
 * Joins as the peer service handles them: on range 1's leader (or when the leader is unknown)
 * `store.join`; on another node, one forwarding hop to the leader's Peer.Join, marked so that
 * the leader never forwards it again. A join that reaches a node which is not the leader after a
 * hop fails with the store's NOT_LEADER; the joining node then asks again.
 *
 * A `check_only` join is answered by the node that receives it, from its own applied state
 * (`store.checkMember`), never forwarded and never written: it tells a resuming or forming node
 * whether it may take part.
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
    if (req.checkOnly) return checkMember(store, req);
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
        incarnation: req.incarnation,
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

/**
 * Answers a `check_only` join locally: the cluster id and the members' peer addresses, node id 0.
 *
 * @throws {RangeDbError} FAILED_PRECONDITION with the store's reason when the node may not take
 *   part
 */
function checkMember(store: KvStore, req: JoinRequest): JoinResponse {
  store.checkMember(req.name, req.incarnation, req.clusterId);
  const peerAddresses: Record<string, string> = {};
  for (const node of store.nodes()) {
    if (node.role !== "none" && node.peerAddress !== "") {
      peerAddresses[String(node.nodeId)] = node.peerAddress;
    }
  }
  return create(JoinResponseSchema, { clusterId: store.clusterId, nodeId: 0n, peerAddresses });
}
