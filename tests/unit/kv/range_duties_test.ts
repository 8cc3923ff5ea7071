import assert from "node:assert/strict";
import { ManualClock } from "../../../src/base/clock.ts";
import { createLogger } from "../../../src/base/logger.ts";
import { newDescriptor } from "../../../src/kv/command.ts";
import type { RangeInfo } from "../../../src/kv/kv_store.ts";
import { LeaderInfos } from "../../../src/kv/leader_infos.ts";
import { MergeQueue } from "../../../src/kv/merge_queue.ts";
import { MetaSync } from "../../../src/kv/meta_sync.ts";
import { Migrations } from "../../../src/kv/migrations.ts";
import { RateCounter } from "../../../src/kv/rate_counter.ts";
import type { RangeQueueDeps } from "../../../src/kv/range_queue_deps.ts";
import { infoOfDescriptor } from "../../../src/kv/range_split.ts";
import type { Replica } from "../../../src/kv/replica.ts";
import { LOAD_SPLIT_SUSTAIN_MS, SplitQueue } from "../../../src/kv/split_queue.ts";

const enc = new TextEncoder();
const MIB = 1024 * 1024;

/** Range `id` over `[start, end)` as its leader lists it. */
function info(id: number, start: string, end: string, extra: Partial<RangeInfo> = {}): RangeInfo {
  const d = newDescriptor({
    rangeId: id,
    start: enc.encode(start),
    end: enc.encode(end),
    generation: 1,
    voters: [1, 2, 3],
  });
  return { ...infoOfDescriptor(d), leaderNodeId: 1, local: true, ...extra };
}

/**
 * The duties' view of a store that leads `led` (settable between checks); merges and splits stop
 * at their first step, which the test records.
 */
function fakeDeps(clock: ManualClock) {
  const state = {
    led: [] as RangeInfo[],
    /** Ranges a merge was attempted for, with the time. */
    merges: [] as [number, number][],
    /** Ranges whose middle key a split asked for, with the time. */
    splits: [] as [number, number][],
  };
  const deps = {
    nodeId: 1,
    clock,
    logger: createLogger({ level: "error", sink: () => {} }),
    migrations: new Migrations(),
    commands: {} as RangeQueueDeps["commands"],
    router: {} as RangeQueueDeps["router"],
    leaders: () => state.led,
    settings: () => ({
      maxBytes: 64 * MIB,
      minBytes: 16 * MIB,
      maxKeys: 1_000_000,
      splitQps: 2500,
      mergeDelayMs: 5000,
    }),
    lookup: (key: Uint8Array) => {
      const found = state.led.find((r) =>
        new TextDecoder().decode(r.start) === new TextDecoder().decode(key)
      );
      if (found === undefined) throw new Error("not found");
      return found;
    },
    rangeById: (rangeId: number) => {
      state.merges.push([rangeId, clock.now()]);
      return undefined; // the merge stops here: NOT_FOUND
    },
    middleKey: (rangeId: number) => {
      state.splits.push([rangeId, clock.now()]);
      return Promise.resolve(undefined); // the split stops here
    },
    metaGeneration: () => undefined,
  } as RangeQueueDeps;
  return { deps, state };
}

