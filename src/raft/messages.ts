/**
 * Construction and classification of {@linkcode Message}s.
 *
 * @module
 */

import { type Entry, type Message, MessageType, type NodeId } from "./types.ts";

const NO_ENTRIES: Entry[] = [];
const NO_BYTES = new Uint8Array(0);

/**
 * A message of type `type` to `to` with every other field at its zero value (one object shape
 * for all messages keeps property access monomorphic).
 */
export function newMessage(type: MessageType, to: NodeId): Message {
  return {
    type,
    to,
    from: 0,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: NO_ENTRIES,
    commit: 0,
    snapshot: undefined,
    reject: false,
    rejectHint: 0,
    context: NO_BYTES,
  };
}

/** True for messages that never leave the node (ticks, local reports). */
export function isLocalMsg(t: MessageType): boolean {
  return t === MessageType.Hup || t === MessageType.Beat || t === MessageType.Unreachable ||
    t === MessageType.SnapStatus || t === MessageType.CheckQuorum;
}

/** True for responses, which need a known sender. */
export function isResponseMsg(t: MessageType): boolean {
  return t === MessageType.AppResp || t === MessageType.VoteResp ||
    t === MessageType.HeartbeatResp || t === MessageType.Unreachable ||
    t === MessageType.ReadIndexResp || t === MessageType.PreVoteResp;
}

/** The response type of a (pre-)vote request. */
export function voteRespType(t: MessageType): MessageType {
  return t === MessageType.Vote ? MessageType.VoteResp : MessageType.PreVoteResp;
}

/** The context marking a vote request of a leader transfer (it bypasses the leader lease). */
export const CAMPAIGN_TRANSFER: Uint8Array = new TextEncoder().encode("CampaignTransfer");

/** True when `ctx` is {@linkcode CAMPAIGN_TRANSFER}. */
export function isCampaignTransfer(ctx: Uint8Array): boolean {
  if (ctx.length !== CAMPAIGN_TRANSFER.length) return false;
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== CAMPAIGN_TRANSFER[i]) return false;
  return true;
}
