import assert from "node:assert/strict";
import { encodeBytes } from "../../../src/base/key_encoding.ts";
import { encodeAppliedState, newAppliedState, newDescriptor } from "../../../src/kv/command.ts";
import { raftStateKey, RaftStateKind } from "../../../src/kv/keys.ts";
import { txnRecordKey } from "../../../src/kv/apply_txn.ts";
import {
  buildOutgoingSnapshot,
  installSnapshot,
  snapshotPairsInRange,
} from "../../../src/kv/replica_snapshot.ts";
import type { IncomingSnapshot } from "../../../src/kv/transport.ts";
import { MessageType } from "../../../src/raft/mod.ts";
import { newMessage } from "../../../src/raft/messages.ts";
import { createMemoryEngine, type MemoryEngine } from "../../../src/storage/memory_engine.ts";

const b = (s: string) => new TextEncoder().encode(s);
const d = newDescriptor({ rangeId: 7, start: b("/b"), end: b("/d"), generation: 3, voters: [1] });

async function engineWithRange(records: Record<string, string>): Promise<MemoryEngine> {
  const engine = createMemoryEngine();
  const batch = engine.batch();
  batch.put(
    "raft_state",
    raftStateKey(7, RaftStateKind.AppliedState),
    encodeAppliedState(newAppliedState({ appliedIndex: 20n, appliedTerm: 2n, descriptor: d })),
  );
  for (const [primary, status] of Object.entries(records)) {
    batch.put("txn", txnRecordKey(b(primary), `txn-${primary}`), b(status));
  }
  batch.put("data", encodeBytes(b("/c")), b("row"));
  await engine.write(batch);
  return engine;
}

Deno.test("buildOutgoingSnapshot() carries the decision records of the range's span, and installSnapshot() replaces the receiver's", async () => {
  const sender = await engineWithRange({ "/a": "outside", "/b": "committed", "/c9": "aborted" });
  const snap = buildOutgoingSnapshot(sender, 7, newMessage(MessageType.Snap, 2))!;
  const pairs = [...snap.pairs];
  const txn = pairs.filter((p) => p.keyspace === "txn").map((p) =>
    new TextDecoder().decode(p.value)
  );
  assert.deepEqual(txn, ["committed", "aborted"], "the records of /b and /c9, not of /a");
  const incoming = {
    rangeId: 7,
    fromNodeId: 1,
    message: snap.message,
    appliedState: snap.appliedState,
    pairs,
  } as IncomingSnapshot;
  assert.equal(snapshotPairsInRange(incoming, d), true);

  // The receiver has a stale record in the span (a decision the sender's log forgot after a
  // ForgetBatch) and one outside it.
  const receiver = await engineWithRange({ "/a": "kept", "/c": "stale" });
  const batch = receiver.batch();
  installSnapshot(7, { applied: newAppliedState({ descriptor: d }), pairs }, batch);
  await receiver.write(batch);
  const left = [...receiver.scan("txn")].map((kv) => new TextDecoder().decode(kv.value));
  assert.deepEqual(left, ["kept", "committed", "aborted"]);
});
