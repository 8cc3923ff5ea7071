import assert from "node:assert/strict";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import { IntentResolver } from "../../../src/kv/intent_resolver.ts";
import type { Store, WriteOp } from "../../../src/kv/mod.ts";
import { RangeCommands } from "../../../src/kv/range_commands.ts";
import { type BatchCommitDeps, commitBatch } from "../../../src/txn/batch_commit.ts";
import { b, s, TestCluster, waitFor } from "../kv/_cluster.ts";
import { bootstrapSplit, splitAt } from "../kv/_ranges.ts";

/** A 3-node cluster with user ranges [, /h), [/h, /p), [/p, _/). */
async function threeRanges(): Promise<TestCluster> {
  const c = await TestCluster.create(3);
  await c.startAll();
  await c.waitForLeader();
  await bootstrapSplit(c);
  await splitAt(c, b("/p"));
  await splitAt(c, b("/h"));
  return c;
}

function deps(c: TestCluster, store: Store): BatchCommitDeps {
  const commands = new RangeCommands(c.router);
  return {
    commands,
    resolver: new IntentResolver(commands, c.clock, store.logger),
    clock: c.clock,
    logger: store.logger,
    lookup: (key) => store.lookupRange(key),
    timestamp: (deadline) => c.router.timestamps(1, deadline),
  };
}

const put = (key: string, value: string): WriteOp => ({
  type: "put",
  key: b(key),
  value: b(value),
});

/** Every intent and decision record left in any node's engine. */
function leftovers(c: TestCluster): number {
  let n = 0;
  for (const engine of c.engines.values()) {
    for (const _ of engine.scan("locks", {})) n++;
    for (const _ of engine.scan("txn", {})) n++;
  }
  return n;
}

async function readAll(store: Store, keys: string[]): Promise<(string | undefined)[]> {
  const out = [];
  for (const k of keys) out.push(s((await store.get(b(k)))?.value));
  return out;
}

Deno.test("commitBatch() writes a batch over three ranges atomically and leaves no intent or record", async () => {
  const c = await threeRanges();
  try {
    const store = c.leader()!;
    const keys = ["/a", "/i", "/q", "/b"];
    const { version } = await commitBatch(deps(c, store), keys.map((k) => put(k, `v${k}`)), {
      deadline: Date.now() + 10_000,
    });
    assert.ok(version > 0n);
    for (const st of c.stores.values()) {
      assert.deepEqual(await readAll(st, keys), keys.map((k) => `v${k}`));
    }
    await waitFor(() => leftovers(c) === 0, 5000, "no intents or records left");
  } finally {
    await c.close();
  }
});

Deno.test("commitBatch() with a request id applies a retried batch once", async () => {
  const c = await threeRanges();
  try {
    const store = c.leader()!;
    const d = deps(c, store);
    const ops = [put("/a", "1"), put("/q", "1")];
    const first = await commitBatch(d, ops, { deadline: Date.now() + 10_000, requestId: "r-1" });
    // Someone else writes /a after the batch; a retry of the batch must not undo that.
    await c.onRangeLeader(b("/a"), (l) => l.put(b("/a"), b("2")));
    const again = await commitBatch(d, ops, { deadline: Date.now() + 10_000, requestId: "r-1" });
    assert.equal(again.version, first.version, "the retry answers with the first commit");
    assert.equal(s((await store.get(b("/a")))?.value), "2");
  } finally {
    await c.close();
  }
});

Deno.test("commitBatch() keeps concurrent overlapping batches atomic: every key ends from one batch", async () => {
  const c = await threeRanges();
  try {
    const store = c.leader()!;
    const d = deps(c, store);
    const keys = ["/a", "/i", "/q"];
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, n) =>
        commitBatch(d, keys.map((k) => put(k, `batch-${n}`)), {
          deadline: Date.now() + 20_000,
        })),
    );
    const ok = results.filter((r) => r.status === "fulfilled").length;
    assert.equal(ok, 12, "every batch commits in the end");
    for (const st of c.stores.values()) {
      const values = await readAll(st, keys);
      assert.equal(new Set(values).size, 1, `one batch's values everywhere: ${values}`);
    }
    await waitFor(() => leftovers(c) === 0, 5000, "no intents or records left");
  } finally {
    await c.close();
  }
});

