/**
 * Snapshots of a range: what a leader streams to a replica that needs one, and how the receiver
 * installs it.
 *
 * The sender reads the range from one engine snapshot taken when the `MsgSnap` is sent: the
 * `data`, `locks`, `dedupe` and `txn` (batch decision records) pairs of the range's span, and
 * the applied state read
 * from that same engine snapshot. The message's snapshot metadata is set from that applied state
 * (index, term, membership), so data and metadata always describe the same point of the log
 * even though Raft asked for an older one. The receiver buffers everything (`StagedSnapshot`),
 * steps the `MsgSnap`, and when Raft hands the snapshot back in a Ready, the turn's batch
 * replaces the range's data, intents, dedupe and decision records, applied state and log at once.
 *
 * @module
 */

import { compareBytes } from "../base/key_encoding.ts";
import type { Message } from "../raft/mod.ts";
import {
  crashPoint,
  type Engine,
  type KeyValue,
  type Snapshot as EngineSnapshot,
  type WriteBatch,
} from "../storage/mod.ts";
import {
  confStateOf,
  decodeAppliedState,
  encodeAppliedState,
  type RangeAppliedState,
  type RangeDescriptor,
} from "./command.ts";
import { keySpan, raftStateKey, RaftStateKind } from "./keys.ts";
import type { IncomingSnapshot, OutgoingSnapshot, SnapshotPair } from "./transport.ts";

/** A received snapshot waiting to be installed. */
export interface StagedSnapshot {
  applied: RangeAppliedState;
  pairs: SnapshotPair[];
}

const LOWEST = new Uint8Array([0x00]);
const HIGHEST = new Uint8Array([0xff, 0xff]);

/** The `locks` keyspace span of a descriptor (raw user keys). */
function locksSpan(d: RangeDescriptor): { start: Uint8Array; end: Uint8Array } {
  return {
    start: d.start.length === 0 ? LOWEST : d.start,
    end: d.end.length === 0 ? HIGHEST : d.end,
  };
}

/**
 * Builds the snapshot to stream for a `MsgSnap` of range `rangeId`.
 *
 * @param engine the node's engine (read through one snapshot, closed when the pairs are
 * exhausted or the stream is closed)
 * @param rangeId the range
 * @param message the `MsgSnap` from Raft
 * @returns the snapshot, or undefined when the range has no applied state
 */
export function buildOutgoingSnapshot(
  engine: Engine,
  rangeId: number,
  message: Message,
): OutgoingSnapshot | undefined {
  const snap = engine.snapshot();
  const bytes = snap.get("raft_state", raftStateKey(rangeId, RaftStateKind.AppliedState));
  if (bytes === undefined) {
    snap.close();
    return undefined;
  }
  const applied = decodeAppliedState(bytes);
  const descriptor = applied.descriptor!;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    snap.close();
  };
  return {
    rangeId,
    message: {
      ...message,
      snapshot: {
        metadata: {
          index: Number(applied.appliedIndex),
          term: Number(applied.appliedTerm),
          confState: confStateOf(descriptor),
        },
        data: new Uint8Array(0),
      },
    },
    appliedState: bytes,
    pairs: snapshotPairs(snap, descriptor, close),
    close,
  };
}

function* snapshotPairs(
  snap: EngineSnapshot,
  d: RangeDescriptor,
  close: () => void,
): Generator<SnapshotPair> {
  try {
    const span = keySpan(d);
    const parts: [SnapshotPair["keyspace"], Iterable<KeyValue>][] = [
      ["data", snap.scan("data", span)],
      ["locks", snap.scan("locks", locksSpan(d))],
      ["dedupe", snap.scan("dedupe", span)],
      // Decision records are keyed by the encoded primary key: they follow the span like data.
      ["txn", snap.scan("txn", span)],
    ];
    for (const [keyspace, pairs] of parts) {
      for (const { key, value } of pairs) yield { keyspace, key, value };
    }
  } finally {
    close();
  }
}

/**
 * Stages a received snapshot's state into a turn's batch: the range's data, locks, dedupe and
 * decision records are replaced by the snapshot's, and its applied state is written. (The log is replaced
 * by `ReplicaRaftStorage.applySnapshotTo`.)
 */
export function installSnapshot(rangeId: number, staged: StagedSnapshot, batch: WriteBatch): void {
  const d = staged.applied.descriptor!;
  const span = keySpan(d);
  const locks = locksSpan(d);
  batch.deleteRange("data", span.start, span.end);
  batch.deleteRange("locks", locks.start, locks.end);
  batch.deleteRange("dedupe", span.start, span.end);
  batch.deleteRange("txn", span.start, span.end);
  for (const p of staged.pairs) batch.put(p.keyspace, p.key, p.value);
  batch.put(
    "raft_state",
    raftStateKey(rangeId, RaftStateKind.AppliedState),
    encodeAppliedState(staged.applied),
  );
}

/**
 * Called by the transport after it buffered each chunk of an incoming snapshot (the header
 * first): the `snapshot-receive` crash point (tests only; `src/storage/crash_points.ts`).
 * Nothing of a snapshot is durable until a turn installs it, so a crash here must leave the
 * replica as it was.
 */
export function snapshotChunkBuffered(): void {
  crashPoint("snapshot-receive");
}

/** Whether every pair of a received snapshot lies in the range it claims to be. */
export function snapshotPairsInRange(
  s: IncomingSnapshot,
  d: RangeDescriptor,
): boolean {
  const data = keySpan(d);
  const locks = locksSpan(d);
  for (const p of s.pairs) {
    if (
      p.keyspace !== "data" && p.keyspace !== "dedupe" && p.keyspace !== "locks" &&
      p.keyspace !== "txn"
    ) return false;
    const [lo, hi] = p.keyspace === "locks" ? [locks.start, locks.end] : [data.start, data.end];
    if (compareBytes(p.key, lo) < 0 || compareBytes(p.key, hi) >= 0) return false;
  }
  return true;
}