/** Lets the queue's finished attempt clear its running flag. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("MergeQueue.check() counts the merge delay from when a range was first led here", async () => {
  const clock = new ManualClock({ now: 1_000_000 });
  const { deps, state } = fakeDeps(clock);
  const queue = new MergeQueue(deps);
  const n = info(5, "/a", "/b");
  const r = info(6, "/b", "/c");
  state.led = [n, r];
  for (let t = 0; t < 5; t++) {
    queue.check();
    clock.advance(1000);
  }
  assert.equal(state.merges.length, 0, "not before the merge delay");
  queue.check();
  await settle();
  assert.deepEqual(state.merges.map(([id]) => id), [5]);

  // Range 5 is led elsewhere for one check: when it comes back its delay starts again.
  state.merges = [];
  state.led = [r];
  queue.check();
  await settle();
  state.led = [n, r];
  clock.advance(1000);
  for (let t = 0; t < 5; t++) {
    queue.check();
    await settle();
    clock.advance(1000);
  }
  assert.equal(state.merges.length, 0, "a range led here again waits the whole delay");
  queue.check();
  await settle();
  assert.deepEqual(state.merges.map(([id]) => id), [5]);

  // A write rate over a tenth of the load-split rate makes it hot: it must cool for a fifth of
  // the delay again.
  state.merges = [];
  state.led = [info(5, "/a", "/b", { writesPerSecond: 300 }), r];
  queue.check();
  state.led = [n, r];
  clock.advance(1000);
  queue.check(); // cold from here
  clock.advance(999);
  queue.check();
  await settle();
  assert.equal(state.merges.length, 0, "cold for under a fifth of the delay");
  clock.advance(1);
  queue.check();
  await settle();
  assert.deepEqual(state.merges.map(([id]) => id), [5]);
});

Deno.test("SplitQueue.check() splits after 10 s of load, and a cooled range starts over", async () => {
  const clock = new ManualClock({ now: 1_000_000 });
  const { deps, state } = fakeDeps(clock);
  const queue = new SplitQueue(deps);
  const hot = info(5, "/a", "/b", { writesPerSecond: 3000, liveKeys: 10 });
  const cold = info(5, "/a", "/b", { writesPerSecond: 10, liveKeys: 10 });
  const other = info(6, "/b", "/c");
  const step = async (led: RangeInfo[], ms: number) => {
    state.led = led;
    queue.check();
    await settle();
    clock.advance(ms);
  };
  await step([hot, other], LOAD_SPLIT_SUSTAIN_MS - 1000);
  await step([hot, other], 999);
  await step([hot, other], 1);
  assert.equal(state.splits.length, 0, "hot for under 10 s");
  await step([hot, other], 0);
  assert.deepEqual(state.splits.map(([id]) => id), [5]);

  state.splits = [];
  await step([cold, other], 1000);
  for (let t = 0; t <= LOAD_SPLIT_SUSTAIN_MS / 1000; t++) await step([hot, other], 1000);
  assert.deepEqual(state.splits.map(([id]) => id), [5], "split again after a new 10 s streak");
  const [, at] = state.splits[0];
  assert.equal(at, 1_000_000 + 2 * LOAD_SPLIT_SUSTAIN_MS + 1000, "the streak began after cooling");

  // Not led here for one check: the streak is forgotten as well.
  state.splits = [];
  await step([other], 1000);
  for (let t = 0; t <= LOAD_SPLIT_SUSTAIN_MS / 1000; t++) await step([hot, other], 1000);
  assert.equal(state.splits.length, 1);
  assert.equal(state.splits[0][1], clock.now() - 1000);
});

Deno.test("MetaSync.check() looks up each led range once, again after it was led elsewhere", async () => {
  const clock = new ManualClock({ now: 1_000_000 });
  const { deps, state } = fakeDeps(clock);
  const looked: number[] = [];
  const updated: number[][] = [];
  deps.metaGeneration = (rangeId) => {
    looked.push(rangeId);
    return rangeId === 5 ? 1 : undefined; // range 6's meta copy is missing
  };
  deps.commands = {
    updateMeta: (ds: { rangeId: bigint }[]) => {
      updated.push(ds.map((d) => Number(d.rangeId)));
      return Promise.resolve();
    },
  } as unknown as RangeQueueDeps["commands"];
  const sync = new MetaSync(deps);
  state.led = [info(5, "/a", "/b"), info(6, "/b", "/c")];
  sync.check();
  await settle();
  assert.deepEqual([looked, updated], [[5, 6], [[6]]]);
  sync.check();
  await settle();
  assert.deepEqual([looked, updated], [[5, 6], [[6]]], "both are synced now");
  state.led = [info(6, "/b", "/c")];
  sync.check();
  state.led = [info(5, "/a", "/b"), info(6, "/b", "/c")];
  sync.check();
  await settle();
  assert.deepEqual(looked, [5, 6, 5], "range 5 was forgotten while led elsewhere");
});

/** A replica as {@linkcode LeaderInfos} reads it. */
function fakeReplica(rangeId: number) {
  const d = newDescriptor({
    rangeId,
    start: enc.encode(`/${rangeId}`),
    end: enc.encode(`/${rangeId + 1}`),
    generation: 1,
    voters: [1, 2, 3],
  });
  let hard = { term: 2, vote: 1, commit: 10 };
  return {
    rangeId,
    isLeader: true,
    destroyed: false,
    lead: 1,
    term: 2,
    applied: { descriptor: d, appliedIndex: 10n },
    get descriptor() {
      return this.applied.descriptor;
    },
    writes: new RateCounter(),
    storage: { hardState: () => hard },
    setHard(next: typeof hard) {
      hard = next;
    },
  };
}

