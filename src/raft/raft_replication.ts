/**
 * What a leader sends to followers: appends (flow-controlled by each follower's
 * {@linkcode Progress}), snapshots when the needed entries are compacted, and heartbeats.
 *
 * @module
 */

import { entriesSize } from "./entries.ts";
import { isRaftError, RaftError } from "./errors.ts";
import { newMessage } from "./messages.ts";
import type { Raft } from "./raft.ts";
import { type Progress, ProgressState } from "./tracker/progress.ts";
import { type Entry, MessageType, type NodeId } from "./types.ts";

const NO_ENTRIES: Entry[] = [];

/**
 * Sends the follower `to` an append when its progress allows: new entries when the window has
 * room, or an empty append when only the commit index is news to it (never with
 * `lazyCommitBroadcast`) or when `sendIfEmpty` (the empty append then checks where the
 * follower's log is, e.g. after appends were lost). Falls back to a snapshot when the entries it
 * needs are compacted.
 * @returns true when a message was sent
 */
export function maybeSendAppend(r: Raft, to: NodeId, sendIfEmpty = false): boolean {
  const pr = r.trk.progress.get(to);
  if (pr === undefined) return false;
  const log = r.raftLog;
  const last = log.lastIndex();
  const commit = log.committed;
  let sendEntries: boolean;
  switch (pr.state) {
    case ProgressState.Snapshot:
      return false;
    case ProgressState.Probe:
      if (pr.isPaused()) return false;
      sendEntries = pr.next <= last;
      break;
    default:
      sendEntries = !pr.isPaused() && pr.next <= last;
      // A lazy leader lets a new commit index wait for the next append or heartbeat.
      if (
        !sendEntries && !(pr.canBumpCommit(commit) && !r.cfg.lazyCommitBroadcast) &&
        !(sendIfEmpty && !pr.isPaused())
      ) {
        return false;
      }
  }
  const prevIndex = pr.next - 1;
  const prevTerm = log.termOrUndefined(prevIndex);
  if (prevTerm === undefined) return maybeSendSnapshot(r, to, pr);
  let ents = NO_ENTRIES;
  if (sendEntries) {
    try {
      ents = log.entries(pr.next, r.cfg.maxSizePerMsg);
    } catch (err) {
      if (isRaftError(err, "ErrCompacted")) return maybeSendSnapshot(r, to, pr);
      throw err;
    }
  }
  const m = newMessage(MessageType.App, to);
  m.index = prevIndex;
  m.logTerm = prevTerm;
  m.entries = ents;
  m.commit = commit;
  r.send(m);
  pr.sentEntries(ents.length, ents.length === 0 ? 0 : entriesSize(ents));
  pr.setSentCommit(commit);
  return true;
}

/**
 * Sends the latest snapshot to a follower that needs compacted entries, if it was recently
 * active (no snapshot goes to a node that may be down).
 * @returns true when sent
 */
function maybeSendSnapshot(r: Raft, to: NodeId, pr: Progress): boolean {
  if (!pr.recentActive) {
    r.cfg.logger.debug("not sending snapshot to inactive node", { node_id: r.id, to });
    return false;
  }
  let snap;
  try {
    snap = r.raftLog.snapshot();
  } catch (err) {
    if (isRaftError(err, "ErrSnapshotTemporarilyUnavailable")) return false;
    throw err;
  }
  if (snap.metadata.index === 0) {
    throw new RaftError(
      "ErrInvariant",
      `Cannot send snapshot as it is empty: node ${to} needs compacted entries from ${pr.next}`,
    );
  }
  pr.becomeSnapshot(snap.metadata.index);
  const m = newMessage(MessageType.Snap, to);
  m.snapshot = snap;
  r.send(m);
  r.cfg.logger.debug("sent snapshot", {
    node_id: r.id,
    to,
    index: snap.metadata.index,
    term: snap.metadata.term,
  });
  return true;
}

/**
 * Sends every replicating follower that was not yet sent the leader's commit index an append
 * carrying it (empty unless entries are due anyway): what an eager leader does on every commit,
 * on demand for a lazy one (`lazyCommitBroadcast`).
 */
export function bcastCommit(r: Raft): void {
  const commit = r.raftLog.committed;
  for (const id of r.trk.sortedIds()) {
    if (id === r.id) continue;
    const pr = r.trk.progress.get(id)!;
    if (pr.state !== ProgressState.Replicate || pr.isPaused() || !pr.canBumpCommit(commit)) {
      continue;
    }
    maybeSendAppend(r, id, true);
  }
}

/** Sends every follower all the appends its window allows. */
export function bcastAppend(r: Raft): void {
  r.appendsPending = false;
  for (const id of r.trk.sortedIds()) {
    if (id !== r.id) sendAppends(r, id);
  }
}

/**
 * Sends `to` one append, and in replicate state as many more as its window allows (a probe is one
 * message at a time).
 */
export function sendAppends(r: Raft, to: NodeId): void {
  if (!maybeSendAppend(r, to)) return;
  const pr = r.trk.progress.get(to)!;
  while (pr.state === ProgressState.Replicate && maybeSendAppend(r, to)) {
    // Each round sends up to maxSizePerMsg; stop when the window is full or nothing is left.
  }
}

/** Sends a heartbeat to every member, carrying `ctx` (a ReadIndex round) when given. */
export function bcastHeartbeat(r: Raft, ctx: Uint8Array | undefined): void {
  for (const id of r.trk.sortedIds()) {
    if (id === r.id) continue;
    const pr = r.trk.progress.get(id)!;
    // Never tell a follower a commit index beyond what it is known to hold.
    const commit = Math.min(pr.match, r.raftLog.committed);
    const m = newMessage(MessageType.Heartbeat, id);
    m.commit = commit;
    if (ctx !== undefined) m.context = ctx;
    r.send(m);
    pr.setSentCommit(Math.max(pr.sentCommit, commit));
  }
}

/** Tells the transferee to campaign at once. */
export function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.leaseRevoked = true;
  r.send(newMessage(MessageType.TimeoutNow, to));
}
