/**
 * A pure Raft consensus library in the style of etcd-io/raft (v3.6): leader election with
 * PreVote and CheckQuorum, log replication with fast conflict back-off and flow control,
 * snapshots and log compaction, learners, joint-consensus membership changes, leader transfer
 * and ReadIndex. It does no I/O and keeps no time: the caller drives it.
 *
 * Create one {@linkcode RawNode} per replica over a {@linkcode Storage} (for a new cluster:
 * `MemoryStorage.fromConfState(...)` on every founding member, see `raw_node.ts`). Call `tick()`
 * at a fixed interval, `step(msg)` for every message received from a peer, and `propose()`,
 * `proposeConfChange()`, `readIndex()`, `transferLeader()` for client requests. Whenever
 * `hasReady()` is true, take `ready()` and fulfil the caller's four duties, in this order:
 *
 * 1. Persist `rd.hardState` (when set), `rd.entries` and `rd.snapshot` (when set) durably
 *    (fsync when `rd.mustSync`). Entries replace any persisted entries from their first index on.
 * 2. Only then send `rd.messages` to their `to` nodes. (Sending before persisting could let a
 *    vote or an acknowledgement be forgotten by a crash.) One exception: a leader may send its
 *    `App` and `Heartbeat` messages before persisting (Raft thesis §10.2.1), since it counts its
 *    own entries toward commit only in `advance()`. After a failed send, call
 *    `reportUnreachable(to)`; after a snapshot was streamed, `reportSnapshot(to, status)`.
 * 3. Apply `rd.snapshot` (when set) and then `rd.committedEntries` to the state machine. For a
 *    ConfChange entry, call `applyConfChange(decodeConfChange(e.data))`. Serve reads whose
 *    `rd.readStates` index is applied.
 * 4. Call `advance()`.
 *
 * ```ts ignore
 * for (;;) {
 *   await nextTickOrMessage(); // node.tick() on timer, node.step(m) on receive
 *   if (!node.hasReady()) continue;
 *   const rd = node.ready();
 *   if (rd.snapshot) storage.applySnapshot(rd.snapshot);
 *   storage.append(rd.entries);
 *   if (rd.hardState) storage.setHardState(rd.hardState);
 *   if (rd.mustSync) await fsync();
 *   for (const m of rd.messages) transport.send(m);
 *   if (rd.snapshot) stateMachine.restore(rd.snapshot.data);
 *   for (const e of rd.committedEntries) {
 *     if (e.type === EntryType.ConfChange) node.applyConfChange(decodeConfChange(e.data));
 *     else stateMachine.apply(e);
 *   }
 *   node.advance();
 * }
 * ```
 *
 * Randomness (election jitter) comes from `Config.random`; a seeded source makes a whole
 * cluster deterministic.
 *
 * @module
 */

export * from "./types.ts";
export type { Config, RaftLogger, ResolvedConfig } from "./config.ts";
export { DEFAULT_MAX_SIZE_PER_MSG, resolveConfig } from "./config.ts";
export type { Storage } from "./storage.ts";
export { MemoryStorage } from "./storage.ts";
export { isRaftError, RaftError, RaftErrorCode } from "./errors.ts";
export { RawNode } from "./raw_node.ts";
export type { BasicStatus, ProgressStateName, ProgressStatus, Status } from "./status.ts";
export { decodeConfChange, encodeConfChange } from "./conf_change_codec.ts";
export { entriesSize, entrySize } from "./entries.ts";
export {
  describeConfChange,
  describeConfState,
  describeEntry,
  describeHardState,
  describeMessage,
  describeMessageType,
  describeReady,
  describeSnapshot,
  describeSoftState,
  describeStateType,
} from "./describe.ts";
