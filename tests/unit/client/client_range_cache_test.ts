import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  LookupRangeResponseSchema,
  type RangeStatus,
  RangeStatusSchema,
} from "../../../proto/gen/rangedb/v1/admin_pb.ts";
import { connect, RangeDbClientError } from "../../../src/client/mod.ts";
import {
  type CachedRange,
  LEADERLESS_RETRY_MS,
  LOOKUP_BACKOFF_MS,
  RangeCache,
  RangeDirectory,
} from "../../../src/client/client_range_cache.ts";
import { ErrorCode } from "../../../src/base/errors.ts";
import { FakeCluster, status } from "./_fake_cluster.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function entry(rangeId: number, start: string, end: string, leader = `n${rangeId}`): CachedRange {
  return {
    rangeId,
    start: enc.encode(start),
    end: enc.encode(end),
    generation: 1,
    leaderAddress: leader,
    retryAt: 0,
  };
}

function rangeStatus(rangeId: number, start: string, end: string, leader: string): RangeStatus {
  return create(RangeStatusSchema, {
    rangeId: BigInt(rangeId),
    start: enc.encode(start),
    end: enc.encode(end),
    leaderClientAddress: leader,
  });
}

Deno.test("RangeCache.find() finds a key's range by end key, the last range's empty end last", () => {
  const cache = new RangeCache();
  const bounds = ["", "/b", "/d", "/f", "/h", "/j", ""];
  for (let i = bounds.length - 2; i >= 0; i--) cache.insert(entry(i + 1, bounds[i], bounds[i + 1]));
  const cases: [string, number | undefined][] = [
    ["", 1],
    ["/a", 1],
    ["/b", 2],
    ["/c\xff", 2],
    ["/d", 3],
    ["/i", 5],
    ["/j", 6],
    ["_/partitions", 6],
  ];
  for (const [key, want] of cases) assert.equal(cache.find(enc.encode(key))?.rangeId, want, key);
  assert.equal(cache.size, 6);
});

Deno.test("RangeCache.insert() replaces every entry the new range overlaps", () => {
  const cache = new RangeCache();
  cache.insert(entry(1, "", "/m"));
  cache.insert(entry(2, "/m", ""));
  // A split of range 1 at /f seen later: the left part replaces the whole stale entry.
  cache.insert(entry(7, "", "/f"));
  assert.equal(cache.find(enc.encode("/a"))?.rangeId, 7);
  assert.equal(cache.find(enc.encode("/g")), undefined);
  assert.equal(cache.find(enc.encode("/x"))?.rangeId, 2);
  // A merge seen later: one entry covers both.
  cache.insert(entry(2, "", ""));
  assert.equal(cache.size, 1);
  const only = cache.find(enc.encode("/g"))!;
  cache.evict(only);
  cache.evict(only);
  assert.equal(cache.size, 0);
});

Deno.test("RangeDirectory.route() looks up in the background, once per range", async () => {
  const lookups: string[] = [];
  const gate = Promise.withResolvers<void>();
  const directory = new RangeDirectory(async (key) => {
    lookups.push(dec.decode(key));
    await gate.promise;
    return rangeStatus(3, "/a", "/m", "n3");
  });
  const key = enc.encode("/b");
  for (let i = 0; i < 5; i++) assert.equal(directory.route([key]), undefined);
  assert.deepEqual(lookups, ["/b"]);
  gate.resolve();
  await directory.settled();
  const route = directory.route([key, enc.encode("/c")])!;
  assert.equal(route.address, "n3");
  assert.equal(directory.route([key, enc.encode("/x")]), undefined, "keys of two ranges");
  // A failure evicts the entry and looks its range up again, once.
  route.failed(new RangeDbClientError(ErrorCode.NOT_LEADER, "Cannot write: not the leader"));
  route.failed(new RangeDbClientError(ErrorCode.NOT_LEADER, "Cannot write: not the leader"));
  assert.equal(directory.route([key]), undefined);
  assert.deepEqual(lookups, ["/b", "/b"]);
  await directory.settled();
  assert.equal(directory.route([key])?.address, "n3");
});

Deno.test("RangeDirectory turns off on UNIMPLEMENTED and backs off after other failures", async () => {
  let now = 1_000;
  let answer: () => Promise<RangeStatus | undefined> = () =>
    Promise.reject(
      new RangeDbClientError(ErrorCode.UNAVAILABLE, "Cannot look up: down", {
        grpcCode: grpc.status.UNAVAILABLE,
      }),
    );
  let calls = 0;
  const directory = new RangeDirectory(() => {
    calls++;
    return answer();
  }, () => now);
  const key = enc.encode("/k");
  directory.route([key]);
  await directory.settled();
  directory.route([key]);
  assert.equal(calls, 1, "no lookup during the backoff");
  now += LOOKUP_BACKOFF_MS;
  answer = () => Promise.resolve(rangeStatus(4, "", "", ""));
  directory.route([key]);
  await directory.settled();
  assert.equal(calls, 2);
  // Cached without a leader: looked up again only after a while.
  assert.equal(directory.route([key]), undefined);
  assert.equal(calls, 2);
  now += LEADERLESS_RETRY_MS;
  answer = () =>
    Promise.reject(
      new RangeDbClientError(ErrorCode.FAILED_PRECONDITION, "Unimplemented", {
        grpcCode: grpc.status.UNIMPLEMENTED,
      }),
    );
  directory.route([key]);
  await directory.settled();
  assert.equal(calls, 3);
  assert.equal(directory.disabled, true);
  assert.equal(directory.route([enc.encode("/other")]), undefined);
  assert.equal(calls, 3);
});

