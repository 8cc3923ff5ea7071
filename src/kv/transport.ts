/**
 * The boundary between the multi-raft store and the network: what the store hands the transport
 * after each scheduler turn, and what the transport hands back. The gRPC implementation lives in
 * `src/rpc/peer_transport.ts`; tests of `src/kv` use an in-process one.
 *
 * @module
 */

import type { Message } from "../raft/mod.ts";

/** A Raft message of one range. `message.to`/`from` are node ids (node id = replica id). */
export interface RangeMessage {
  rangeId: number;
  message: Message;
  /**
   * Set on a leader's heartbeat that quiesces the range (`replica_quiesce.ts`): it does not wake
   * a quiesced follower, and quiesces a caught-up one. Only a heartbeat without a context carries
   * it (the wire has it on coalesced heartbeats only).
   */
  quiesce?: boolean;
}

/** One pair of a snapshot: keyspace name, key and value. */
export interface SnapshotPair {
  keyspace: "data" | "locks" | "dedupe" | "txn";
  key: Uint8Array;
  value: Uint8Array;
}

/**
 * A snapshot of one range on its way to a replica: the MsgSnap message (its snapshot data empty),
 * the range's applied state (RangeAppliedState bytes) and the pairs, produced lazily so that a
 * large range is streamed in chunks rather than held in memory by the sender.
 */
export interface OutgoingSnapshot {
  rangeId: number;
  message: Message;
  appliedState: Uint8Array;
  /** The pairs, read from a consistent engine snapshot; closes it when exhausted or returned. */
  pairs: Iterable<SnapshotPair>;
  /** Releases the engine snapshot when the stream is abandoned before the end. */
  close(): void;
}

/** A received snapshot, fully buffered by the transport. */
export interface IncomingSnapshot {
  rangeId: number;
  fromNodeId: number;
  message: Message;
  appliedState: Uint8Array;
  pairs: SnapshotPair[];
}

/** What the store needs from the network. */
export interface RaftTransport {
  /**
   * Queues the messages of one scheduler turn or tick for `toNodeId`. An empty batch is sent too:
   * it tells the other node that this one is live. Never blocks and never throws: a message that
   * cannot be delivered is dropped (Raft retries), and the transport reports the node
   * unreachable through {@linkcode TransportHandler.reportUnreachable}.
   */
  send(toNodeId: number, messages: RangeMessage[]): void;
  /**
   * Streams a snapshot to `toNodeId`; resolves true when the receiver accepted it, false when it
   * failed (the store then reports the snapshot failed to Raft). Never rejects.
   */
  sendSnapshot(toNodeId: number, snapshot: OutgoingSnapshot): Promise<boolean>;
}

/** What the transport calls on the store. */
export interface TransportHandler {
  /**
   * Messages received from `fromNodeId`, one batch of its scheduler turn or tick; possibly none
   * (a liveness batch), which still counts as hearing from that node.
   */
  receive(fromNodeId: number, messages: RangeMessage[]): void;
  /** A complete snapshot received; resolves whether the store accepted it. */
  receiveSnapshot(snapshot: IncomingSnapshot): Promise<boolean>;
  /** The stream to `nodeId` failed; Raft should stop assuming its messages arrive. */
  reportUnreachable(nodeId: number): void;
}
