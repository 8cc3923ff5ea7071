import assert from "node:assert/strict";
import { checkSet, type SetInsert, type SetRead } from "./set_checker.ts";

function insert(
  id: number,
  call: number,
  ret: number | undefined,
  status: SetInsert["status"] = ret === undefined ? "unknown" : "ok",
): SetInsert {
  const key = `/s/${id}`;
  return { id, key, value: `v${id}`, call, ret, status, by: `w${id % 2} via sdk` };
}

let nextRead = 1;
function read(call: number, ret: number, present: number[], more: Partial<SetRead> = {}): SetRead {
  return {
    id: nextRead++,
    call,
    ret,
    present,
    strangers: [],
    wrongValues: [],
    by: "w1 via node 1",
    ...more,
  };
}

const finalRead = (call: number, present: number[], round = 0) =>
  read(call, call + 1, present, { final: round, by: `final read of node ${present.length}` });

Deno.test("checkSet() accepts a history where every acknowledged insert stays visible", () => {
  const inserts = [insert(1, 0, 5), insert(2, 1, 20), insert(3, 30, 31)];
  const reads = [
    read(6, 8, [1]), // 2 is still in flight: absent is fine
    read(10, 25, [1, 2]), // 2 acked during the read: present is fine too
    read(32, 33, [1, 2, 3]),
    finalRead(40, [1, 2, 3]),
    finalRead(40, [3, 2, 1]),
  ];
  assert.deepEqual(checkSet(inserts, reads), { valid: true, anomalies: [] });
});

Deno.test("checkSet() accepts unknown inserts present or absent, and failed ones absent", () => {
  const inserts = [
    insert(1, 0, undefined), // took effect late
    insert(2, 0, undefined), // never took effect
    insert(3, 0, undefined, "failed"),
  ];
  const reads = [read(10, 11, []), read(12, 13, [1]), finalRead(20, [1]), finalRead(20, [1])];
  assert.deepEqual(checkSet(inserts, reads), { valid: true, anomalies: [] });
});

Deno.test("checkSet() reports an acknowledged insert missing from a later read as lost", () => {
  const inserts = [insert(1, 0, 5), insert(2, 0, 5)];
  const v = checkSet(inserts, [read(6, 7, [2]), finalRead(20, [1, 2])]);
  assert.equal(v.valid, false);
  assert.equal(v.anomalies.length, 1);
  assert.match(v.anomalies[0], /^lost: \/s\/1 \(insert #1 .*\) missing from read #\d+ by w1/);
});

Deno.test("checkSet() reports an acknowledged insert missing from the final reads as lost", () => {
  const v = checkSet([insert(1, 0, 5)], [finalRead(20, []), finalRead(20, [])]);
  assert.equal(v.valid, false);
  assert.equal(v.anomalies.length, 2);
  for (const a of v.anomalies) assert.match(a, /^lost: \/s\/1 .* missing from read #\d+ by final/);
});

Deno.test("checkSet() reports keys and values never written as phantoms", () => {
  const inserts = [insert(1, 0, 5), insert(2, 10, undefined, "failed"), insert(3, 50, 51)];
  const reads = [
    read(6, 7, [1], { strangers: ["/s/nobody"] }),
    read(8, 9, [1], { wrongValues: [[1, "garbage"]] }),
    read(12, 13, [1, 2]), // 2 definitely failed
    read(14, 15, [1, 3]), // 3 was called only at 50
  ];
  const v = checkSet(inserts, reads);
  assert.equal(v.valid, false);
  assert.deepEqual(v.anomalies.map((a) => a.split(" ").slice(0, 2).join(" ")), [
    "phantom: /s/nobody",
    "phantom: /s/1",
    "phantom: /s/2",
    "phantom: /s/3",
    "flicker: /s/2", // seen by the third read, gone in the fourth
  ]);
  assert.match(v.anomalies[1], /holds "garbage" .* but insert #1 .* wrote "v1"/);
  assert.match(v.anomalies[2], /definitely not applied/);
  assert.match(v.anomalies[3], /returned before insert #3 .* was called/);
});

Deno.test("checkSet() reports a key that disappears after a read saw it as a flicker", () => {
  // The unknown insert may or may not happen, but once a read returned it, it must stay.
  const inserts = [insert(1, 0, undefined)];
  const seen = read(5, 6, [1]);
  const v = checkSet(inserts, [seen, read(7, 8, []), finalRead(20, [1])]);
  assert.equal(v.valid, false);
  assert.equal(v.anomalies.length, 1);
  assert.match(v.anomalies[0], new RegExp(`^flicker: /s/1 .* was in read #${seen.id} .* missing`));
  // A read that overlaps the one that saw it may still miss it.
  assert.equal(checkSet(inserts, [read(5, 9, [1]), read(6, 8, [])]).valid, true);
});

Deno.test("checkSet() reports final reads of the last round that disagree", () => {
  const inserts = [insert(1, 0, undefined), insert(2, 0, 5)];
  // Round 0 disagreed (the unknown insert 1 landed during it); round 1 agrees: valid.
  const healed = [
    finalRead(20, [2], 0),
    finalRead(20, [1, 2], 0),
    finalRead(30, [1, 2], 1),
    finalRead(30, [1, 2], 1),
  ];
  assert.deepEqual(checkSet(inserts, healed), { valid: true, anomalies: [] });
  const split = checkSet(inserts, [finalRead(30, [2], 1), finalRead(30, [1, 2], 1)]);
  assert.equal(split.valid, false);
  assert.equal(split.anomalies.length, 1);
  assert.match(
    split.anomalies[0],
    /^diverged: .* only in the first nothing; only in the second \/s\/1$/,
  );
});