Deno.test("Readers and writers wait for a live intent and settle an expired one through its primary", async () => {
  const c = await threeRanges();
  try {
    const store = c.leader()!;
    const commands = new RangeCommands(c.router);
    await c.onRangeLeader(b("/a"), (l) => l.put(b("/a"), b("old-a")));
    await c.onRangeLeader(b("/q"), (l) => l.put(b("/q"), b("old-q")));
    const prepare = (txnId: string, ttlMs: number) =>
      Promise.all(
        [["/a", "new-a"], ["/q", "new-q"]].map(([k, v]) =>
          commands.propose(b(k), {
            case: "prepareBatch",
            value: {
              txnId,
              primaryKey: b("/a"),
              ops: [{ key: b(k), value: b(v), delete: false }],
              expiresAtMs: BigInt(Date.now() + ttlMs),
            },
          }, Date.now() + 5000)
        ),
      );
    // 1. An expired batch that never decided: the reader aborts it and sees the old value.
    await prepare("t-undecided", -1);
    assert.equal(s((await store.get(b("/q")))?.value), "old-q");
    assert.equal(s((await store.get(b("/a")))?.value), "old-a");
    // 2. An expired batch that committed but whose intents were never resolved: readers apply it.
    await prepare("t-committed", -1);
    await commands.propose(b("/a"), {
      case: "commitBatch",
      value: { txnId: "t-committed", primaryKey: b("/a") },
    }, Date.now() + 5000);
    assert.equal(s((await store.get(b("/q")))?.value), "new-q");
    // A write on a key still holding the committed intent settles it first and lands after it.
    await c.onRangeLeader(b("/a"), (l) => l.put(b("/a"), b("after")));
    assert.equal(s((await store.get(b("/a")))?.value), "after");
    // 3. A live intent: a read waits until the coordinator resolves it.
    await prepare("t-live", 10_000);
    const read = store.get(b("/q"), { deadline: Date.now() + 8000 });
    await new Promise((r) => setTimeout(r, 200));
    await commands.propose(b("/a"), {
      case: "abortBatch",
      value: { txnId: "t-live", primaryKey: b("/a") },
    }, Date.now() + 5000);
    for (const k of ["/a", "/q"]) {
      await commands.propose(b(k), {
        case: "resolveIntents",
        value: { txnId: "t-live", keys: [b(k)], commit: false, commitVersion: 0n },
      }, Date.now() + 5000);
    }
    assert.equal(s((await read)?.value), "new-q");
    // A scan over all three ranges meets no intent now and sees every value.
    const rows = [];
    for await (const chunk of store.scan(b("/"), b("/z"))) rows.push(...chunk);
    assert.deepEqual(rows.map((r) => [s(r.key), s(r.value)]), [["/a", "after"], ["/q", "new-q"]]);
  } finally {
    await c.close();
  }
});

Deno.test("A read of a key held by a live intent fails with LOCKED at its deadline", async () => {
  const c = await threeRanges();
  try {
    const store = c.leader()!;
    const commands = new RangeCommands(c.router);
    await commands.propose(b("/q"), {
      case: "prepareBatch",
      value: {
        txnId: "t-slow",
        primaryKey: b("/a"),
        ops: [{ key: b("/q"), value: b("x"), delete: false }],
        expiresAtMs: BigInt(Date.now() + 60_000),
      },
    }, Date.now() + 5000);
    await assert.rejects(
      // Serializable: no read point to confirm, so a loaded machine cannot time out before the
      // intent is met.
      store.get(b("/q"), { deadline: Date.now() + 300, serializable: true }),
      (e) => isRangeDbError(e, ErrorCode.LOCKED),
    );
  } finally {
    await c.close();
  }
});
