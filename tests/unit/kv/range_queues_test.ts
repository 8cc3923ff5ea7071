import assert from "node:assert/strict";
import { newDescriptor } from "../../../src/kv/command.ts";
import type { RangeInfo } from "../../../src/kv/kv_store.ts";
import { isCold, mergeWanted } from "../../../src/kv/merge_queue.ts";
import { infoOfDescriptor } from "../../../src/kv/range_split.ts";
import { LOAD_SPLIT_SUSTAIN_MS, splitReason } from "../../../src/kv/split_queue.ts";

const MIB = 1024 * 1024;
const settings = {
  maxBytes: 64 * MIB,
  minBytes: 16 * MIB,
  maxKeys: 1_000_000,
  splitQps: 2500,
  mergeDelayMs: 300_000,
};

function range(stats: Partial<RangeInfo>): RangeInfo {
  const d = newDescriptor({
    rangeId: 5,
    start: new TextEncoder().encode("/a"),
    end: new TextEncoder().encode("/z"),
    generation: 3,
    voters: [1, 2, 3],
  });
  return { ...infoOfDescriptor(d), local: true, ...stats };
}

Deno.test("splitReason() splits by size, then key count, then sustained load", () => {
  const now = 1_000_000;
  assert.equal(splitReason(range({ liveBytes: 64 * MIB }), settings, undefined, now), undefined);
  assert.equal(splitReason(range({ liveBytes: 64 * MIB + 1 }), settings, undefined, now), "size");
  assert.equal(splitReason(range({ liveKeys: 1_000_001 }), settings, undefined, now), "keys");
  const hot = range({ liveKeys: 10, writesPerSecond: 3000 });
  assert.equal(splitReason(hot, settings, now - LOAD_SPLIT_SUSTAIN_MS + 1, now), undefined);
  assert.equal(splitReason(hot, settings, now - LOAD_SPLIT_SUSTAIN_MS, now), "load");
  assert.equal(
    splitReason(hot, { ...settings, splitQps: 0 }, now - LOAD_SPLIT_SUSTAIN_MS, now),
    undefined,
    "0 disables load splits",
  );
  assert.equal(
    splitReason(range({ liveKeys: 1 }), settings, now - LOAD_SPLIT_SUSTAIN_MS, now),
    undefined,
    "a single key cannot be split",
  );
});

Deno.test("mergeWanted() keeps a merged range at most half the split size (no flapping)", () => {
  const small = range({ liveBytes: 10 * MIB, liveKeys: 100 });
  assert.equal(mergeWanted(small, small, settings), true);
  assert.equal(mergeWanted(small, range({ liveBytes: 16 * MIB }), settings), false);
  assert.equal(
    mergeWanted(range({ liveBytes: 15 * MIB }), range({ liveBytes: 15 * MIB + 1 }), settings),
    true,
  );
  // A merged pair never passes the split threshold, whatever the settings allow.
  const wide = { ...settings, minBytes: 40 * MIB };
  assert.equal(
    mergeWanted(range({ liveBytes: 30 * MIB }), range({ liveBytes: 3 * MIB }), wide),
    false,
  );
  assert.equal(
    mergeWanted(range({ liveKeys: 300_000 }), range({ liveKeys: 200_000 }), settings),
    false,
  );
});

Deno.test("isCold() is a tenth of the load-split rate", () => {
  assert.equal(isCold(range({ writesPerSecond: 249 }), settings), true);
  assert.equal(isCold(range({ writesPerSecond: 250 }), settings), false);
  assert.equal(isCold(range({ writesPerSecond: 0.5 }), { ...settings, splitQps: 0 }), true);
});
