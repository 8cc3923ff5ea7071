/**
 * Message handling of leaders: proposals (with the conf-change rules), ReadIndex, append and
 * heartbeat responses, snapshot reports and leader transfer.
 *
 * @module
 */

import { decodeConfChange } from "./conf_change_codec.ts";
import { Changer } from "./confchange/changer.ts";
import { RaftError } from "./errors.ts";
import { newMessage } from "./messages.ts";
import type { Raft } from "./raft.ts";
import { computeConfChange } from "./raft_conf_change.ts";
import {
  bcastHeartbeat,
  maybeSendAppend,
  sendAppends,
  sendTimeoutNow,
} from "./raft_replication.ts";
import { VoteResult } from "./quorum/majority.ts";
import { ProgressState } from "./tracker/progress.ts";
import {
  ConfChangeTransition,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  NONE,
  ReadOnlyOption,
  StateType,
} from "./types.ts";

const NO_DATA = new Uint8Array(0);

/** Message handling of leaders. */
export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.Beat:
      bcastHeartbeat(r, r.readOnly.lastPendingRequestCtx());
      return;
    case MessageType.CheckQuorum:
      if (!r.trk.quorumActive()) {
        r.cfg.logger.warn("stepped down as leader without quorum contact", {
          node_id: r.id,
          term: r.term,
        });
        r.becomeFollower(r.term, NONE);
      }
      // Everyone but this node must prove itself active again before the next check.
      for (const [id, pr] of r.trk.progress) if (id !== r.id) pr.recentActive = false;
      return;
    case MessageType.Prop:
      stepProposal(r, m);
      return;
    case MessageType.ReadIndex:
      stepReadIndex(r, m);
      return;
  }

  const pr = r.trk.progress.get(m.from);
  if (pr === undefined) return;
  switch (m.type) {
    case MessageType.AppResp:
      pr.recentActive = true;
      if (m.reject) {
        // Skip past the follower's conflicting term using its hint (fast back-off).
        let nextProbeIdx = m.rejectHint;
        if (m.logTerm > 0) nextProbeIdx = r.raftLog.findConflictByTerm(m.rejectHint, m.logTerm)[0];
        if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
          if (pr.state === ProgressState.Replicate) pr.becomeProbe();
          maybeSendAppend(r, m.from);
        }
        return;
      }
      if (!pr.maybeUpdate(m.index) && !(pr.match === m.index && pr.state === ProgressState.Probe)) {
        return;
      }
      if (pr.state === ProgressState.Probe) {
        pr.becomeReplicate();
      } else if (
        pr.state === ProgressState.Snapshot && pr.match + 1 >= r.raftLog.firstIndex()
      ) {
        // The follower caught up to where the log is available again: resume appends.
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === ProgressState.Replicate) {
        pr.inflights.freeLE(m.index);
      }
      if (r.maybeCommit()) {
        releasePendingReadIndexMessages(r);
        // Every follower learns the new commit index with the next batch of appends (or, when
        // lazy, with the next append it gets anyway or the next heartbeat).
        if (!r.cfg.lazyCommitBroadcast) r.appendsPending = true;
      }
      if (m.from !== r.id) {
        sendAppends(r, m.from);
        if (m.from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) {
          r.cfg.logger.info("sent timeout-now to transferee with an up-to-date log", {
            node_id: r.id,
            to: m.from,
          });
          sendTimeoutNow(r, m.from);
        }
      }
      return;
    case MessageType.HeartbeatResp:
      pr.recentActive = true;
      pr.msgAppProbesPaused = false;
      // Appends may have been lost: free one slot of a full window so that replication resumes
      // (a rejection then resets the follower to probing).
      if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
      if (pr.match < r.raftLog.lastIndex() || pr.state === ProgressState.Probe) {
        maybeSendAppend(r, m.from, true);
      }
      // Safe reads, and LeaseBased reads after the lease was revoked, wait for a quorum of acks.
      if (m.context.length === 0) return;
      {
        const acks = r.readOnly.recvAck(m.from, m.context);
        if (acks === undefined || r.trk.config.voters.voteResult(acks) !== VoteResult.Won) return;
        for (const rs of r.readOnly.advance(m.context)) respondToReadIndex(r, rs.req, rs.index);
      }
      return;
    case MessageType.SnapStatus:
      if (pr.state !== ProgressState.Snapshot) return;
      if (m.reject) pr.pendingSnapshot = 0;
      // Probe again after the snapshot (or from match after a failure), but only once the next
      // heartbeat response or append response shows the follower is there.
      pr.becomeProbe();
      pr.msgAppProbesPaused = true;
      return;
    case MessageType.Unreachable:
      // Appends were probably lost: stop pipelining and probe.
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      return;
    case MessageType.TransferLeader:
      stepTransferLeader(r, m);
      return;
  }
}

function dropped(r: Raft, why: string): RaftError {
  return new RaftError(
    "ErrProposalDropped",
    `Cannot propose as ${why}: leader is ${r.id}, term ${r.term}`,
  );
}

/**
 * Appends proposed entries. A conf change that breaks a rule (a previous one not yet applied,
 * joint state mismatch, no entry of this term committed yet, or invalid for the current config)
 * is replaced by an empty normal entry, as etcd does.
 */
