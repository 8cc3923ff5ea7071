/**
 * Membership changes of a {@linkcode Raft} node: applying a committed change, switching the
 * active configuration, and the automatic leave of a joint configuration.
 *
 * @module
 */

import { encodeConfChange } from "./conf_change_codec.ts";
import type { Changer, ChangeResult } from "./confchange/changer.ts";
import { isRaftError } from "./errors.ts";
import type { Raft } from "./raft.ts";
import { maybeSendAppend } from "./raft_replication.ts";
import {
  type ConfChange,
  ConfChangeTransition,
  type ConfState,
  type Entry,
  EntryType,
  MessageType,
  NONE,
  StateType,
} from "./types.ts";

/**
 * Applies `cc` through `changer` by etcd's rules: an empty Auto change leaves the joint config;
 * a non-Auto transition or several changes enter one (auto-leaving unless JointExplicit);
 * otherwise the change is simple.
 * @throws {RaftError} ErrInvalidConfChange when the change does not fit the configuration
 */
export function computeConfChange(changer: Changer, cc: ConfChange): ChangeResult {
  if (cc.transition === ConfChangeTransition.Auto && cc.changes.length === 0) {
    return changer.leaveJoint();
  }
  if (cc.transition !== ConfChangeTransition.Auto || cc.changes.length > 1) {
    return changer.enterJoint(cc.transition !== ConfChangeTransition.JointExplicit, cc.changes);
  }
  return changer.simple(cc.changes);
}

/** A (not yet appended) log entry carrying `cc`. */
export function confChangeEntry(cc: ConfChange): Entry {
  return { term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) };
}

/**
 * Makes `next` the active membership of `r`. A leader may commit (the quorum changed) and probes
 * new members; a leader that was removed or demoted hands leadership over
 * ({@linkcode handOverLeadership}).
 * @returns the new membership
 */
export function switchToConfig(r: Raft, next: ChangeResult): ConfState {
  r.trk.config = next.config;
  r.trk.progress = next.progress;
  const cs = r.trk.confState();
  if (r.state !== StateType.Leader || cs.voters.length === 0) return cs;
  if (r.maybeCommit()) {
    r.appendsPending = true;
  } else {
    for (const id of r.trk.sortedIds()) {
      if (id !== r.id) maybeSendAppend(r, id);
    }
  }
  if (r.leadTransferee !== NONE && !r.trk.config.voters.ids().has(r.leadTransferee)) {
    r.leadTransferee = NONE;
  }
  handOverLeadership(r);
  return cs;
}

/**
 * Starts a leader transfer when `r` leads but is no longer a voter (it applied its own removal
 * or demotion).
 *
 * Stepping down at once is not safe for liveness: the remaining voters may not know yet that
 * the change committed, so they still count `r` as a voter. A longer log on `r` (its own
 * uncommitted tail) would then make it refuse them its vote, forever. Instead `r` stays leader
 * only to hand over. It keeps replicating, which carries the commit index to the new voters,
 * and it accepts no proposals while the transfer runs. It transfers to the most caught-up voter
 * and steps down when that voter's higher term reaches it. A transfer that times out is started
 * again on the next heartbeat tick.
 */
export function handOverLeadership(r: Raft): void {
  if (r.state !== StateType.Leader || r.leadTransferee !== NONE) return;
  const voters = r.trk.config.voters.ids();
  if (voters.has(r.id)) return;
  let best = NONE;
  let bestMatch = -1;
  for (const id of voters) {
    const pr = r.trk.progress.get(id);
    if (pr !== undefined && pr.match > bestMatch) {
      best = id;
      bestMatch = pr.match;
    }
  }
  if (best === NONE) return;
  r.cfg.logger.info("leader left the voters, transferring leadership", {
    node_id: r.id,
    term: r.term,
    to: best,
  });
  const m = r.localMessage(MessageType.TransferLeader);
  m.from = best;
  r.step(m);
}

/**
 * Proposes leaving the joint configuration when `r` leads one marked auto-leave and it is
 * applied.
 */
export function maybeAutoLeave(r: Raft): void {
  if (
    !r.trk.config.autoLeave || r.raftLog.applied < r.pendingConfIndex ||
    r.state !== StateType.Leader
  ) {
    return;
  }
  const m = r.localMessage(MessageType.Prop);
  m.entries = [
    confChangeEntry({
      transition: ConfChangeTransition.Auto,
      changes: [],
      context: new Uint8Array(0),
    }),
  ];
  try {
    r.step(m);
  } catch (err) {
    // A leader transfer in progress drops proposals; the next apply retries.
    if (!isRaftError(err, "ErrProposalDropped")) throw err;
    return;
  }
  r.cfg.logger.info("initiating automatic transition out of joint configuration", {
    node_id: r.id,
    config: r.trk.config.toString(),
  });
}
