/**
 * The data types of the Raft library: messages, log entries, persistent state, configuration
 * changes and the {@linkcode Ready} handed to the caller. Modelled on etcd's raftpb, in plain
 * TypeScript (this package imports nothing; ids, terms and indexes are numbers, exact up to 2^53).
 *
 * @module
 */

/** A node (replica) id. 0 means "none". */
export type NodeId = number;

/** No node. */
export const NONE: NodeId = 0;

/** Kinds of log entries. */
export const EntryType = {
  /** An application command (possibly empty: a new leader's no-op). */
  Normal: 0,
  /** A membership change, `data` is an encoded {@linkcode ConfChange}. */
  ConfChange: 1,
} as const;
export type EntryType = typeof EntryType[keyof typeof EntryType];

/** One log entry. */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** The state a node must persist before sending the messages of the same Ready. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

/** Membership: voters, learners, and during a joint configuration the outgoing voters. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
  /** Voters of the outgoing configuration while joint; empty otherwise. */
  votersOutgoing: NodeId[];
  /** Learners that become learners once the joint configuration is left (demoted voters). */
  learnersNext: NodeId[];
  /** Leave the joint configuration automatically once it is committed. */
  autoLeave: boolean;
}

/** Metadata of a snapshot: the last index/term it covers and the membership at that point. */
export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

/** A state-machine snapshot. `data` is opaque to Raft. */
export interface Snapshot {
  metadata: SnapshotMetadata;
  data: Uint8Array;
}

/** Kinds of single membership changes. */
export const ConfChangeType = {
  AddNode: 0,
  RemoveNode: 1,
  AddLearnerNode: 2,
} as const;
export type ConfChangeType = typeof ConfChangeType[keyof typeof ConfChangeType];

/** How a multi-step change moves through joint consensus. */
export const ConfChangeTransition = {
  /** Simple change when possible (one voter changed), joint with auto-leave otherwise. */
  Auto: 0,
  /** Always joint, leave automatically. */
  JointImplicit: 1,
  /** Always joint, leave only on an explicit empty ConfChange. */
  JointExplicit: 2,
} as const;
export type ConfChangeTransition = typeof ConfChangeTransition[keyof typeof ConfChangeTransition];

/** A membership change (etcd's ConfChangeV2). An empty `changes` leaves a joint configuration. */
export interface ConfChange {
  transition: ConfChangeTransition;
  changes: { type: ConfChangeType; nodeId: NodeId }[];
  /** Opaque application context carried through the log. */
  context: Uint8Array;
}

/** Kinds of Raft messages. Local messages (Hup, Beat, Prop…) never leave the node. */
export const MessageType = {
  Hup: 0,
  Beat: 1,
  Prop: 2,
  App: 3,
  AppResp: 4,
  Vote: 5,
  VoteResp: 6,
  Snap: 7,
  Heartbeat: 8,
  HeartbeatResp: 9,
  Unreachable: 10,
  SnapStatus: 11,
  CheckQuorum: 12,
  TransferLeader: 13,
  TimeoutNow: 14,
  ReadIndex: 15,
  ReadIndexResp: 16,
  PreVote: 17,
  PreVoteResp: 18,
} as const;
export type MessageType = typeof MessageType[keyof typeof MessageType];

/** A Raft message. Fields not used by a type are left at their zero value. */
export interface Message {
  type: MessageType;
  to: NodeId;
  from: NodeId;
  term: number;
  /** Term of the entry at `index` (App), or the term of the rejection hint (AppResp). */
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot?: Snapshot;
  reject: boolean;
  rejectHint: number;
  /** Opaque context: ReadIndex request ids, campaign kind. */
  context: Uint8Array;
}

/** A linearizable read point: reads of `requestCtx` may be served once `index` is applied. */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

/** Roles of a node. */
export const StateType = {
  Follower: 0,
  Candidate: 1,
  Leader: 2,
  PreCandidate: 3,
} as const;
export type StateType = typeof StateType[keyof typeof StateType];

/** Volatile state that is useful for the caller (not persisted). */
export interface SoftState {
  lead: NodeId;
  raftState: StateType;
}

/**
 * What the node asks the caller to do, in this order:
 * 1. persist `hardState` (when set), `entries` and `snapshot` (when set) — durably;
 * 2. only then send `messages`;
 * 3. apply `snapshot` (when set) and `committedEntries` to the state machine;
 * 4. call `advance()`.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  readStates: ReadState[];
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: Message[];
  /** True when `hardState`/`entries`/`snapshot` must be fsynced before sending. */
  mustSync: boolean;
}

/** How a ReadIndex request is served. */
export const ReadOnlyOption = {
  /** Confirm leadership with a heartbeat round (always safe). */
  Safe: 0,
  /** Rely on the leader lease (needs CheckQuorum and bounded clock drift). */
  LeaseBased: 1,
} as const;
export type ReadOnlyOption = typeof ReadOnlyOption[keyof typeof ReadOnlyOption];

/**
 * Bugs planted on purpose, enabled only by tests through {@linkcode Config.plantedBugs}, to show
 * that the simulation's checkers catch them. Never set in production.
 */
export type PlantedBug =
  /** Grant a vote even when already voted for another candidate in this term. */
  | "double-vote"
  /** Advance commit when any single follower (not a quorum) has an entry. */
  | "commit-on-minority"
  /** Reply to a vote request without putting the new vote into the Ready's hard state. */
  | "vote-not-persisted"
  /** Hand out committed entries from the unstable log even after a conflicting truncation. */
  | "apply-truncated-suffix";

/** Random source in [0, 1); injected for determinism. */
export type Random = () => number;
