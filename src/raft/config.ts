/**
 * The configuration of one Raft node: its typed definition, defaults and validation.
 *
 * @module
 */

import { RaftError } from "./errors.ts";
import type { Storage } from "./storage.ts";
import { type NodeId, NONE, type PlantedBug, type Random, ReadOnlyOption } from "./types.ts";

/** Structured logging sink; every method is optional to call and the default is silent. */
export interface RaftLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/** The parameters of a Raft node. */
export interface Config {
  /** This node's id, non-zero. */
  id: NodeId;
  /**
   * Ticks without hearing from a leader before a follower campaigns. The actual timeout is
   * randomised in `[electionTick, 2 * electionTick)` from {@linkcode Config.random}. Must be
   * greater than `heartbeatTick` (etcd recommends 10x).
   */
  electionTick: number;
  /** Ticks between a leader's heartbeats. */
  heartbeatTick: number;
  /** The persisted log, hard state and snapshot this node restarts from. */
  storage: Storage;
  /**
   * The last index applied to the state machine at restart; committed entries at or below it are
   * not handed out again.
   * @default 0
   */
  applied?: number;
  /**
   * Maximum bytes of entry data per append message (at least one entry is always sent).
   * @default 1048576
   */
  maxSizePerMsg?: number;
  /**
   * Maximum bytes of entry data handed out as committed entries by one Ready.
   * @default maxSizePerMsg
   */
  maxCommittedSizePerReady?: number;
  /**
   * Maximum bytes of entry data a leader keeps uncommitted; further proposals are dropped.
   * 0 means unlimited.
   * @default 0
   */
  maxUncommittedEntriesSize?: number;
  /** Maximum append messages in flight to one follower in replicate state, e.g. 256. */
  maxInflightMsgs: number;
  /**
   * Maximum bytes of entry data in flight to one follower; 0 means unlimited.
   * @default 0
   */
  maxInflightBytes?: number;
  /**
   * A leader steps down when it has not heard from a quorum within an election timeout, and a
   * follower that heard from a leader within the timeout ignores vote requests.
   * @default false
   */
  checkQuorum?: boolean;
  /**
   * Run a pre-election that does not increase terms before a real election.
   * @default false
   */
  preVote?: boolean;
  /**
   * How ReadIndex requests are served.
   * @default ReadOnlyOption.Safe
   */
  readOnlyOption?: ReadOnlyOption;
  /**
   * Followers drop proposals instead of forwarding them to the leader.
   * @default false
   */
  disableProposalForwarding?: boolean;
  /**
   * A leader whose commit index moves sends no appends just to say so: followers learn it with
   * the next append or heartbeat (at most `heartbeatTick` ticks later). Commitment, and so the
   * leader's apply and its answers, is unchanged; followers apply later. With many groups per
   * node this saves an append and its response per group and write (docs/design/0009).
   * @default false
   */
  lazyCommitBroadcast?: boolean;
  /** Injected randomness for election jitter; Raft never calls Math.random. */
  random: Random;
  /**
   * Test-only switches that plant bugs on purpose (see {@linkcode PlantedBug}).
   * @default empty
   */
  plantedBugs?: ReadonlySet<PlantedBug>;
  /**
   * Structured log sink.
   * @default silent
   */
  logger?: RaftLogger;
}

/** A {@linkcode Config} with every default filled in. */
export interface ResolvedConfig {
  id: NodeId;
  electionTick: number;
  heartbeatTick: number;
  storage: Storage;
  applied: number;
  maxSizePerMsg: number;
  maxCommittedSizePerReady: number;
  maxUncommittedEntriesSize: number;
  maxInflightMsgs: number;
  maxInflightBytes: number;
  checkQuorum: boolean;
  preVote: boolean;
  readOnlyOption: ReadOnlyOption;
  disableProposalForwarding: boolean;
  lazyCommitBroadcast: boolean;
  random: Random;
  plantedBugs: ReadonlySet<PlantedBug>;
  logger: RaftLogger;
}

const NO_BUGS: ReadonlySet<PlantedBug> = new Set();

const SILENT: RaftLogger = {
  debug() {},
  info() {},
  warn() {},
};

/** The default {@linkcode Config.maxSizePerMsg}: 1 MiB. */
export const DEFAULT_MAX_SIZE_PER_MSG = 1024 * 1024;

/**
 * Validates a configuration and fills in its defaults.
 *
 * @param c the configuration given by the caller
 * @returns the configuration with every optional field set
 * @throws {RaftError} ErrInvalidConfig when a field is out of range
 */
export function resolveConfig(c: Config): ResolvedConfig {
  const invalid = (facts: string) =>
    new RaftError("ErrInvalidConfig", `Cannot create raft node as the config is invalid: ${facts}`);
  if (c.id === NONE) throw invalid("id is 0");
  if (!(c.heartbeatTick > 0)) throw invalid(`heartbeatTick is ${c.heartbeatTick}`);
  if (!(c.electionTick > c.heartbeatTick)) {
    throw invalid(`electionTick ${c.electionTick} is not above heartbeatTick ${c.heartbeatTick}`);
  }
  if (!(c.maxInflightMsgs > 0)) throw invalid(`maxInflightMsgs is ${c.maxInflightMsgs}`);
  const maxSizePerMsg = c.maxSizePerMsg ?? DEFAULT_MAX_SIZE_PER_MSG;
  const maxInflightBytes = c.maxInflightBytes ?? 0;
  if (maxInflightBytes !== 0 && maxInflightBytes < maxSizePerMsg) {
    throw invalid(`maxInflightBytes ${maxInflightBytes} is below maxSizePerMsg ${maxSizePerMsg}`);
  }
  const readOnlyOption = c.readOnlyOption ?? ReadOnlyOption.Safe;
  const checkQuorum = c.checkQuorum ?? false;
  if (readOnlyOption === ReadOnlyOption.LeaseBased && !checkQuorum) {
    throw invalid("readOnlyOption LeaseBased needs checkQuorum");
  }
  return {
    id: c.id,
    electionTick: c.electionTick,
    heartbeatTick: c.heartbeatTick,
    storage: c.storage,
    applied: c.applied ?? 0,
    maxSizePerMsg,
    maxCommittedSizePerReady: c.maxCommittedSizePerReady ?? maxSizePerMsg,
    maxUncommittedEntriesSize: c.maxUncommittedEntriesSize ?? 0,
    maxInflightMsgs: c.maxInflightMsgs,
    maxInflightBytes,
    checkQuorum,
    preVote: c.preVote ?? false,
    readOnlyOption,
    disableProposalForwarding: c.disableProposalForwarding ?? false,
    lazyCommitBroadcast: c.lazyCommitBroadcast ?? false,
    random: c.random,
    plantedBugs: c.plantedBugs ?? NO_BUGS,
    logger: c.logger ?? SILENT,
  };
}
