/**
 * The receiving side of the peer API `rangedb.v1.Peer`: RaftMessages streams dialled by lower-id
 * nodes are checked and handed to the peer transport (a {@linkcode RaftStreamAcceptor}), which
 * then uses them in both directions; snapshots go to the store's {@linkcode TransportHandler};
 * forwarded client requests and joins go to the functions the server wires in.
 *
 * Messages of another cluster are refused with FAILED_PRECONDITION, so that a node pointed at the
 * wrong peers never mixes two clusters' Raft groups.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { type Clock, SystemClock } from "../base/clock.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { Logger } from "../base/logger.ts";
import { snapshotChunkBuffered } from "../kv/replica_snapshot.ts";
import type { SnapshotPair, TransportHandler } from "../kv/transport.ts";
import {
  type ForwardRequest,
  type ForwardResponse,
  ForwardResponseSchema,
  type JoinRequest,
  type JoinResponse,
  Peer,
  type RaftMessagesRequest,
  type SnapshotRequest,
  type SnapshotRequest_Header,
  type SnapshotResponse,
  SnapshotResponseSchema,
} from "../../proto/gen/rangedb/v1/peer_pb.ts";
import { messageFromProto, toSafeNumber } from "./codec_raft.ts";
import { FORWARDED_KEY } from "./forwarder.ts";
import { grpcServiceDefinition } from "./grpc_definition.ts";
import { callDeadline } from "./kv_service.ts";
import { type AcceptedRaftStream, incarnationIn } from "./peer_connection.ts";
import { toServiceError } from "./status.ts";

/** Options of a join as the peer service hands it over. */
export interface JoinCallContext {
  /** Absolute deadline, ms since the epoch. */
  deadline: number;
  /** Whether another member forwarded the join (it is then never forwarded again). */
  forwarded: boolean;
}

/** Where the peer service hands the RaftMessages streams it accepts (the peer transport). */
export interface RaftStreamAcceptor {
  /** This node's id. */
  readonly nodeId: number;
  /** Takes the stream `fromNodeId` dialled (checked: same cluster, lower id, addressed here). */
  accept(fromNodeId: number, call: AcceptedRaftStream): void;
}

/** Dependencies of {@linkcode addPeerService}. */
export interface PeerServiceDeps {
  /** This node's cluster id ("" while unknown: everything is refused). */
  clusterId: () => string;
  /** Receives snapshots. */
  handler: TransportHandler;
  /**
   * The acceptor of RaftMessages streams; undefined while the node starts (they are refused).
   * @default every stream is refused
   */
  raftStreams?: () => RaftStreamAcceptor | undefined;
  /** Runs a forwarded client request (see `KvHandlers.runForwarded`). */
  forward: (method: string, request: Uint8Array, deadline: number) => Promise<Uint8Array>;
  /** Handles a join (see `createJoinHandler`). */
  join: (req: JoinRequest, ctx: JoinCallContext) => Promise<JoinResponse>;
  logger: Logger;
  /** For deadlines of calls without one. @default new SystemClock() */
  clock?: Clock;
  /**
   * Whether a dialling node may exchange messages as the incarnation it sent; a node that lost
   * its data directory is refused (see `KvStore.incarnationMatches`). @default always
   */
  incarnationMatches?: (nodeId: number, incarnation: string) => boolean;
}

/** The grpc-js definition of `rangedb.v1.Peer`. */
export const PEER_SERVICE_DEFINITION: grpc.ServiceDefinition = grpcServiceDefinition(Peer);

const KEYSPACES = new Set<string>(["data", "locks", "dedupe", "txn"]);

function otherCluster(what: string, theirs: string, ours: string): RangeDbError {
  return new RangeDbError(
    ErrorCode.FAILED_PRECONDITION,
    `Cannot accept ${what} as they come from another cluster: cluster is ${theirs}, this node's cluster is ${
      ours === "" ? "not yet known" : ours
    }`,
  );
}

/**
 * Registers `rangedb.v1.Peer` on the peer-facing `server`.
 *
 * @param server the grpc-js server of the peer address
 * @param deps cluster id, transport handler, stream acceptor, forward and join functions, logger
 */
