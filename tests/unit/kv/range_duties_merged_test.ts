import assert from "node:assert/strict";
import { ManualClock } from "../../../src/base/clock.ts";
import { createLogger } from "../../../src/base/logger.ts";
import { newDescriptor, type RangeDescriptor } from "../../../src/kv/command.ts";
import type { RangeInfo } from "../../../src/kv/kv_store.ts";
import { ErrorCode, RangeDbError } from "../../../src/base/errors.ts";
import type { ClusterRouter } from "../../../src/kv/cluster_router.ts";
import { MergedReplicaGc, ORPHAN_CHECK_MS } from "../../../src/kv/merged_replica_gc.ts";
import { MetaSync } from "../../../src/kv/meta_sync.ts";
import type { Replica } from "../../../src/kv/replica.ts";
import { Migrations } from "../../../src/kv/migrations.ts";
import type { RangeQueueDeps } from "../../../src/kv/range_queue_deps.ts";
import { infoOfDescriptor } from "../../../src/kv/range_split.ts";
import { SplitQueue } from "../../../src/kv/split_queue.ts";

const b = (s: string) => new TextEncoder().encode(s);
const text = (x: Uint8Array) => new TextDecoder().decode(x);

/** Queue deps over fixed ranges; commands record what they are asked and never answer. */
function fakeDeps(led: RangeInfo[], extra: Partial<RangeQueueDeps> = {}) {
  const calls: { op: string; descriptors?: RangeDescriptor[]; removed?: RangeDescriptor[] }[] = [];
  const never = new Promise<never>(() => {});
  const deps = {
    nodeId: 1,
    clock: new ManualClock({ now: 1_000_000 }),
    logger: createLogger({ level: "error", sink: () => {} }),
    migrations: new Migrations(),
    commands: {
      allocateRangeId: () => {
        calls.push({ op: "allocateRangeId" });
        return never;
      },
      updateMeta: (descriptors: RangeDescriptor[], removed: RangeDescriptor[]) => {
        calls.push({ op: "updateMeta", descriptors, removed });
        return never;
      },
    },
    lookup: (key: Uint8Array) => led.find((r) => text(r.start) <= text(key))!,
    rangeById: (id: number) => led.find((r) => r.rangeId === id),
    leaders: () => led,
    settings: () => ({
      maxBytes: 64 << 20,
      minBytes: 16 << 20,
      maxKeys: 1_000_000,
      splitQps: 0,
      mergeDelayMs: 300_000,
    }),
    middleKey: () => Promise.resolve(undefined),
    metaGeneration: () => undefined,
    ...extra,
  } as unknown as RangeQueueDeps;
  return { deps, calls };
}

function rangeInfo(id: number, start: string, end: string, generation = 2): RangeInfo {
  const d = newDescriptor({ rangeId: id, start: b(start), end: b(end), generation, voters: [1] });
  return { ...infoOfDescriptor(d), local: true };
}

Deno.test("SplitQueue.check() splits range 1 at _/ also after user keys were split off it first", () => {
  // An operator split at /50 before the bootstrap split: range 1 is ["/50", "").
  const { deps, calls } = fakeDeps([rangeInfo(1, "/50", "")]);
  new SplitQueue(deps).check();
  const split = deps.migrations.list();
  assert.equal(split.length, 1);
  assert.equal(split[0].kind, "split");
  assert.equal(text(split[0].key), "_/");
  assert.deepEqual(calls.map((c) => c.op), ["allocateRangeId"]);
});

Deno.test("SplitQueue.check() leaves range 1 alone once it starts at _/", () => {
  const { deps, calls } = fakeDeps([rangeInfo(1, "_/", "")]);
  new SplitQueue(deps).check();
  assert.equal(deps.migrations.list().length, 0);
  assert.equal(calls.length, 0);
});

