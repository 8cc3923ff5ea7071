/**
 * Elections: starting a (pre-)campaign, answering vote requests and counting votes as a
 * (pre-)candidate.
 *
 * @module
 */

import { CAMPAIGN_TRANSFER, newMessage, voteRespType } from "./messages.ts";
import type { Raft } from "./raft.ts";
import { CampaignType } from "./raft.ts";
import { handleAppendEntries, handleHeartbeat, handleSnapshot } from "./raft_step_follower.ts";
import { bcastAppend } from "./raft_replication.ts";
import { RaftError } from "./errors.ts";
import { sortedIds, VoteResult } from "./quorum/majority.ts";
import { type Message, MessageType, NONE, StateType } from "./types.ts";

/**
 * Starts an election: a pre-election asks for votes for the next term without taking it; a real
 * election increments the term and votes for itself.
 */
export function campaign(r: Raft, t: CampaignType): void {
  let term: number;
  let voteMsg: MessageType;
  if (t === CampaignType.PreElection) {
    r.becomePreCandidate();
    voteMsg = MessageType.PreVote;
    term = r.term + 1;
  } else {
    r.becomeCandidate();
    voteMsg = MessageType.Vote;
    term = r.term;
  }
  // The self-vote counts at once; it reaches storage in the Ready whose messages ask for votes.
  const { result } = r.poll(r.id, true);
  if (result === VoteResult.Won) {
    // A single-voter cluster wins on its own vote.
    if (t === CampaignType.PreElection) campaign(r, CampaignType.Election);
    else {
      r.becomeLeader();
    }
    return;
  }
  const lastIndex = r.raftLog.lastIndex();
  const lastTerm = r.raftLog.lastTerm();
  for (const id of sortedIds(r.trk.config.voters.ids())) {
    if (id === r.id) continue;
    const m = newMessage(voteMsg, id);
    m.term = term;
    m.index = lastIndex;
    m.logTerm = lastTerm;
    if (t === CampaignType.Transfer) m.context = CAMPAIGN_TRANSFER;
    r.cfg.logger.debug("sent vote request", {
      node_id: r.id,
      term: r.term,
      to: id,
      kind: voteMsg === MessageType.PreVote ? "prevote" : "vote",
    });
    r.send(m);
  }
}

/**
 * Answers a (pre-)vote request whose term checks passed: grant when this node may vote for the
 * sender and the sender's log is at least as up to date.
 */
export function handleVoteRequest(r: Raft, m: Message): void {
  // A repeated request from the candidate already voted for is granted again; a new vote needs
  // no vote and no known leader in this term; a pre-vote for a future term is always possible.
  const canVote = r.vote === m.from ||
    (r.vote === NONE && r.lead === NONE) ||
    (m.type === MessageType.PreVote && m.term > r.term) ||
    // Planted bug: vote again in the same term for another candidate.
    (r.bug("double-vote") && r.lead === NONE);
  const resp = newMessage(voteRespType(m.type), m.from);
  if (canVote && r.raftLog.isUpToDate(m.index, m.logTerm)) {
    // The response carries the request's term: for a pre-vote it is the future term.
    resp.term = m.term;
    r.send(resp);
    if (m.type === MessageType.Vote) {
      r.electionElapsed = 0;
      r.vote = m.from;
      // Planted bug: the new vote never reaches the Ready's hard state, so a restart forgets it.
      if (r.bug("vote-not-persisted")) r.hiddenVoteTerm = r.term;
    }
  } else {
    resp.term = r.term;
    resp.reject = true;
    r.send(resp);
  }
}

/** Message handling of candidates and pre-candidates. */
export function stepCandidate(r: Raft, m: Message): void {
  const myVoteResp = r.state === StateType.PreCandidate
    ? MessageType.PreVoteResp
    : MessageType.VoteResp;
  switch (m.type) {
    case MessageType.Prop:
      throw new RaftError(
        "ErrProposalDropped",
        `Cannot propose as there is no leader: node ${r.id} is campaigning in term ${r.term}`,
      );
    case MessageType.App:
      r.becomeFollower(m.term, m.from);
      handleAppendEntries(r, m);
      return;
    case MessageType.Heartbeat:
      r.becomeFollower(m.term, m.from);
      handleHeartbeat(r, m);
      return;
    case MessageType.Snap:
      r.becomeFollower(m.term, m.from);
      handleSnapshot(r, m);
      return;
    case myVoteResp: {
      const { granted, rejected, result } = r.poll(m.from, !m.reject);
      r.cfg.logger.debug("received vote", {
        node_id: r.id,
        term: r.term,
        from: m.from,
        granted,
        rejected,
      });
      if (result === VoteResult.Won) {
        if (r.state === StateType.PreCandidate) campaign(r, CampaignType.Election);
        else {
          r.becomeLeader();
          bcastAppend(r);
        }
      } else if (result === VoteResult.Lost) {
        // Stepping down keeps the term: pre-votes never change it and a lost real election
        // already took it.
        r.becomeFollower(r.term, NONE);
      }
      return;
    }
  }
}
