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

Deno.test("ReplicaReads keeps a retried request valid: a late answer to it releases the read", async () => {
  const { raw, contexts } = fakeRaw();
  const reads = new ReplicaReads({ raw, rangeId: 1 }, 3, () => {});
  let released = 0;
  let failed = 0;
  const now = Date.now();
  reads.wait(now + 60_000).then(() => released++, () => failed++);
  reads.issue();
  // Two ticks without an answer (a leader whose turns wait for a slow disk): issued again.
  reads.expire(now, 1);
  reads.expire(now, 1);
  reads.issue();
  assert.equal(contexts.length, 2, "a second request");
  // The answer to the first request arrives late; it is a valid read point for the read.
  reads.onReadStates([{ index: 7, requestCtx: contexts[0] }]);
  reads.resolveApplied(7);
  await Promise.resolve();
  assert.equal(released, 1);
  // The second answer changes nothing, and no third request goes out.
  reads.onReadStates([{ index: 9, requestCtx: contexts[1] }]);
  reads.resolveApplied(9);
  for (let i = 0; i < 4; i++) reads.expire(now, 1);
  reads.issue();
  await Promise.resolve();
  assert.deepEqual({ released, failed, requests: contexts.length }, {
    released: 1,
    failed: 0,
    requests: 2,
  });
  assert.ok(reads.isIdle());
});

Deno.test("ReplicaReads fails a read at its deadline whichever of its requests is pending", async () => {
  const { raw } = fakeRaw();
  const reads = new ReplicaReads({ raw, rangeId: 1 }, 3, () => {});
  const now = Date.now();
  const errors: string[] = [];
  reads.wait(now + 1_000).then(() => errors.push("released"), (e) => errors.push(String(e)));
  reads.issue();
  reads.expire(now, 1);
  reads.expire(now, 1);
  reads.issue();
  reads.expire(now + 2_000, 2);
  await Promise.resolve();
  assert.equal(errors.length, 1);
  assert.match(errors[0], /deadline passed before a linearizable read point was confirmed/);
  assert.ok(reads.isIdle());
});
