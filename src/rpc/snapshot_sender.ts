/**
 * Streams one range snapshot over `Peer.Snapshot`: a header chunk (the MsgSnap message and the
 * range's applied state), then chunks of at most {@linkcode MAX_CHUNK_BYTES} of pairs (a single
 * pair larger than that travels alone), the last one marked `done`. Pairs are read lazily from
 * the engine snapshot and written with backpressure, so a large range is never held in memory.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../base/logger.ts";
import type { OutgoingSnapshot, SnapshotPair } from "../kv/transport.ts";
import {
  type SnapshotEntry,
  SnapshotEntrySchema,
  type SnapshotRequest,
  SnapshotRequest_HeaderSchema,
  SnapshotRequestSchema,
  type SnapshotResponse,
} from "../../proto/gen/rangedb/v1/peer_pb.ts";
import { messageToProto } from "./codec_raft.ts";

/** Largest chunk of pairs, in bytes of keys, values and keyspace names. */
export const MAX_CHUNK_BYTES = 1024 * 1024;
/** How long a snapshot may take to stream and be accepted. */
export const SNAPSHOT_TIMEOUT_MS = 60_000;

/** Where a snapshot goes. */
export interface SnapshotTarget {
  client: grpc.Client;
  clusterId: string;
  fromNodeId: number;
  toNodeId: number;
  /** Absolute deadline, ms since the epoch. */
  deadline: number;
  logger: Logger;
}

type SnapshotStream = grpc.ClientWritableStream<SnapshotRequest>;

/**
 * Streams `snapshot` to `target`; resolves whether the receiver accepted it. Never rejects.
 *
 * @param target client, identities, deadline and logger
 * @param snapshot the snapshot; released (`close()`) when the stream ends before its pairs do
 */
export function streamSnapshot(
  target: SnapshotTarget,
  snapshot: OutgoingSnapshot,
): Promise<boolean> {
  const { client, logger } = target;
  const fields = { range_id: snapshot.rangeId, to_node_id: target.toNodeId };
  let failure: string | undefined;
  let stream!: SnapshotStream;
  const response = new Promise<boolean>((resolve) => {
    stream = (client as unknown as {
      Snapshot(
        metadata: grpc.Metadata,
        options: grpc.CallOptions,
        cb: (err: grpc.ServiceError | null, res?: SnapshotResponse) => void,
      ): SnapshotStream;
    }).Snapshot(new grpc.Metadata(), { deadline: target.deadline }, (err, res) => {
      if (err !== null) {
        failure = err.details;
        logger.warn("peer snapshot failed", {
          ...fields,
          code: grpc.status[err.code],
          err: err.details,
        });
        resolve(false);
      } else {
        resolve(res!.accepted);
      }
    });
  });
  const settled = response.then(() => {
    throw new Error(failure ?? "receiver answered before the last chunk");
  });
  settled.catch(() => {});
  const written = writeChunks(stream, target, snapshot, settled).catch((err: Error) => {
    if (failure === undefined) {
      logger.warn("peer snapshot failed", { ...fields, err: err.message });
    }
    stream.cancel();
  });
  return written.then(() => response);
}

async function writeChunks(
  stream: SnapshotStream,
  target: SnapshotTarget,
  snapshot: OutgoingSnapshot,
  settled: Promise<never>,
): Promise<void> {
  let exhausted = false;
  try {
    const header = create(SnapshotRequest_HeaderSchema, {
      clusterId: target.clusterId,
      fromNodeId: BigInt(target.fromNodeId),
      toNodeId: BigInt(target.toNodeId),
      rangeId: BigInt(snapshot.rangeId),
      message: messageToProto(snapshot.message),
      appliedState: snapshot.appliedState,
    });
    await write(stream, create(SnapshotRequestSchema, { header }), settled);
    let entries: SnapshotEntry[] = [];
    let bytes = 0;
    const iterator = snapshot.pairs[Symbol.iterator]();
    for (;;) {
      const next = iterator.next();
      if (next.done) break;
      const size = pairSize(next.value);
      if (entries.length > 0 && bytes + size > MAX_CHUNK_BYTES) {
        await write(stream, create(SnapshotRequestSchema, { entries }), settled);
        entries = [];
        bytes = 0;
      }
      entries.push(create(SnapshotEntrySchema, next.value));
      bytes += size;
    }
    exhausted = true;
    await write(stream, create(SnapshotRequestSchema, { entries, done: true }), settled);
    stream.end();
  } finally {
    if (!exhausted) snapshot.close();
  }
}

function pairSize(pair: SnapshotPair): number {
  return pair.keyspace.length + pair.key.length + pair.value.length;
}

/**
 * Writes one chunk, waiting for 'drain' when the buffer is full; rejects when the call settles
 * first (the receiver failed or the deadline passed).
 */
async function write(
  stream: SnapshotStream,
  chunk: SnapshotRequest,
  settled: Promise<never>,
): Promise<void> {
  if (stream.write(chunk)) return;
  let onDrain!: () => void;
  const drained = new Promise<void>((resolve) => onDrain = resolve);
  stream.once("drain", onDrain);
  try {
    await Promise.race([drained, settled]);
  } finally {
    stream.off("drain", onDrain);
  }
}
