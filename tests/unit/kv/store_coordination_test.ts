import assert from "node:assert/strict";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import { defaultClusterConfig } from "../../../src/base/config_cluster.ts";
import { setClusterSetting } from "../../../src/kv/cluster_settings.ts";
import type { Store } from "../../../src/kv/mod.ts";
import { b, s, TestCluster, waitFor } from "./_cluster.ts";

/** The ranges as "[start, end)#id" in key order, from a store's listRanges (the meta copy). */
async function layout(store: Store): Promise<string[]> {
  const ranges = await store.listRanges();
  return ranges.map((r) => `[${s(r.start)},${s(r.end)})#${r.rangeId}`);
}

async function waitForLayout(c: TestCluster, want: string[], timeoutMs = 10_000): Promise<void> {
  let last: string[] = [];
  await waitFor(
    async () => {
      for (const store of c.stores.values()) {
        last = await layout(store).catch((e) => [String(e)]);
        if (JSON.stringify(last) !== JSON.stringify(want)) return false;
      }
      return true;
    },
    timeoutMs,
    `layout ${want.join(" ")} (last seen ${last.join(" ")})`,
  );
}

Deno.test("StoreCoordination splits at _/ after formation, so range 1 keeps the system keyspace alone", async () => {
  const c = await TestCluster.create(3, { rangeQueues: true });
  try {
    await c.startAll();
    await c.waitForLeader();
    await waitForLayout(c, ["[,_/)#2", "[_/,)#1"]);
    // User keys live in range 2 now, on every node.
    await c.put(b("/user/1"), b("v"));
    for (const store of c.stores.values()) {
      assert.equal(store.lookupRange(b("/user/1")).rangeId, 2);
      assert.equal(store.lookupRange(b("_/cluster/nodes/x")).rangeId, 1);
    }
  } finally {
    await c.close();
  }
});

