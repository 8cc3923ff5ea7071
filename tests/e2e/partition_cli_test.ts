import assert from "node:assert/strict";
import { connect } from "../../src/client/mod.ts";
import { withCluster } from "../harness/cluster.ts";
import { runCli } from "../harness/node_process.ts";

interface RangeJson {
  range_id: number;
  start?: string;
  end?: string;
  end_base64?: string;
  leader_node_id: number;
  voters: number[];
}

async function partitions(e: string[]): Promise<RangeJson[]> {
  const list = await runCli(["admin", "partition", "list", "-o", "json", ...e]);
  assert.equal(list.code, 0, list.stderr);
  return JSON.parse(list.stdout).partitions;
}

/** Waits until the partition list has `count` ranges that all know a leader. */
async function waitForRanges(e: string[], count: number, timeoutMs = 30_000): Promise<RangeJson[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ranges = await partitions(e).catch(() => []);
    if (ranges.length === count && ranges.every((r) => r.leader_node_id !== 0)) return ranges;
    if (Date.now() > end) {
      throw new Error(`Timed out waiting for ${count} ranges: ${JSON.stringify(ranges)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function keys(e: string[], extra: string[] = []): Promise<string[]> {
  const range = await runCli(["range", "/user/", "--keys-only", ...extra, ...e]);
  assert.equal(range.code, 0, range.stderr);
  return range.stdout.split("\n").filter((l) => l !== "");
}

Deno.test("rangedb admin partition split, list and merge move range boundaries, never data", async () => {
  await withCluster({ nodes: 3 }, async (cluster) => {
    await cluster.waitAllReady();
    await cluster.check(async () => {
      const e = [`--endpoints=${cluster.clientAddresses().join(",")}`];
      // After bootstrap range 1 splits once at _/: range 2 holds every user key.
      const initial = await waitForRanges(e, 2);
      assert.deepEqual(initial.map((r) => [r.start, r.end]), [["", "_/"], ["_/", ""]]);
      const written = "abcdefghijklmnopqrstuvwxyz".split("").map((c) => `/user/${c}`);
      for (const key of written) {
        assert.equal((await runCli(["put", key, `v${key}`, ...e])).code, 0);
      }

      const dry = await runCli(["admin", "partition", "split", "/user/m", "--dry-run", ...e]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /^Would split range 2 at \/user\/m: /);
      assert.equal((await partitions(e)).length, 2, "a dry run changes nothing");

      const split = await runCli(["admin", "partition", "split", "/user/m", ...e]);
      assert.equal(split.code, 0, split.stderr);
      assert.match(
        split.stdout,
        /^OK split range 2 at \/user\/m: range (\d+) \[-, \/user\/m\), range 2 \[\/user\/m, _\/\)\n$/,
      );
      const after = await waitForRanges(e, 3);
      assert.deepEqual(after.map((r) => [r.start, r.end]), [
        ["", "/user/m"],
        ["/user/m", "_/"],
        ["_/", ""],
      ]);
      const again = await runCli(["admin", "partition", "split", "/user/m", ...e]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /\(INVALID_ARGUMENT\)\n$/);

      // Every key is readable across the boundary, from every node, in both directions.
      assert.deepEqual(await keys(e), written);
      assert.deepEqual(await keys(e, ["--reverse"]), [...written].reverse());
      assert.deepEqual(await keys(e, ["--limit", "14"]), written.slice(0, 14));
      for (const endpoint of cluster.clientAddresses()) {
        for (const key of ["/user/a", "/user/m", "/user/z"]) {
          const get = await runCli(["get", key, `--endpoints=${endpoint}`]);
          assert.deepEqual([get.code, get.stdout], [0, `v${key}`], `${endpoint} ${key}`);
        }
        const write = await runCli(["put", "/user/b", "again", `--endpoints=${endpoint}`]);
        assert.equal(write.code, 0, write.stderr);
      }

      const table = await runCli(["admin", "partition", "list", "--show-migrations", ...e]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(
        table.stdout,
        /^RANGE\s+START\s+END\s+LEADER\s+REPLICAS\s+KEYS\s+SIZE\s+WRITES\/S\s+GEN\n/,
      );
      assert.match(table.stdout, /\/user\/m/);

      const left = after[0].range_id;
      const refused = await runCli(["admin", "partition", "merge", String(left), ...e]);
      assert.equal(refused.code, 2, "stdin is not a terminal and --yes is missing");
      const plan = await runCli(["admin", "partition", "merge", String(left), "--dry-run", ...e]);
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(plan.stdout, new RegExp(`^Would merge range ${left} into range 2, `));
      const merge = await runCli(["admin", "partition", "merge", String(left), "--yes", ...e]);
      assert.equal(merge.code, 0, merge.stderr);
      assert.match(
        merge.stdout,
        new RegExp(`^OK merged range ${left} into range 2, which now covers \\[-, _/\\)\\n$`),
      );
      const merged = await waitForRanges(e, 2);
      assert.deepEqual(merged.map((r) => r.start), ["", "_/"]);
      assert.deepEqual(await keys(e), written);
      const gone = await runCli(["admin", "partition", "merge", String(left), "--yes", ...e]);
      assert.equal(gone.code, 1);
    });
  });
});

Deno.test("rangedb admin meta list and get show the decoded descriptors", async () => {
  await withCluster({ nodes: 3 }, async (cluster) => {
    await cluster.waitAllReady();
    await cluster.check(async () => {
      const e = [`--endpoints=${cluster.clientAddresses().join(",")}`];
      await waitForRanges(e, 2);
      const list = await runCli(["admin", "meta", "list", "_/partitions/", "-o", "json", ...e]);
      assert.equal(list.code, 0, list.stderr);
      const entries = JSON.parse(list.stdout).entries as { key?: string; decoded: string }[];
      const one = entries.find((x) => x.key === "_/partitions/00000000000000000001");
      assert.ok(one, list.stdout);
      assert.deepEqual(
        [JSON.parse(one.decoded).range_id, JSON.parse(one.decoded).start],
        [1, "_/"],
      );
      const get = await runCli(["admin", "meta", "get", "_/partitions/00000000000000000002", ...e]);
      assert.equal(get.code, 0, get.stderr);
      assert.deepEqual(JSON.parse(get.stdout).end, "_/");
      const text = await runCli(["admin", "meta", "list", "_/cluster/nodes/", ...e]);
      assert.equal(text.stdout.trim().split("\n").length, 3);
      const missing = await runCli(["admin", "meta", "get", "_/nothing", ...e]);
      assert.equal(missing.code, 1);
      const outside = await runCli(["admin", "meta", "list", "/user/", ...e]);
      assert.equal(outside.code, 1);
      assert.match(outside.stderr, /prefix does not start with '_\/'.*\(INVALID_ARGUMENT\)/);
      const res = await fetch(`${cluster.nodes[1].adminUrl}/api/v1/partitions`);
      assert.equal(res.status, 200);
      assert.equal((await res.json()).partitions.length, 2);
    });
  });
});

Deno.test("the SDK caches the range of a key and sends point requests to its leader", async () => {
  await withCluster({ nodes: 3 }, async (cluster) => {
    await cluster.waitAllReady();
    await cluster.check(async () => {
      const e = [`--endpoints=${cluster.clientAddresses().join(",")}`];
      await waitForRanges(e, 2);
      const db = await connect({ endpoints: cluster.clientAddresses() });
      try {
        await db.put("/user/a", "1");
        await db.ranges.settled();
        const range = await db.admin.lookupRange("/user/a");
        assert.ok(range !== undefined && range.leaderClientAddress !== "");
        assert.equal(
          db.ranges.cache.find(new TextEncoder().encode("/user/a"))?.leaderAddress,
          range.leaderClientAddress,
        );
        await db.put("/user/a", "2");
        assert.equal(await db.getText("/user/a"), "2");
        // A split makes the entry stale; requests still succeed and the cache learns the new range.
        assert.equal((await runCli(["admin", "partition", "split", "/user/m", ...e])).code, 0);
        await waitForRanges(e, 3);
        for (let i = 0; i < 20; i++) await db.put(`/user/${String.fromCharCode(97 + i)}`, `${i}`);
        assert.equal(await db.getText("/user/t"), "19");
      } finally {
        db.close();
      }
    });
  });
});