export function addPeerService(server: grpc.Server, deps: PeerServiceDeps): void {
  const { clusterId, handler, logger } = deps;
  const clock = deps.clock ?? new SystemClock();

  const raftMessages = (call: AcceptedRaftStream) => {
    const refuse = (err: RangeDbError) => {
      logger.warn("peer raft stream refused", { err: err.message, peer: call.getPeer() });
      call.emit("error", toServiceError(err));
    };
    const onEnd = () => call.end();
    // The first request is the dialler's hello; the acceptor takes the stream from there.
    const onHello = (req: RaftMessagesRequest) => {
      call.off("data", onHello);
      call.off("end", onEnd);
      const acceptor = deps.raftStreams?.();
      const ours = clusterId();
      if (acceptor === undefined || ours === "") {
        refuse(
          new RangeDbError(
            ErrorCode.UNAVAILABLE,
            "Cannot accept raft stream as this node is still starting",
          ),
        );
        return;
      }
      if (req.clusterId !== ours) {
        refuse(otherCluster("raft messages", req.clusterId, ours));
        return;
      }
      let from: number;
      let to: number;
      try {
        if (req.batch === undefined) {
          throw new RangeDbError(
            ErrorCode.INVALID_ARGUMENT,
            "Cannot accept raft stream as its first message has no batch",
          );
        }
        from = toSafeNumber(req.batch.fromNodeId, "from_node_id");
        to = toSafeNumber(req.batch.toNodeId, "to_node_id");
        if (from === 0) {
          throw new RangeDbError(
            ErrorCode.INVALID_ARGUMENT,
            "Cannot accept raft stream as its first message names no sender",
          );
        }
      } catch (err) {
        refuse(err as RangeDbError);
        return;
      }
      if (to !== acceptor.nodeId) {
        refuse(
          new RangeDbError(
            ErrorCode.FAILED_PRECONDITION,
            `Cannot accept raft stream as it is addressed to another node: to node is ${to}, this node is ${acceptor.nodeId}`,
          ),
        );
        return;
      }
      const theirs = incarnationIn(call.metadata);
      if (deps.incarnationMatches?.(from, theirs) === false) {
        refuse(
          new RangeDbError(
            ErrorCode.FAILED_PRECONDITION,
            `Cannot accept raft stream as node ${from} is recorded with another data directory: ` +
              `it sent incarnation ${theirs}; it lost its data and must rejoin`,
          ),
        );
        return;
      }
      if (from >= acceptor.nodeId) {
        refuse(
          new RangeDbError(
            ErrorCode.FAILED_PRECONDITION,
            `Cannot accept raft stream as only the node with the lower id dials: from node is ${from}, this node is ${acceptor.nodeId}`,
          ),
        );
        return;
      }
      acceptor.accept(from, call);
    };
    call.on("data", onHello);
    call.on("end", onEnd);
    call.on("error", (err) => logger.debug("peer raft stream failed", { err: err.message }));
  };

  const snapshot = (
    call: grpc.ServerReadableStream<SnapshotRequest, SnapshotResponse>,
    callback: grpc.sendUnaryData<SnapshotResponse>,
  ) => {
    let header: SnapshotRequest_Header | undefined;
    let done = false;
    let failed = false;
    const pairs: SnapshotPair[] = [];
    const fail = (err: RangeDbError) => {
      if (failed) return;
      failed = true;
      logger.warn("peer snapshot refused", { err: err.message });
      callback(toServiceError(err));
    };
    call.on("data", (chunk: SnapshotRequest) => {
      if (failed) return;
      if (header === undefined) {
        if (chunk.header === undefined) {
          fail(
            new RangeDbError(
              ErrorCode.INVALID_ARGUMENT,
              "Cannot accept snapshot as its first chunk has no header",
            ),
          );
          return;
        }
        header = chunk.header;
        const ours = clusterId();
        if (header.clusterId !== ours || ours === "") {
          fail(otherCluster("snapshot", header.clusterId, ours));
          return;
        }
      }
      for (const e of chunk.entries) {
        if (!KEYSPACES.has(e.keyspace)) {
          fail(
            new RangeDbError(
              ErrorCode.INVALID_ARGUMENT,
              `Cannot accept snapshot as an entry names an unknown keyspace: keyspace is ${e.keyspace}`,
            ),
          );
          return;
        }
        pairs.push({
          keyspace: e.keyspace as SnapshotPair["keyspace"],
          key: e.key,
          value: e.value,
        });
      }
      snapshotChunkBuffered();
      if (chunk.done) done = true;
    });
    call.on("end", () => {
      if (failed) return;
      if (header === undefined || !done || header.message === undefined) {
        fail(
          new RangeDbError(
            ErrorCode.INVALID_ARGUMENT,
            "Cannot accept snapshot as the stream ended before its last chunk",
          ),
        );
        return;
      }
      let incoming;
      try {
        incoming = {
          rangeId: toSafeNumber(header.rangeId, "range_id"),
          fromNodeId: toSafeNumber(header.fromNodeId, "from_node_id"),
          message: messageFromProto(header.message),
          appliedState: header.appliedState,
          pairs,
        };
      } catch (err) {
        fail(err as RangeDbError);
        return;
      }
      handler.receiveSnapshot(incoming).then(
        (accepted) => callback(null, create(SnapshotResponseSchema, { accepted })),
        (err) => callback(toServiceError(err, { logger })),
      );
    });
    call.on("error", (err) => logger.debug("peer snapshot stream failed", { err: err.message }));
  };

  const forward = (
    call: grpc.ServerUnaryCall<ForwardRequest, ForwardResponse>,
    callback: grpc.sendUnaryData<ForwardResponse>,
  ) => {
    const ours = clusterId();
    if (call.request.clusterId !== ours || ours === "") {
      callback(toServiceError(otherCluster("forwarded requests", call.request.clusterId, ours)));
      return;
    }
    const deadline = callDeadline(call.getDeadline(), clock.now());
    deps.forward(call.request.method, call.request.request, deadline).then(
      (response) => callback(null, create(ForwardResponseSchema, { response })),
      (err) => callback(toServiceError(err, { logger })),
    );
  };

  const join = (
    call: grpc.ServerUnaryCall<JoinRequest, JoinResponse>,
    callback: grpc.sendUnaryData<JoinResponse>,
  ) => {
    const ours = clusterId();
    if (ours === "") {
      // Still starting (perhaps checking in with its own peers): the asker skips this member.
      callback(toServiceError(
        new RangeDbError(
          ErrorCode.UNAVAILABLE,
          "Cannot answer the join as this node is still starting: retry shortly",
        ),
      ));
      return;
    }
    if (call.request.clusterId !== "" && call.request.clusterId !== ours) {
      callback(toServiceError(otherCluster("the join", call.request.clusterId, ours)));
      return;
    }
    const ctx = {
      deadline: callDeadline(call.getDeadline(), clock.now()),
      forwarded: call.metadata.get(FORWARDED_KEY).length > 0,
    };
    deps.join(call.request, ctx).then(
      (res) => callback(null, res),
      (err) => callback(toServiceError(err, { logger })),
    );
  };

  server.addService(PEER_SERVICE_DEFINITION, {
    RaftMessages: raftMessages,
    Snapshot: snapshot,
    Forward: forward,
    Join: join,
  });
}