Deno.test("Store.splitRange() and mergeRange() from a follower: ranges, meta copy and data stay right", async () => {
  const c = await TestCluster.create(3, { rangeQueues: true });
  try {
    await c.startAll();
    await waitForLayout(c, ["[,_/)#2", "[_/,)#1"]);
    for (let i = 0; i < 30; i++) await c.put(b(`/k/${String(i).padStart(2, "0")}`), b(`v${i}`));
    const leader = c.leaderOf(b("/k/00"))!;
    const follower = [...c.stores.values()].find((st) => st !== leader)!;
    const split = await follower.splitRange(b("/k/15"));
    assert.equal(split.dryRun, false);
    assert.deepEqual([s(split.left.start), s(split.left.end)], ["", "/k/15"]);
    assert.deepEqual([s(split.right.start), s(split.right.end)], ["/k/15", "_/"]);
    const left = split.left.rangeId;
    await waitForLayout(c, [`[,/k/15)#${left}`, "[/k/15,_/)#2", "[_/,)#1"]);
    // Every key is readable on every node, from the range that holds it.
    for (const store of c.stores.values()) {
      for (let i = 0; i < 30; i++) {
        const key = `/k/${String(i).padStart(2, "0")}`;
        const got = await store.get(b(key));
        assert.equal(s(got?.value), `v${i}`, `${key} on node ${store.nodeId}`);
      }
    }
    // A split at an existing boundary is refused; a dry run changes nothing.
    await assert.rejects(
      follower.splitRange(b("/k/15")),
      (e) => isRangeDbError(e, ErrorCode.INVALID_ARGUMENT),
    );
    const dry = await follower.mergeRange(left, { dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.equal(dry.merged.rangeId, 2);
    await waitForLayout(c, [`[,/k/15)#${left}`, "[/k/15,_/)#2", "[_/,)#1"]);
    // Merge it back.
    const merged = await follower.mergeRange(left);
    assert.equal(merged.merged.rangeId, 2);
    assert.deepEqual([s(merged.merged.start), s(merged.merged.end)], ["", "_/"]);
    await waitForLayout(c, ["[,_/)#2", "[_/,)#1"]);
    for (const store of c.stores.values()) {
      assert.equal(store.replicas.has(left), false, `range ${left} destroyed on ${store.nodeId}`);
      assert.equal(s((await store.get(b("/k/03")))?.value), "v3");
    }
    // Range 1 is never absorbed, and the system keyspace stays apart.
    await assert.rejects(
      follower.mergeRange(2),
      (e) => isRangeDbError(e, ErrorCode.FAILED_PRECONDITION) && /system keyspace/.test(e.message),
    );
    await assert.rejects(
      follower.mergeRange(1),
      (e) => isRangeDbError(e, ErrorCode.FAILED_PRECONDITION),
    );
    await assert.rejects(follower.mergeRange(99), (e) => isRangeDbError(e, ErrorCode.NOT_FOUND));
    await assert.rejects(
      follower.splitRange(b("_/x")),
      (e) => isRangeDbError(e, ErrorCode.INVALID_ARGUMENT),
    );
  } finally {
    await c.close();
  }
});

Deno.test("Store.mergeRange() aborts and unfreezes when a replica cannot confirm the freeze", async () => {
  const c = await TestCluster.create(3, { rangeQueues: true });
  try {
    await c.startAll();
    await waitForLayout(c, ["[,_/)#2", "[_/,)#1"]);
    const split = await c.leader()!.splitRange(b("/m"));
    const left = split.left.rangeId;
    await waitForLayout(c, [`[,/m)#${left}`, "[/m,_/)#2", "[_/,)#1"]);
    // A node that is down cannot confirm it applied the freeze: the merge must abort.
    const coordinator = c.leaderOf(b("/a"))!;
    const down = [...c.stores.keys()].find((id) => c.stores.get(id) !== coordinator)!;
    await c.stop(down);
    await assert.rejects(
      coordinator.mergeRange(left, { deadline: Date.now() + 1500 }),
      (e) => isRangeDbError(e),
    );
    // The left range serves writes again on the remaining quorum.
    await c.put(b("/a"), b("after-abort"));
    const r = coordinator.replicas.get(left)!;
    await waitFor(() => !r.frozen, 5000, "the range to be unfrozen");
    await c.start(down);
    await waitForLayout(c, [`[,/m)#${left}`, "[/m,_/)#2", "[_/,)#1"]);
  } finally {
    await c.close();
  }
});

Deno.test("StoreCoordination splits a range that passes range_max_bytes and merges small cold neighbours back", async () => {
  const c = await TestCluster.create(3, { rangeQueues: true });
  try {
    await c.startAll();
    await waitForLayout(c, ["[,_/)#2", "[_/,)#1"]);
    const store = c.leader()!;
    const deadline = () => Date.now() + 5000;
    let config = defaultClusterConfig();
    config = await setClusterSetting(
      store.coordination.commands,
      config,
      "range_min_bytes",
      "0",
      deadline(),
    );
    config = await setClusterSetting(
      store.coordination.commands,
      config,
      "range_max_bytes",
      "64KiB",
      deadline(),
    );
    const value = new Uint8Array(1000).fill(0x61);
    for (let i = 0; i < 300; i++) await c.put(b(`/big/${String(i).padStart(4, "0")}`), value);
    // ~300 KB of live data with a 64 KiB limit: several splits, each range under the limit.
    await waitFor(
      async () => {
        const ranges = (await store.listRanges()).filter((r) => r.rangeId !== 1);
        return ranges.length >= 4 && ranges.every((r) => !r.local || r.liveBytes <= 64 * 1024);
      },
      30_000,
      "splits by size",
    );
    for (let i = 0; i < 300; i += 37) {
      const got = await store.get(b(`/big/${String(i).padStart(4, "0")}`));
      assert.equal(got?.value.length, 1000);
    }
    // Delete everything; allow merges of small cold ranges at once.
    for (let i = 0; i < 300; i++) {
      await c.onRangeLeader(
        b(`/big/${String(i).padStart(4, "0")}`),
        (l) => l.delete(b(`/big/${String(i).padStart(4, "0")}`)),
      );
    }
    config = await setClusterSetting(
      store.coordination.commands,
      config,
      "range_min_bytes",
      "16KiB",
      deadline(),
    );
    await setClusterSetting(
      store.coordination.commands,
      config,
      "range_merge_delay",
      "0s",
      deadline(),
    );
    await waitForLayout(c, ["[,_/)#2", "[_/,)#1"], 60_000);
  } finally {
    await c.close();
  }
});

Deno.test("Store writes on a range led away from range 1's leader take timestamps from its oracle", async () => {
  const c = await TestCluster.create(3, { rangeQueues: true });
  try {
    await c.startAll();
    await waitForLayout(c, ["[,_/)#2", "[_/,)#1"]);
    const oracle = c.leader()!;
    const other = [...c.stores.values()].find((st) => st !== oracle)!;
    // Move range 2's leadership to a node without the oracle.
    await waitFor(
      () => {
        const leading = c.leaderOf(b("/t"));
        if (leading === other) return true;
        const r2 = leading?.replicas.get(2);
        r2?.enqueueEvent(() => r2.raw.transferLeader(other.nodeId));
        return false;
      },
      10_000,
      "range 2's leadership to move",
    );
    assert.equal(other.firstRange()?.isLeader, false);
    // Writes in one event-loop turn share one request to the oracle; versions strictly increase.
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => other.put(b(`/t/${i}`), b(`${i}`))),
    );
    const versions = results.map((r) => r.version);
    assert.equal(new Set(versions).size, 50);
    const before = (await oracle.put(b("_/x"), b("1"))).version;
    const after = await other.put(b("/t/late"), b("late"));
    assert.ok(after.version > before, "a later write gets a later version");
    assert.equal(s((await other.get(b("/t/7")))?.value), "7");
  } finally {
    await c.close();
  }
});
