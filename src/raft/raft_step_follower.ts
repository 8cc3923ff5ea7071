/**
 * Message handling of followers: forwarding proposals, reads and transfers to the leader, and
 * accepting the leader's appends, heartbeats and snapshots.
 *
 * @module
 */

import { restoreConfState } from "./confchange/restore.ts";
import { switchToConfig } from "./raft_conf_change.ts";
import { RaftError } from "./errors.ts";
import { newMessage } from "./messages.ts";
import type { Raft } from "./raft.ts";
import { CampaignType } from "./raft.ts";
import { ProgressTracker } from "./tracker/progress_tracker.ts";
import { type Message, MessageType, NONE, type Snapshot } from "./types.ts";

/**
 * Message handling of followers. Forwarded messages are copies: the incoming message may be
 * delivered again and must stay intact.
 */
export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.Prop:
      if (r.lead === NONE) {
        throw new RaftError(
          "ErrProposalDropped",
          `Cannot propose as there is no leader: node ${r.id} is follower in term ${r.term}`,
        );
      }
      if (r.cfg.disableProposalForwarding) {
        throw new RaftError(
          "ErrProposalDropped",
          `Cannot propose as forwarding is disabled: node ${r.id} follows ${r.lead}`,
        );
      }
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.App:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleAppendEntries(r, m);
      return;
    case MessageType.Heartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleHeartbeat(r, m);
      return;
    case MessageType.Snap:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleSnapshot(r, m);
      return;
    case MessageType.TransferLeader:
      if (r.lead === NONE) {
        r.cfg.logger.info("dropped leader transfer as there is no leader", { node_id: r.id });
        return;
      }
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.TimeoutNow:
      // The leader asked this node to campaign at once, bypassing the lease of its peers.
      r.hup(CampaignType.Transfer);
      return;
    case MessageType.ReadIndex:
      if (r.lead === NONE) {
        r.cfg.logger.info("dropped read index as there is no leader", { node_id: r.id });
        return;
      }
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.ReadIndexResp:
      r.readStates.push({ index: m.index, requestCtx: m.context });
      return;
  }
}

/**
 * Appends the leader's entries when the log matches at `(m.index, m.logTerm)`; otherwise rejects
 * with a hint (the last index whose term is at most `m.logTerm`) so the leader can skip a whole
 * conflicting term per round trip.
 */
export function handleAppendEntries(r: Raft, m: Message): void {
  const resp = newMessage(MessageType.AppResp, m.from);
  if (m.index < r.raftLog.committed) {
    resp.index = r.raftLog.committed;
    r.send(resp);
    return;
  }
  const lastNew = r.raftLog.maybeAppend(
    m.index,
    m.logTerm,
    m.commit,
    m.entries,
    r.bug("apply-truncated-suffix"),
  );
  if (lastNew !== undefined) {
    resp.index = lastNew;
    r.send(resp);
    return;
  }
  if (r.bug("apply-truncated-suffix")) {
    // Planted bug: take the leader's commit index although this log does not match the leader's
    // at m.index, committing a possibly stale suffix.
    r.raftLog.commitTo(Math.min(m.commit, r.raftLog.lastIndex()));
  }
  const [hintIndex, hintTerm] = r.raftLog.findConflictByTerm(
    Math.min(m.index, r.raftLog.lastIndex()),
    m.logTerm,
  );
  r.cfg.logger.debug("rejected append", {
    node_id: r.id,
    term: r.term,
    from: m.from,
    index: m.index,
    log_term: m.logTerm,
    hint_index: hintIndex,
    hint_term: hintTerm,
  });
  resp.index = m.index;
  resp.reject = true;
  resp.rejectHint = hintIndex;
  resp.logTerm = hintTerm;
  r.send(resp);
}

/** Takes the commit index a heartbeat carries (at most what this follower holds). */
export function handleHeartbeat(r: Raft, m: Message): void {
  r.raftLog.commitTo(m.commit);
  const resp = newMessage(MessageType.HeartbeatResp, m.from);
  resp.context = m.context;
  r.send(resp);
}

/** Installs a snapshot from the leader when it is news, and tells the leader where the log is. */
export function handleSnapshot(r: Raft, m: Message): void {
  const resp = newMessage(MessageType.AppResp, m.from);
  if (m.snapshot !== undefined && restore(r, m.snapshot)) {
    r.cfg.logger.info("restored snapshot", {
      node_id: r.id,
      index: m.snapshot.metadata.index,
      term: m.snapshot.metadata.term,
    });
    resp.index = r.raftLog.lastIndex();
  } else {
    resp.index = r.raftLog.committed;
  }
  r.send(resp);
}

/**
 * Replaces log and membership by the snapshot `s`.
 * @returns false when the snapshot brings nothing new (older than the commit index, or the log
 * already has its last entry, in which case the commit index just moves up)
 */
function restore(r: Raft, s: Snapshot): boolean {
  const { index, term, confState: cs } = s.metadata;
  if (index <= r.raftLog.committed) return false;
  // A member refuses a snapshot of a configuration without itself (it was removed); a node that
  // is not (yet) a member accepts it, which is how a newly added node learns the membership.
  const inSnapshot = cs.voters.includes(r.id) || cs.learners.includes(r.id) ||
    cs.votersOutgoing.includes(r.id) || cs.learnersNext.includes(r.id);
  if (!inSnapshot && r.trk.progress.has(r.id)) {
    r.cfg.logger.warn("refused snapshot of a configuration without this node", {
      node_id: r.id,
      index,
    });
    return false;
  }
  if (r.raftLog.matchTerm(index, term)) {
    // The log already has the snapshot's last entry: just fast-forward the commit index.
    r.raftLog.commitTo(index);
    return false;
  }
  r.raftLog.restore(s);
  r.trk = new ProgressTracker(r.trk.maxInflight, r.trk.maxInflightBytes);
  switchToConfig(r, restoreConfState(r.trk, r.raftLog.lastIndex(), cs));
  const pr = r.trk.progress.get(r.id);
  if (pr !== undefined) pr.maybeUpdate(pr.next - 1);
  return true;
}