Deno.test("LeaderInfos.list() rebuilds only the infos of replicas that changed", () => {
  const clock = new ManualClock({ now: 1_000_000 });
  const replicas = [fakeReplica(2), fakeReplica(3), fakeReplica(4)];
  replicas[2].isLeader = false;
  let built = 0;
  const infos = new LeaderInfos({
    replicas: () => replicas as unknown as Replica[],
    rangeInfo: (r) => {
      built++;
      return {
        ...info(r.rangeId, "/x", "/y"),
        appliedIndex: Number(r.applied!.appliedIndex),
        commitIndex: r.storage.hardState().commit,
        writesPerSecond: r.writes.perSecond(clock.now()),
      };
    },
    now: () => clock.now(),
  });
  const first = infos.list();
  assert.deepEqual(first.map((i) => i.rangeId), [2, 3], "followers are left out");
  assert.equal(built, 2);
  const again = infos.list();
  assert.equal(built, 2, "quiet replicas keep their info");
  assert.equal(again[0], first[0]);
  assert.ok(Object.isFrozen(again[0]), "a shared info cannot be changed by a caller");

  replicas[0].applied = { ...replicas[0].applied, appliedIndex: 11n };
  replicas[1].setHard({ term: 2, vote: 1, commit: 11 });
  const changed = infos.list();
  assert.equal(built, 4, "a new applied state or hard state rebuilds the info");
  assert.equal(changed[0].appliedIndex, 11);
  assert.equal(changed[1].commitIndex, 11);
  replicas[0].lead = 3;
  replicas[1].term = 3;
  infos.list();
  assert.equal(built, 6, "a new leader or term rebuilds the info");

  replicas[0].writes.add(clock.now(), 50);
  const busy = infos.list();
  assert.equal(built, 6, "a write rate alone does not rebuild");
  assert.equal(busy[0].writesPerSecond, 5);
  assert.equal(busy[0].appliedIndex, 11);
  clock.advance(10_000);
  assert.equal(infos.list()[0].writesPerSecond, 0, "the rate decays while nothing changes");

  let lists: (readonly RangeInfo[])[] = [];
  infos.duringTick(() => lists = [infos.list(), infos.list()]);
  assert.equal(lists[0], lists[1], "the duties of one tick share one list");
  assert.notEqual(infos.list(), lists[0], "the next tick reads again");
});

Deno.test("RateCounter.perSecond() of an idle counter is 0 exactly from 10 s after its last event", () => {
  const rate = new RateCounter();
  assert.equal(rate.perSecond(5_000), 0);
  rate.add(100_300, 10);
  assert.equal(rate.perSecond(109_999), 1);
  assert.equal(rate.perSecond(110_000), 0);
  assert.equal(rate.perSecond(50_000), 0, "a clock behind every event counts none");
  rate.add(90_000, 10);
  assert.equal(rate.perSecond(99_999), 1, "asked before the latest event, the earlier one counts");
});
