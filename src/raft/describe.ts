/**
 * Human-readable one-line descriptions of Raft data in etcd-io/raft's `DescribeMessage` /
 * `DescribeReady` style, for logs and scenario tests, e.g.
 * `1->2 MsgApp Term:2 Log:1/1 Commit:1 Entries:[2/2 EntryNormal ""]`.
 *
 * @module
 */

import { decodeConfChange } from "./conf_change_codec.ts";
import { sortedIds } from "./quorum/majority.ts";
import {
  type ConfChange,
  ConfChangeTransition,
  ConfChangeType,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  type Ready,
  type Snapshot,
  type SoftState,
  StateType,
} from "./types.ts";

const decoder = new TextDecoder();

function nameOf(table: Record<string, number>, value: number): string {
  for (const k in table) if (table[k] === value) return k;
  return `${value}`;
}

/** `MsgApp`, `MsgVoteResp`, … */
export function describeMessageType(t: MessageType): string {
  return `Msg${nameOf(MessageType, t)}`;
}

/** `StateLeader`, `StatePreCandidate`, … */
export function describeStateType(s: StateType): string {
  return `State${nameOf(StateType, s)}`;
}

const CHANGE_LETTER: Record<number, string> = {
  [ConfChangeType.AddNode]: "v",
  [ConfChangeType.RemoveNode]: "r",
  [ConfChangeType.AddLearnerNode]: "l",
};

/** etcd's compact form `v2 l3 r4`, prefixed by the transition when it is not Auto. */
export function describeConfChange(cc: ConfChange): string {
  const words = cc.changes.map((c) => `${CHANGE_LETTER[c.type]}${c.nodeId}`);
  if (cc.transition !== ConfChangeTransition.Auto) {
    words.unshift(`transition=${nameOf(ConfChangeTransition, cc.transition)}`);
  }
  return words.join(" ");
}

function quote(data: Uint8Array): string {
  return JSON.stringify(decoder.decode(data));
}

/** `term/index EntryNormal "data"` or `term/index EntryConfChangeV2 v2 v3`. */
export function describeEntry(e: Entry): string {
  if (e.type === EntryType.ConfChange) {
    const cc = describeConfChange(decodeConfChange(e.data));
    return `${e.term}/${e.index} EntryConfChangeV2${cc === "" ? "" : ` ${cc}`}`;
  }
  return `${e.term}/${e.index} EntryNormal ${quote(e.data)}`;
}

function ids(list: readonly number[]): string {
  return `[${sortedIds(list).join(" ")}]`;
}

/** `Voters:[1 2 3] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false`. */
export function describeConfState(cs: ConfState): string {
  return `Voters:${ids(cs.voters)} VotersOutgoing:${ids(cs.votersOutgoing)} ` +
    `Learners:${ids(cs.learners)} LearnersNext:${ids(cs.learnersNext)} AutoLeave:${cs.autoLeave}`;
}

/** `Index:5 Term:1 ConfState:…`. */
export function describeSnapshot(s: Snapshot): string {
  const md = s.metadata;
  return `Index:${md.index} Term:${md.term} ConfState:${describeConfState(md.confState)}`;
}

/** `HardState Term:1 Vote:1 Commit:2`. */
export function describeHardState(hs: HardState): string {
  return `HardState Term:${hs.term} Vote:${hs.vote} Commit:${hs.commit}`;
}

/** `Lead:1 State:StateLeader`. */
export function describeSoftState(ss: SoftState): string {
  return `Lead:${ss.lead} State:${describeStateType(ss.raftState)}`;
}

/** `1->2 MsgApp Term:1 Log:1/2 Commit:2 Entries:[1/3 EntryNormal ""]`. */
export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${describeMessageType(m.type)} Term:${m.term} ` +
    `Log:${m.logTerm}/${m.index}`;
  if (m.reject) s += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) s += ` Commit:${m.commit}`;
  if (m.entries.length > 0) s += ` Entries:[${m.entries.map(describeEntry).join(", ")}]`;
  if (m.snapshot !== undefined) s += ` Snapshot: ${describeSnapshot(m.snapshot)}`;
  if (m.context.length > 0) s += ` Context:${quote(m.context)}`;
  return s;
}

/**
 * The lines describing a Ready, in the order the caller handles its parts.
 *
 * @param rd the Ready
 * @returns its description, one element per line
 */
export function describeReady(rd: Ready): string[] {
  const out = [`Ready MustSync=${rd.mustSync}:`];
  if (rd.softState !== undefined) out.push(describeSoftState(rd.softState));
  if (rd.hardState !== undefined) out.push(describeHardState(rd.hardState));
  if (rd.readStates.length > 0) {
    out.push("ReadStates:");
    for (const r of rd.readStates) out.push(`Index:${r.index} RequestCtx:${quote(r.requestCtx)}`);
  }
  if (rd.entries.length > 0) out.push("Entries:", ...rd.entries.map(describeEntry));
  if (rd.snapshot !== undefined) out.push(`Snapshot ${describeSnapshot(rd.snapshot)}`);
  if (rd.committedEntries.length > 0) {
    out.push("CommittedEntries:", ...rd.committedEntries.map(describeEntry));
  }
  if (rd.messages.length > 0) out.push("Messages:", ...rd.messages.map(describeMessage));
  return out;
}