/** A fake cluster whose LookupRange answers from `ranges` (node indexes as leaders). */
async function withRanges(
  ranges: [number, string, string, number][],
  fn: (c: FakeCluster, setRanges: (r: [number, string, string, number][]) => void) => Promise<void>,
): Promise<void> {
  const cluster = await FakeCluster.start(3);
  let current = ranges;
  try {
    for (const node of cluster.nodes) {
      node.handlers.LookupRange = (r: { key: Uint8Array }) => {
        const key = dec.decode(r.key);
        const [id, start, end, leader] = current.find(([, s, e]) =>
          s <= key && (e === "" || key < e)
        )!;
        return create(LookupRangeResponseSchema, {
          range: rangeStatus(id, start, end, cluster.nodes[leader].address),
        });
      };
    }
    await fn(cluster, (r) => current = r);
  } finally {
    cluster.stop();
  }
}

/** The node indexes that served `method`, sorted by node (not by time). */
function servedBy(c: FakeCluster, method: "Put" | "Get" | "Batch"): number[] {
  return c.callsOf(method).map(([i]) => i);
}

Deno.test("RangeDbClient sends point requests to the cached leader of the key's range", async () => {
  await withRanges([[2, "", "/m", 1], [3, "/m", "", 2]], async (c) => {
    const db = await connect({ endpoints: c.addresses(), timeoutMs: 2_000 });
    try {
      await db.put("/a", "1"); // cold cache: range 1's leader (node 0) forwards
      await db.put("/x", "2");
      await db.ranges.settled();
      await db.put("/a", "3");
      await db.put("/x", "4");
      assert.equal(await db.getText("/a"), "3");
      await db.delete("/x");
      assert.deepEqual(servedBy(c, "Put"), [0, 0, 1, 2]);
      assert.deepEqual(servedBy(c, "Get"), [1]);
      assert.deepEqual(c.callsOf("Delete").map(([i]) => i), [2]);
      await db.batch().put("/b", "1").put("/c", "2").commit();
      await db.batch().put("/b", "1").put("/y", "2").commit();
      const batches = c.callsOf("Batch").map(([i, r]) =>
        `${i}:${
          r.ops.map((op: { op: { value: { key: Uint8Array } } }) => dec.decode(op.op.value.key))
            .join(",")
        }`
      ).sort();
      assert.deepEqual(batches, ["0:/b,/y", "1:/b,/c"], "one range: its leader; two: node 0");
    } finally {
      db.close();
    }
  });
});

for (const code of ["NOT_LEADER", "RANGE_MOVED", "RANGE_NOT_FOUND", "unreachable"]) {
  Deno.test(`RangeDbClient evicts the cached range on ${code} and still succeeds`, async () => {
    await withRanges([[2, "", "", 1]], async (c) => {
      const db = await connect({ endpoints: [c.nodes[0].address], timeoutMs: 2_000 });
      try {
        await db.put("/a", "1");
        await db.ranges.settled();
        const lookups = c.callsOf("LookupRange").length;
        if (code === "unreachable") {
          c.stopNode(1);
        } else {
          c.nodes[1].handlers.Put = () => {
            throw status(grpc.status.UNAVAILABLE, `Cannot write: ${code}`, {
              "rangedb-error-code": code,
            });
          };
        }
        // The lookup after the failure waits: meanwhile requests must not go to node 1 again.
        const gate = Promise.withResolvers<void>();
        const answer = c.nodes[0].handlers.LookupRange!;
        c.nodes[0].handlers.LookupRange = async (r) => {
          await gate.promise;
          return answer(r);
        };
        const count = (node: number) => servedBy(c, "Put").filter((i) => i === node).length;
        const [on0, on1] = [count(0), count(1)];
        const started = Date.now();
        await db.put("/a", "2");
        assert.ok(Date.now() - started < 500, "falls back at once");
        await db.put("/a", "3");
        assert.equal(dec.decode(c.store.get("/a")!.value), "3");
        assert.deepEqual([count(0), count(1)], [on0 + 2, code === "unreachable" ? on1 : on1 + 1]);
        gate.resolve();
        await db.ranges.settled();
        assert.equal(c.callsOf("LookupRange").length, lookups + 1, "looked up again, once");
      } finally {
        db.close();
      }
    });
  });
}

Deno.test("RangeDbClient learns the new range after a split made its entry stale", async () => {
  await withRanges([[2, "", "", 1]], async (c, setRanges) => {
    const db = await connect({ endpoints: c.addresses(), timeoutMs: 2_000 });
    try {
      await db.put("/b", "1");
      await db.ranges.settled();
      // Range 2 splits at /f: the new range 9 ["", "/f") is led by node 2.
      setRanges([[9, "", "/f", 2], [2, "/f", "", 1]]);
      c.nodes[1].handlers.Put = () => {
        throw status(grpc.status.UNAVAILABLE, "Cannot write as the range split", {
          "rangedb-error-code": "RANGE_MOVED",
        });
      };
      await db.put("/b", "2"); // stale entry: node 1 refuses, node 0 serves
      await db.ranges.settled();
      await db.put("/b", "3");
      assert.deepEqual(servedBy(c, "Put"), [0, 0, 1, 2]);
      assert.equal(db.ranges.cache.find(enc.encode("/b"))?.rangeId, 9);
      assert.equal(db.ranges.cache.find(enc.encode("/x")), undefined);
    } finally {
      db.close();
    }
  });
});
