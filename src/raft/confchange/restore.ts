/**
 * Rebuilds a membership from a {@linkcode ConfState} by replaying it as configuration changes
 * (used at startup and when a snapshot is installed).
 *
 * @module
 */

import { ConfChangeType, type ConfState } from "../types.ts";
import { Changer, type ChangerBase, type ChangeResult, type ConfChangeSingle } from "./changer.ts";

/**
 * The membership and progress described by `cs`, built from `base` (normally an empty tracker)
 * through simple changes and, for a joint `cs`, one final joint change.
 *
 * @param base the tracker to start from
 * @param lastIndex the log's last index (new members are probed from it)
 * @param cs the membership to restore
 * @returns the restored membership and progress
 * @throws {RaftError} ErrInvalidConfChange when `cs` is inconsistent
 */
export function restoreConfState(
  base: ChangerBase,
  lastIndex: number,
  cs: ConfState,
): ChangeResult {
  const outgoing: ConfChangeSingle[] = [];
  const incoming: ConfChangeSingle[] = [];
  // The outgoing voters are added first (one by one), then, in one joint step, they are removed
  // and the incoming voters and learners added, which yields exactly `cs`.
  for (const id of cs.votersOutgoing) outgoing.push({ type: ConfChangeType.AddNode, nodeId: id });
  for (const id of cs.votersOutgoing) {
    incoming.push({ type: ConfChangeType.RemoveNode, nodeId: id });
  }
  for (const id of cs.voters) incoming.push({ type: ConfChangeType.AddNode, nodeId: id });
  for (const id of cs.learners) incoming.push({ type: ConfChangeType.AddLearnerNode, nodeId: id });
  for (const id of cs.learnersNext) {
    incoming.push({ type: ConfChangeType.AddLearnerNode, nodeId: id });
  }
  let cur: ChangeResult = { config: base.config, progress: base.progress };
  const step = (f: (c: Changer) => ChangeResult) => {
    cur = f(new Changer({ ...base, config: cur.config, progress: cur.progress }, lastIndex));
  };
  if (outgoing.length === 0) {
    for (const cc of incoming) step((c) => c.simple([cc]));
  } else {
    for (const cc of outgoing) step((c) => c.simple([cc]));
    step((c) => c.enterJoint(cs.autoLeave, incoming));
  }
  return cur;
}
