import assert from "node:assert/strict";
import { MAX_TIMESTAMP } from "../../../src/base/key_encoding.ts";
import { mvccGet } from "../../../src/mvcc/mod.ts";
import {
  copyAppliedState,
  decodeDedupe,
  encodeAppliedState,
  type RangeAppliedState,
} from "../../../src/kv/command.ts";
import {
  DEDUPE_RETENTION_MS,
  DEDUPE_SWEEP_RECORDS,
  dedupeRecordKey,
} from "../../../src/kv/dedupe.ts";
import type { Entry } from "../../../src/raft/mod.ts";
import type { Engine } from "../../../src/storage/mod.ts";
import { b, s } from "./_cluster.ts";
import {
  type Body,
  dumpKeyspace,
  entry,
  MIN,
  put,
  rangeState,
  TestRange,
  withEngines,
} from "./_apply.ts";

const T = 100 * MIN;

const split = (key: string, newRangeId: number, gen: number): Body => ({
  case: "split",
  value: { splitKey: b(key), newRangeId: BigInt(newRangeId), expectedGeneration: BigInt(gen) },
});

function valueOf(engine: Engine, key: string): string | undefined {
  const r = mvccGet(engine, b(key), MAX_TIMESTAMP);
  return r.status === "found" ? s(r.value) : undefined;
}

Deno.test("applyEntries() answers a write retried after a split from the record that moved with its key, and the parent does not read it", async () => {
  await withEngines(1, async ([engine]) => {
    const parent = new TestRange(engine, rangeState(7, "/", ""));
    const [first] = await parent.apply([
      entry(2, T, put("/c", "first"), "req-1"),
      entry(3, T, split("/m", 9, 1)),
    ]);
    const left = new TestRange(engine, parent.created[0].applied);
    // The client's retry reaches the new range: answered from the record, not applied again.
    const [retried] = await left.apply([entry(11, T + 1, put("/c", "second"), "req-1")]);
    assert.deepEqual(retried, first);
    assert.equal(valueOf(engine, "/c"), "first");
    // A copy of it still in the parent's log is refused before any record is read: a command
    // for keys outside the range must not see another range's records.
    const [stale] = await parent.apply([entry(4, T + 2, put("/c", "third"), "req-1")]);
    assert.equal(stale.errorCode, "RANGE_MOVED");
    assert.equal(valueOf(engine, "/c"), "first");
  });
});

Deno.test("applyEntries() answers a write retried after a merge from the subsumed range's record", async () => {
  await withEngines(1, async ([engine]) => {
    const n = new TestRange(engine, rangeState(4, "/a", "/m", 3));
    const [first, frozen] = await n.apply([
      entry(2, T, put("/c", "first"), "req-2"),
      entry(3, T, { case: "subsume", value: { intoRangeId: 5n, expectedGeneration: 3n } }),
    ]);
    const r = new TestRange(engine, rangeState(5, "/m", "/z", 7));
    r.local.set(4, copyAppliedState(n.st));
    await r.apply([
      entry(2, T, {
        case: "merge",
        value: {
          subsumed: frozen.descriptors[0],
          subsumedAppliedIndex: frozen.appliedIndex,
          subsumedLastVersion: frozen.lastVersion,
          subsumedStats: frozen.stats,
          expectedGeneration: 7n,
        },
      }),
    ]);
    const [retried] = await r.apply([entry(3, T + 1, put("/c", "second"), "req-2")]);
    assert.deepEqual(retried, first);
    assert.equal(valueOf(engine, "/c"), "first");
  });
});

/**
 * A log of request-id writes spread over 40 minutes of versions (four times the retention), on
 * 40 keys, so that sweeps run many steps of 64 records each while new records keep arriving in
 * the same batches.
 */
function sweepLog(): Entry[] {
  const log: Entry[] = [];
  let index = 2;
  for (let i = 0; i < 600; i++) {
    const wallMs = T + i * 4000;
    const key = `/k${String(i % 40).padStart(2, "0")}`;
    log.push(entry(index++, wallMs, put(key, `v${i}`), `req-${i}`));
    // Every third write retries an earlier request id: answered from its record while it lives.
    if (i % 3 === 0 && i > 10) {
      const j = i - 7;
      const old = `/k${String(j % 40).padStart(2, "0")}`;
      log.push(entry(index++, wallMs, put(old, `retry${j}`), `req-${j}`));
    }
  }
  return log;
}

function appliedSummary(st: RangeAppliedState): string {
  return JSON.stringify(Array.from(encodeAppliedState(st)));
}

Deno.test("sweepDedupe() is deterministic: replicas applying the same log in different batches keep identical records and applied states", async () => {
  const log = sweepLog();
  await withEngines(3, async (engines) => {
    const ranges = engines.map((e) => new TestRange(e, rangeState(3, "/", "")));
    await ranges[0].apply(log, 1);
    await ranges[1].apply(log, 7);
    await ranges[2].apply(log, 250);
    const dumps = engines.map((e) => dumpKeyspace(e, "dedupe"));
    assert.deepEqual(dumps[1], dumps[0]);
    assert.deepEqual(dumps[2], dumps[0]);
    assert.deepEqual(engines.map((e) => dumpKeyspace(e, "data")).slice(1), [
      dumpKeyspace(engines[0], "data"),
      dumpKeyspace(engines[0], "data"),
    ]);
    assert.equal(appliedSummary(ranges[1].st), appliedSummary(ranges[0].st));
    assert.equal(appliedSummary(ranges[2].st), appliedSummary(ranges[0].st));
    assert.deepEqual(ranges[1].results, ranges[0].results);

    // The sweep keeps what is within the retention and dropped most of the rest.
    const last = ranges[0].st.lastVersion;
    const cutoff = last - (BigInt(DEDUPE_RETENTION_MS) << 16n);
    let kept = 0;
    let expired = 0;
    for (const { value } of engines[0].scan("dedupe")) {
      kept++;
      if (decodeDedupe(value).version < cutoff) expired++;
    }
    assert.ok(kept < 600 / 2, `most expired records are gone (${kept} left)`);
    assert.ok(kept > DEDUPE_SWEEP_RECORDS, "records within the retention stay");
    assert.ok(expired < kept, "expired records left are only those the sweep has not reached");
    for (let i = 600 - 100; i < 600; i++) {
      const key = dedupeRecordKey(b(`/k${String(i % 40).padStart(2, "0")}`), `req-${i}`);
      assert.notEqual(engines[0].get("dedupe", key), undefined, `req-${i} is within retention`);
    }
  });
});