Deno.test("MetaSync.check() removes the meta record of a range merged away here that the copy still names", () => {
  const { deps, calls } = fakeDeps([], {
    mergedAway: () => [7, 8],
    // Range 8's record was removed already (by its merge's coordinator).
    metaGeneration: (id: number) => id === 7 ? 4 : undefined,
  });
  new MetaSync(deps).check();
  assert.equal(calls.length, 1);
  assert.equal(calls[0].op, "updateMeta");
  assert.deepEqual(calls[0].descriptors, []);
  assert.deepEqual(calls[0].removed!.map((d) => Number(d.rangeId)), [7]);
  assert.ok(
    calls[0].removed![0].generation > 4n,
    "the removal's generation is above any the record had",
  );
});

Deno.test("MetaSync.check() proposes nothing when the meta copy is up to date", () => {
  const led = [rangeInfo(3, "/a", "/m", 5)];
  const { deps, calls } = fakeDeps(led, {
    mergedAway: () => [7],
    metaGeneration: (id) => id === 3 ? 5 : undefined,
  });
  new MetaSync(deps).check();
  assert.equal(calls.length, 0);
});

function frozenReplica(rangeId: number, into: number) {
  const d = newDescriptor({
    rangeId,
    start: b("/a"),
    end: b("/m"),
    generation: 3,
    voters: [1, 2, 3],
  });
  return {
    rangeId,
    frozen: true,
    destroyed: false,
    descriptor: d,
    applied: { frozenIntoRangeId: BigInt(into) },
  } as unknown as Replica;
}

function gcWith(replica: Replica, answer: (node: number) => Promise<number>) {
  const clock = new ManualClock({ now: 1_000_000 });
  const asked: number[] = [];
  const destroyed: [number, number][] = [];
  const gc = new MergedReplicaGc({
    nodeId: 1,
    clock,
    logger: createLogger({ level: "error", sink: () => {} }),
    router: {
      waitApplied: (node: number) => {
        asked.push(node);
        return answer(node);
      },
    } as unknown as ClusterRouter,
    replicas: () => [replica],
    destroy: (r, into) => destroyed.push([r.rangeId, into]),
  });
  return { gc, clock, asked, destroyed };
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

Deno.test("MergedReplicaGc.check() destroys a replica frozen for long when a member merged it away into the same range", async () => {
  const r = frozenReplica(4, 5);
  const { gc, clock, asked, destroyed } = gcWith(
    r,
    (node) =>
      node === 2
        ? Promise.reject(new RangeDbError(ErrorCode.UNAVAILABLE, "Cannot reach node 2"))
        : Promise.reject(
          new RangeDbError(ErrorCode.RANGE_NOT_FOUND, "merged", {
            details: { rangeId: 4, mergedIntoRangeId: 5 },
          }),
        ),
  );
  gc.check();
  clock.advance(ORPHAN_CHECK_MS - 1);
  gc.check();
  await settle();
  assert.deepEqual(asked, [], "not frozen long enough");
  clock.advance(1);
  gc.check();
  await settle();
  assert.deepEqual(asked, [2, 3], "an unreachable member proves nothing; the next one is asked");
  assert.deepEqual(destroyed, [[4, 5]]);
});

Deno.test("MergedReplicaGc.check() keeps a frozen replica its members still hold", async () => {
  const r = frozenReplica(4, 5);
  const { gc, clock, asked, destroyed } = gcWith(r, () => Promise.resolve(12));
  gc.check();
  clock.advance(ORPHAN_CHECK_MS);
  gc.check();
  await settle();
  assert.deepEqual(asked, [2, 3]);
  assert.deepEqual(destroyed, []);
  // A member that merged it into another range than the one it is frozen into proves nothing.
  const other = gcWith(r, () =>
    Promise.reject(
      new RangeDbError(ErrorCode.RANGE_NOT_FOUND, "merged", {
        details: { rangeId: 4, mergedIntoRangeId: 9 },
      }),
    ));
  other.gc.check();
  other.clock.advance(ORPHAN_CHECK_MS);
  other.gc.check();
  await settle();
  assert.deepEqual(other.destroyed, []);
});
