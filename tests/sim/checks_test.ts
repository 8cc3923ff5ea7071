import assert from "node:assert/strict";
import { type Entry, EntryType, MemoryStorage, StateType } from "../../src/raft/mod.ts";
import { AppliedStateCheck } from "./checks/applied_state.ts";
import { checkApplyOrder } from "./checks/apply_order.ts";
import { CommittedEntriesCheck } from "./checks/committed_entries.ts";
import { LeaderPerTermCheck } from "./checks/leader_per_term.ts";
import { checkHistory } from "./checks/linearizable_history.ts";
import { LogMatchingCheck } from "./checks/log_matching.ts";
import { SimFailure } from "./failure.ts";

const enc = new TextEncoder();
function entry(index: number, term: number, data = `e${index}`): Entry {
  return { index, term, type: EntryType.Normal, data: enc.encode(data) };
}

function storageWith(entries: Entry[]): MemoryStorage {
  const s = new MemoryStorage();
  s.append(entries);
  return s;
}

function assertViolation(checker: string, fn: () => void): void {
  assert.throws(
    fn,
    (err) => err instanceof SimFailure && err.kind === "safety" && err.checker === checker,
  );
}

Deno.test("LeaderPerTermCheck.onSoftState() fails on a second leader in one term", () => {
  const c = new LeaderPerTermCheck();
  c.onSoftState(1, { lead: 1, raftState: StateType.Leader }, 3);
  c.onSoftState(1, { lead: 1, raftState: StateType.Leader }, 3);
  c.onSoftState(2, { lead: 0, raftState: StateType.Candidate }, 3);
  c.onSoftState(2, { lead: 2, raftState: StateType.Leader }, 4);
  assertViolation(
    "leader_per_term",
    () => c.onSoftState(3, { lead: 3, raftState: StateType.Leader }, 4),
  );
});

Deno.test("LogMatchingCheck.onPersisted() fails on different entries or prefixes at one index and term", () => {
  const c = new LogMatchingCheck();
  const a = [entry(1, 1), entry(2, 1), entry(3, 2)];
  c.onPersisted(1, a, storageWith(a));
  c.onPersisted(2, a.slice(0, 2), storageWith(a.slice(0, 2)));
  const changed = [entry(1, 1), entry(2, 1, "other")];
  assertViolation("log_matching", () => c.onPersisted(3, changed, storageWith(changed)));
  const badPrefix = [entry(1, 1), entry(2, 2, "x"), entry(3, 2)];
  const c2 = new LogMatchingCheck();
  c2.onPersisted(1, a, storageWith(a));
  assertViolation("log_matching", () => c2.onPersisted(4, badPrefix, storageWith(badPrefix)));
});

Deno.test("CommittedEntriesCheck fails on a changed commit and on an incomplete leader", () => {
  const c = new CommittedEntriesCheck();
  c.onCommitted(1, entry(1, 1), 1);
  c.onCommitted(1, entry(2, 1), 1);
  c.onCommitted(2, entry(2, 1), 2);
  assertViolation("committed_entries", () => c.onCommitted(3, entry(2, 2), 2));
  // A leader of a later term must hold both entries; one of an earlier term need not.
  c.onLeader(4, 1, storageWith([entry(1, 1)]));
  c.onLeader(4, 3, storageWith([entry(1, 1), entry(2, 1), entry(3, 3)]));
  assertViolation("committed_entries", () => c.onLeader(5, 3, storageWith([entry(1, 1)])));
  assertViolation(
    "committed_entries",
    () => c.onLeader(5, 3, storageWith([entry(1, 1), entry(2, 2)])),
  );
});

Deno.test("AppliedStateCheck.onApplied() fails on different states at one index", () => {
  const c = new AppliedStateCheck();
  c.onApplied(1, 5, 111);
  c.onApplied(2, 5, 111);
  c.onApplied(2, 6, 222);
  assertViolation("applied_state", () => c.onApplied(3, 5, 112));
});

Deno.test("checkApplyOrder() fails on gaps and repeats", () => {
  checkApplyOrder(1, 4, 5);
  assertViolation("apply_order", () => checkApplyOrder(1, 4, 6));
  assertViolation("apply_order", () => checkApplyOrder(1, 4, 4));
});

Deno.test("checkHistory() fails on a non-linearizable history", () => {
  const w = { id: 1, key: "k", call: 1, ret: 2, op: { kind: "write" as const, value: "a" } };
  const r = { id: 2, key: "k", call: 3, ret: 4, op: { kind: "read" as const, value: null } };
  assert.equal(checkHistory([w]), "ok");
  assertViolation("linearizability", () => checkHistory([w, r]));
});
