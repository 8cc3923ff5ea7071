/**
 * Quiescence of idle ranges (docs/design/0009, "Thousands of ranges per node"): when a range has
 * nothing to do, its leader tells its followers so with one heartbeat marked `quiesce`, and
 * both stop ticking. A quiesced range sends nothing and costs no CPU; node liveness
 * (`node_liveness.ts`) stands in for its heartbeats.
 *
 * The rules, checked here and applied by the scheduler (`raft_scheduler.ts`) and the replica's
 * inbox (`Replica.drainInbox`):
 *
 * - A **leader** quiesces (on a tick, instead of ticking) when it has applied its whole log
 *   durably (applied = commit = last index), every follower's match is its last index with
 *   nothing in flight (replicate state, no snapshot), no proposal or read waits here or in
 *   Raft, no leader transfer runs, every follower's node is live, and the previous tick found
 *   all this with the same commit index. It then sends each follower a heartbeat marked
 *   `quiesce` with its term and commit. The tick in between sends an ordinary heartbeat with
 *   that commit: a leader broadcasts its commit index lazily (`lazyCommitBroadcast`), and a
 *   follower waiting for one of its own proposals to apply cannot quiesce until it learnt it.
 * - A **follower** steps that heartbeat as a normal one, and quiesces when the sender is its
 *   leader in the same term and its last index, its commit and the heartbeat's commit are equal,
 *   with no proposal or read waiting. A follower that does not quiesce keeps ticking; if it
 *   needs its leader it says so (a proposal, a read, a pre-vote once its election timeout
 *   passes), which wakes the leader.
 * - Heartbeat responses never wake a quiesced leader: they answer heartbeats it sent before it
 *   quiesced, or its quiesce heartbeats, and carry nothing it needs. Nor does a stale append
 *   acknowledgement (see {@linkcode isStaleAck}).
 * - Anything else wakes a quiesced replica: any other message, a proposal, a read, an event.
 *   A quiesced follower also wakes when its leader's node stops being live, and campaigns once
 *   its election timeout passes.
 *
 * Waking restarts ticks where they stopped: a woken follower grants votes only after an
 * election timeout of ticks (CheckQuorum's lease), and a woken leader that lost its quorum steps
 * down through CheckQuorum.
 *
 * @module
 */

import {
  type Message,
  MessageType,
  type ProgressStatus,
  type RawNode,
  StateType,
} from "../raft/mod.ts";

const EMPTY = new Uint8Array(0);

/** What the quiescence checks read from a replica. */
export interface QuiescingReplica {
  readonly rangeId: number;
  readonly raw: RawNode;
  /** The durable applied index. */
  readonly appliedIndex: number;
  /** Whether proposals or reads wait here (queued, in Raft, or for their index to apply). */
  hasPendingWork(): boolean;
  /** Whether anything waits in the inbox. */
  hasInbox(): boolean;
  /**
   * The commit index of the last tick at which this leader could have quiesced (set by
   * {@linkcode leaderQuiesceHeartbeats}); -1 before any.
   */
  quiesceCommit: number;
}

/**
 * The quiesce heartbeats a leader sends instead of ticking, or undefined when it may not
 * quiesce (see the module doc for the conditions).
 *
 * @param r the replica, which must not be in the middle of a turn (between `ready()` and
 *   `advance()`); its `quiesceCommit` is updated
 * @param isLive whether a node was heard from within an election timeout
 * @returns one heartbeat per follower (none for a single-voter range), or undefined
 */
export function leaderQuiesceHeartbeats(
  r: QuiescingReplica,
  isLive: (nodeId: number) => boolean,
): Message[] | undefined {
  if (r.hasInbox() || r.hasPendingWork()) return undefined;
  const raw = r.raw;
  const st = raw.basicStatus();
  if (st.raftState !== StateType.Leader) return undefined;
  const last = st.lastIndex;
  // Applied durably up to the last index: the whole log is on disk and nothing waits to apply.
  if (st.commit !== last || r.appliedIndex !== last) return undefined;
  if (st.leadTransferee !== 0 || st.pendingReadIndex !== 0) return undefined;
  if (raw.hasReady()) return undefined;
  // A leader is its own lead.
  const self = st.lead;
  const heartbeats: Message[] = [];
  let all = true;
  raw.withProgress((id, pr) => {
    if (id === self || !all) return;
    if (!caughtUp(pr, last) || !isLive(id)) {
      all = false;
      return;
    }
    heartbeats.push(quiesceHeartbeat(self, id, st.term, Math.min(pr.match, st.commit)));
  });
  if (!all) return undefined;
  // First tick at this commit: tick as usual, so that the heartbeat tells followers the commit.
  if (r.quiesceCommit !== st.commit) {
    r.quiesceCommit = st.commit;
    return undefined;
  }
  return heartbeats;
}

/**
 * Whether a follower that just stepped the quiesce heartbeat `hb` may quiesce: `hb` comes from
 * its leader in its term, its log ends at its commit index, which is the heartbeat's, and no
 * proposal or read waits.
 *
 * @param r the replica, after stepping `hb`
 * @param hb the heartbeat marked quiesce
 */
export function followerMayQuiesce(r: QuiescingReplica, hb: Message): boolean {
  if (hb.type !== MessageType.Heartbeat || r.hasPendingWork()) return false;
  const st = r.raw.basicStatus();
  return st.raftState === StateType.Follower && st.lead === hb.from && st.term === hb.term &&
    st.lastIndex === st.commit && st.commit === hb.commit;
}

/**
 * Whether `m` is an acknowledgement that tells leader `raw` nothing: an append response of its
 * term, not a rejection, for an index the sender is already known to hold while replicating.
 * Raft steps it without any effect. Typically it answers the append that carried the commit
 * index, and arrives after the leader, having applied that index, quiesced; it must not wake it
 * (each such wake would cost the range a round of heartbeats before it quiesces again).
 *
 * @param raw the leader's RawNode, before stepping `m`
 * @param m a message received from a peer
 */
export function isStaleAck(raw: RawNode, m: Message): boolean {
  if (m.type !== MessageType.AppResp || m.reject) return false;
  const st = raw.basicStatus();
  if (st.raftState !== StateType.Leader || m.term !== st.term) return false;
  let stale = false;
  raw.withProgress((id, pr) => {
    if (id === m.from) stale = pr.state === "replicate" && m.index <= pr.match;
  });
  return stale;
}

/**
 * Whether the leader's view of a follower shows it holding the whole log (`last`) with nothing
 * on its way: its match is `last`, and it is replicating with no append or snapshot in flight.
 * An append to a follower that is behind is always in flight, or the follower is being probed
 * or sent a snapshot: each condition alone catches a lagging follower, and together they also
 * make sure no answer is still due.
 */
function caughtUp(pr: ProgressStatus, last: number): boolean {
  return pr.match === last && pr.state === "replicate" && pr.inflight === 0 &&
    pr.pendingSnapshot === 0;
}

/** A heartbeat from `from` to `to` as Raft's leader sends it, without a read context. */
function quiesceHeartbeat(from: number, to: number, term: number, commit: number): Message {
  return {
    type: MessageType.Heartbeat,
    to,
    from,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit,
    reject: false,
    rejectHint: 0,
    context: EMPTY,
  };
}
