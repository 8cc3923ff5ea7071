/**
 * The error type of the Raft library. Raft imports nothing outside `src/raft`, so it has its own
 * error class; callers map {@linkcode RaftErrorCode}s to their own error codes at the boundary.
 *
 * @module
 */

/** The machine-readable reason of a {@linkcode RaftError}. */
export const RaftErrorCode = {
  /** The requested index is older than the storage's first index (compacted away). */
  ErrCompacted: "ErrCompacted",
  /** The snapshot to apply is older than the storage's current snapshot. */
  ErrSnapOutOfDate: "ErrSnapOutOfDate",
  /** The requested index is newer than the storage's last index. */
  ErrUnavailable: "ErrUnavailable",
  /** The storage cannot produce a snapshot right now; the leader retries later. */
  ErrSnapshotTemporarilyUnavailable: "ErrSnapshotTemporarilyUnavailable",
  /** A proposal was not accepted (no leader, leader transfer, conf change pending, size limit). */
  ErrProposalDropped: "ErrProposalDropped",
  /** A local-only message type was passed to `RawNode.step()`. */
  ErrStepLocalMsg: "ErrStepLocalMsg",
  /** A response message came from a node that is not in the configuration. */
  ErrStepPeerNotFound: "ErrStepPeerNotFound",
  /** The configuration passed to the node is invalid. */
  ErrInvalidConfig: "ErrInvalidConfig",
  /** A membership change cannot be applied to the current configuration. */
  ErrInvalidConfChange: "ErrInvalidConfChange",
  /** A conf-change entry could not be decoded. */
  ErrCorruptConfChange: "ErrCorruptConfChange",
  /** A Raft invariant did not hold (etcd panics here); the node must not continue. */
  ErrInvariant: "ErrInvariant",
} as const;

/** One of the values of {@linkcode RaftErrorCode}. */
export type RaftErrorCode = typeof RaftErrorCode[keyof typeof RaftErrorCode];

/**
 * An error raised by the Raft library, with a machine-readable {@linkcode RaftErrorCode}.
 *
 * @example
 * ```ts
 * import { RaftError } from "./errors.ts";
 * const err = new RaftError("ErrCompacted", "Cannot read entry as it is compacted: index is 3, first index is 5");
 * err.code; // "ErrCompacted"
 * ```
 */
export class RaftError extends Error {
  override name = "RaftError";
  /** The machine-readable reason. */
  readonly code: RaftErrorCode;

  /**
   * @param code the machine-readable reason
   * @param message "Cannot X as Y: facts", sentence case, no final period
   * @param options the lower-level cause, if any
   */
  constructor(code: RaftErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/**
 * Tells whether `err` is a {@linkcode RaftError}, optionally with the given code.
 *
 * @param err any thrown value
 * @param code the code to match, if any
 * @returns true when `err` is a RaftError (with that code)
 */
export function isRaftError(err: unknown, code?: RaftErrorCode): err is RaftError {
  return err instanceof RaftError && (code === undefined || err.code === code);
}
