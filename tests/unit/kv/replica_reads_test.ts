import assert from "node:assert/strict";
import type { RawNode } from "../../../src/raft/mod.ts";
import { ReplicaReads } from "../../../src/kv/replica_reads.ts";

/** A RawNode that records the contexts of ReadIndex requests. */
function fakeRaw(): { raw: RawNode; contexts: Uint8Array[] } {
  const contexts: Uint8Array[] = [];
  const raw = { readIndex: (ctx: Uint8Array) => contexts.push(ctx.slice()) } as unknown as RawNode;
  return { raw, contexts };
}

/** The reads of node `nodeId` with one read issued; `released` tells whether it resolved. */
function issued(nodeId: number) {
  const { raw, contexts } = fakeRaw();
  const reads = new ReplicaReads({ raw, rangeId: 1 }, nodeId, () => {});
  const state = { released: false };
  reads.wait(Date.now() + 60_000).then(() => state.released = true, () => {});
  reads.issue();
  return { reads, ctx: contexts[0], state };
}

Deno.test("ReplicaReads.issue() gives each node and each run its own ReadIndex contexts", async () => {
  const one = issued(1);
  const two = issued(2);
  const restarted = issued(1);
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  assert.equal(new Set([one.ctx, two.ctx, restarted.ctx].map(hex)).size, 3);

  // An answer to another node's or an earlier run's request releases nothing here.
  for (const other of [two.ctx, one.ctx]) {
    restarted.reads.onReadStates([{ index: 5, requestCtx: other }]);
    restarted.reads.resolveApplied(10);
    await Promise.resolve();
    assert.equal(restarted.state.released, false);
  }
  restarted.reads.onReadStates([{ index: 5, requestCtx: restarted.ctx }]);
  restarted.reads.resolveApplied(10);
  await Promise.resolve();
  assert.equal(restarted.state.released, true);
  for (const r of [one, two]) r.reads.close(new Error("closed"));
});
