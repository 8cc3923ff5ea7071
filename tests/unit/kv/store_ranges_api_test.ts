import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import type { Store, VersionedValue } from "../../../src/kv/mod.ts";
import { b, s, waitFor } from "./_cluster.ts";
import { splitAt, withSplitCluster } from "./_ranges.ts";

const KEYS = "abcdefghijklmnopqrstuvwxyz".split("").map((ch) => `/${ch}`);

async function collect(
  st: Store,
  start: string,
  end: string,
  options: Parameters<Store["scan"]>[2] = {},
): Promise<string[]> {
  const out: string[] = [];
  const chunks: VersionedValue[][] = [];
  for await (const chunk of st.scan(b(start), b(end), options)) chunks.push(chunk);
  for (const chunk of chunks) for (const kv of chunk) out.push(`${s(kv.key)}=${s(kv.value)}`);
  return out;
}

Deno.test("Store.scan() walks three ranges forward and reverse, with limits, bounds, keys only and small chunks", async () => {
  await withSplitCluster(async (c) => {
    await splitAt(c, b("/g"));
    await splitAt(c, b("/p"));
    for (const k of KEYS) {
      await c.onRangeLeader(b(k), (st) => st.put(b(k), b(k.slice(1)), { requestId: k }));
    }
    const all = KEYS.map((k) => `${k}=${k.slice(1)}`);
    await waitFor(
      () => [...c.stores.values()].every((st) => st.ranges().length === 4),
      10_000,
      "four ranges everywhere",
    );
    for (const st of c.stores.values()) {
      assert.deepEqual(await collect(st, "", ""), all);
      assert.deepEqual(await collect(st, "", "", { reverse: true }), [...all].reverse());
      assert.deepEqual(await collect(st, "", "", { limit: 10 }), all.slice(0, 10));
      assert.deepEqual(
        await collect(st, "", "", { limit: 15, reverse: true }),
        [...all].reverse().slice(0, 15),
      );
      assert.deepEqual(await collect(st, "/c", "/t"), all.slice(2, 19));
      assert.deepEqual(
        await collect(st, "/c", "/t", { reverse: true, chunkSize: 4 }),
        all.slice(2, 19).reverse(),
      );
      assert.deepEqual(
        await collect(st, "/e", "/r", { keysOnly: true, limit: 8, chunkSize: 3 }),
        KEYS.slice(4, 12).map((k) => `${k}=`),
      );
      assert.deepEqual(await collect(st, "/g", "/p", { serializable: true }), all.slice(6, 15));
    }
    // A consumer slower than the first part's deadline: with a part budget, each later part gets
    // its own deadline; without, the later parts fail once the first part's deadline passed.
    const follower = [...c.stores.values()].find((st) => st !== c.leader())!;
    const slowScan = async (options: Parameters<Store["scan"]>[2]) => {
      let n = 0;
      for await (const chunk of follower.scan(b(""), b(""), { ...options, chunkSize: 100 })) {
        n += chunk.length;
        await new Promise((r) => setTimeout(r, 300));
      }
      return n;
    };
    assert.equal(await slowScan({ deadline: Date.now() + 200, partBudgetMs: 1_000 }), 26);
    await assert.rejects(
      slowScan({ deadline: Date.now() + 200 }),
      (e) => isRangeDbError(e, ErrorCode.TIMEOUT),
    );
  });
});

Deno.test("Store.lookupRange() answers from the meta copy on a node without a replica of the range; listRanges() marks which are local", async () => {
  await withSplitCluster(async (c) => {
    await splitAt(c, b("/m"));
    // Node 4 joins after the splits: it holds range 1 (and its meta copy) only.
    const joiner = await c.start(4);
    await c.onLeader((leader) =>
      leader.join({
        name: "node-4",
        peerAddress: "node-4:peer",
        clientAddress: "node-4:client",
        adminAddress: "node-4:admin",
        incarnation: "inc-4",
      })
    );
    await waitFor(
      () => {
        try {
          return joiner.lookupRange(b("/c")).rangeId === 3;
        } catch {
          return false;
        }
      },
      10_000,
      "the joiner's meta copy",
    );
    const info = joiner.lookupRange(b("/c"));
    assert.equal(info.local, false);
    assert.equal(s(info.end), "/m");
    assert.deepEqual(info.voters, [1, 2, 3]);
    assert.equal(joiner.lookupRange(b("/x")).rangeId, 2);
    assert.equal(joiner.lookupRange(b("_/cluster")).local, true);
    assert.throws(
      () => joiner.replicaFor(b("/c")),
      (e) => isRangeDbError(e, ErrorCode.RANGE_NOT_FOUND),
    );
    const listed = await joiner.listRanges();
    assert.deepEqual(
      listed.map((r) => [r.rangeId, s(r.start), s(r.end), r.local]),
      [[3, "", "/m", false], [2, "/m", "_/", false], [1, "_/", "", true]],
    );
    // The raw meta copy.
    const { entries, more } = await joiner.metaScan(b("_/partitions/by-end/"), 2);
    assert.equal(entries.length, 2);
    assert.equal(more, true);
    assert.equal(s(entries[0].key), "_/partitions/by-end//m");
    // gRPC hands request bytes over as node Buffers, whose slice() is a view, not a copy.
    const prefix = Buffer.from("_/partitions/by-end/");
    assert.equal((await joiner.metaScan(prefix, 2)).entries.length, 2);
    assert.equal(s(prefix), "_/partitions/by-end/", "the caller's prefix is left alone");
    assert.notEqual(await joiner.metaGet(b("_/raft/groups/00000000000000000003")), undefined);
    assert.equal(await joiner.metaGet(b("_/raft/groups/00000000000000000099")), undefined);
    await assert.rejects(
      () => joiner.metaScan(b("/user"), 10),
      (e) => isRangeDbError(e, ErrorCode.INVALID_ARGUMENT),
    );
    // A node holding every range answers from its replicas, with their state.
    const local = c.stores.get(1)!.lookupRange(b("/c"));
    assert.equal(local.local, true);
    assert.equal(local.rangeId, 3);
  });
});

Deno.test("Store.batch() refuses keys in more than one range; waitApplied() waits for an index and times out", async () => {
  await withSplitCluster(async (c) => {
    await splitAt(c, b("/m"));
    await assert.rejects(
      () =>
        c.onRangeLeader(b("/a"), (st) =>
          st.batch([
            { type: "put", key: b("/a"), value: b("1") },
            { type: "put", key: b("/z"), value: b("2") },
          ])),
      (e) => isRangeDbError(e, ErrorCode.INVALID_ARGUMENT) && /more than one range/.test(e.message),
    );
    const st = c.stores.get(2)!;
    const r3 = st.replicas.get(3)!;
    const applied = r3.appliedIndex;
    assert.equal(await st.waitApplied(3, applied), applied);
    const waiting = st.waitApplied(3, applied + 1, { deadline: Date.now() + 5000 });
    await c.onRangeLeader(b("/a"), (l) => l.put(b("/a"), b("x"), { requestId: "w" }));
    assert.ok((await waiting) >= applied + 1);
    await assert.rejects(
      () => st.waitApplied(3, applied + 1000, { deadline: Date.now() + 100 }),
      (e) => isRangeDbError(e, ErrorCode.TIMEOUT),
    );
    await assert.rejects(
      () => st.waitApplied(42, 1),
      (e) => isRangeDbError(e, ErrorCode.RANGE_NOT_FOUND),
    );
  });
});
