/**
 * {@linkcode ClusterRouter}: how the store reaches ranges and replicas on other nodes. The store
 * coordinates splits, merges and meta updates whose commands go to the leaders of other ranges
 * (range 1 for ids and the meta copy, the parent for a split, both neighbours for a merge), which
 * may live on any node. `src/rpc` implements it (the local store, else Peer.Forward to the
 * leader) and the server hands it to the store; unit tests use an in-process one.
 *
 * @module
 */

/** What the store needs to reach the leaders and replicas of ranges on other nodes. */
export interface ClusterRouter {
  /**
   * Proposes `command` (a serialized RaftCommand) on the leader of the range holding `key`,
   * wherever it is, following NOT_LEADER and RANGE_MOVED answers until `deadline`.
   *
   * @returns the serialized CommandResult (a deterministic refusal carries its error code)
   * @throws {RangeDbError} UNAVAILABLE/TIMEOUT when no leader took it in time (the outcome may be
   *   unknown: details.ambiguous)
   */
  propose(key: Uint8Array, command: Uint8Array, deadline: number): Promise<Uint8Array>;
  /**
   * Waits until node `nodeId`'s replica of `rangeId` has durably applied `index`.
   *
   * @returns that replica's applied index
   * @throws {RangeDbError} RANGE_NOT_FOUND when the node holds no such replica; UNAVAILABLE when
   *   the node cannot be reached; TIMEOUT
   */
  waitApplied(nodeId: number, rangeId: number, index: number, deadline: number): Promise<number>;
  /**
   * A block of `count` consecutive timestamps from the timestamp oracle on range 1's leader,
   * wherever it is.
   *
   * @returns the first of the block
   * @throws {RangeDbError} UNAVAILABLE/TIMEOUT when no oracle answered in time
   */
  timestamps(count: number, deadline: number): Promise<bigint>;
}