function stepProposal(r: Raft, m: Message): void {
  if (m.entries.length === 0) {
    throw new RaftError(
      "ErrInvariant",
      `Cannot propose as the proposal has no entries: from ${m.from}`,
    );
  }
  if (!r.trk.progress.has(r.id)) throw dropped(r, "the leader is not a member");
  if (r.leadTransferee !== NONE) {
    throw dropped(r, `leadership is being transferred to ${r.leadTransferee}`);
  }
  // Forwarded proposals are copied: the message may be delivered again and must stay intact.
  const ents: Entry[] = m.from === r.id
    ? m.entries
    : m.entries.map((e) => ({ term: 0, index: 0, type: e.type, data: e.data }));
  for (let i = 0; i < ents.length; i++) {
    if (ents[i].type !== EntryType.ConfChange) continue;
    const failed = confChangeRefusal(r, ents[i]);
    if (failed !== undefined) {
      r.cfg.logger.info("ignored conf change proposal", { node_id: r.id, reason: failed });
      ents[i] = { term: 0, index: 0, type: EntryType.Normal, data: NO_DATA };
    } else {
      r.pendingConfIndex = r.raftLog.lastIndex() + i + 1;
    }
  }
  if (!r.appendEntries(ents)) throw dropped(r, "the uncommitted log is over its size limit");
}

function confChangeRefusal(r: Raft, e: Entry): string | undefined {
  let cc;
  try {
    cc = decodeConfChange(e.data);
  } catch (err) {
    return String(err);
  }
  const alreadyJoint = r.trk.config.voters.isJoint();
  const wantsLeaveJoint = cc.transition === ConfChangeTransition.Auto && cc.changes.length === 0;
  if (r.pendingConfIndex > r.raftLog.applied) {
    return `possible unapplied conf change at index ${r.pendingConfIndex} (applied to ${r.raftLog.applied})`;
  }
  if (!r.committedEntryInCurrentTerm()) return "no entry of the leader's term is committed yet";
  if (alreadyJoint && !wantsLeaveJoint) return "must transition out of joint config first";
  if (!alreadyJoint && wantsLeaveJoint) return "not in joint state; refusing empty conf change";
  // Every earlier conf change is applied, so the current config is the one this change will be
  // applied to: validate it now so that a committed conf change always applies.
  try {
    computeConfChange(new Changer(r.trk, r.raftLog.lastIndex()), cc);
  } catch (err) {
    return String(err);
  }
  return undefined;
}

function stepReadIndex(r: Raft, m: Message): void {
  // The commit index of a new leader may lag the previous terms' commits until an entry of its
  // own term commits; reads wait until then. This holds for a single voter too: it may have been
  // a follower of a larger config that committed entries it has not heard committed yet.
  if (!r.committedEntryInCurrentTerm()) {
    r.pendingReadIndexMessages.push(m);
    return;
  }
  if (r.trk.isSingleton()) {
    respondToReadIndex(r, m, r.raftLog.committed);
    return;
  }
  sendReadIndexResponse(r, m);
}

function sendReadIndexResponse(r: Raft, m: Message): void {
  if (r.readOnly.option === ReadOnlyOption.LeaseBased && !r.leaseRevoked) {
    respondToReadIndex(r, m, r.raftLog.committed);
    return;
  }
  r.readOnly.addRequest(r.raftLog.committed, m);
  // The leader acknowledges its own round; a single voter may already be a quorum.
  const acks = r.readOnly.recvAck(r.id, m.context);
  if (acks !== undefined && r.trk.config.voters.voteResult(acks) === VoteResult.Won) {
    for (const rs of r.readOnly.advance(m.context)) respondToReadIndex(r, rs.req, rs.index);
    return;
  }
  bcastHeartbeat(r, m.context);
}

/** Answers the ReadIndex requests queued while no entry of this term was committed. */
function releasePendingReadIndexMessages(r: Raft): void {
  if (r.pendingReadIndexMessages.length === 0 || !r.committedEntryInCurrentTerm()) return;
  const msgs = r.pendingReadIndexMessages;
  r.pendingReadIndexMessages = [];
  for (const m of msgs) sendReadIndexResponse(r, m);
}

function respondToReadIndex(r: Raft, req: Message, index: number): void {
  if (req.from === NONE || req.from === r.id) {
    r.readStates.push({ index, requestCtx: req.context });
    return;
  }
  const resp = newMessage(MessageType.ReadIndexResp, req.from);
  resp.index = index;
  resp.context = req.context;
  r.send(resp);
}

function stepTransferLeader(r: Raft, m: Message): void {
  const pr = r.trk.progress.get(m.from)!;
  if (pr.isLearner) {
    r.cfg.logger.info("ignored leader transfer to a learner", { node_id: r.id, to: m.from });
    return;
  }
  const transferee = m.from;
  if (r.leadTransferee !== NONE) {
    if (r.leadTransferee === transferee) return;
    r.leadTransferee = NONE;
  }
  if (transferee === r.id) return;
  // The transfer must finish within an election timeout, counted from now.
  r.electionElapsed = 0;
  r.leadTransferee = transferee;
  if (pr.match === r.raftLog.lastIndex()) sendTimeoutNow(r, transferee);
  else maybeSendAppend(r, transferee, true);
}

/** Acknowledges this leader's own entries once persisted (they count toward the quorum). */
export function selfAck(r: Raft, index: number): void {
  if (r.state !== StateType.Leader) return;
  const m = newMessage(MessageType.AppResp, r.id);
  m.from = r.id;
  m.term = r.term;
  m.index = index;
  stepLeader(r, m);
}
