import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ErrorCode, isRangeDbError, RangeDbError } from "../../../src/base/errors.ts";
import { compareBytes } from "../../../src/base/key_encoding.ts";
import type { KvStore, RangeInfo, VersionedValue } from "../../../src/kv/kv_store.ts";
import type { KvHandlers } from "../../../src/rpc/kv_handlers.ts";
import {
  keyJustBelow,
  RANGE_CHUNK_SIZE,
  RANGE_PART_BUDGET_MS,
  rangePage,
} from "../../../src/rpc/kv_range_scan.ts";
import { RangeRequestSchema } from "../../../proto/gen/rangedb/v1/kv_pb.ts";
import { fakeStore } from "./_grpc_fixture.ts";
import { rangeInfo, withNodes } from "./_cluster_fixture.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const END = enc.encode("0"); // the end of the user keyspace

/**
 * A store's scan as the KvStore contract describes it over `data`, serving only the spans in
 * `covered`: where no span covers the scan's position it throws RANGE_NOT_FOUND with
 * `details.key` (forward: the first uncovered key; reverse: the exclusive end of the uncovered
 * part), after yielding everything before it.
 */
function coveredScan(data: string[], covered: RangeInfo[]): KvStore["scan"] {
  const keys = data.map((k) => enc.encode(k)).sort(compareBytes);
  const endOf = (r: RangeInfo) => r.end.length === 0 ? END : r.end;
  return (start, end, options = {}) =>
    (async function* (): AsyncGenerator<VersionedValue[]> {
      const hi = end.length === 0 ? END : end;
      const chunk = options.chunkSize ?? 1000;
      let left = options.limit && options.limit > 0 ? options.limit : Infinity;
      const emit = function* (part: Uint8Array[]) {
        for (let i = 0; i < part.length && left > 0; i += chunk) {
          const slice = part.slice(i, Math.min(i + chunk, i + left));
          left -= slice.length;
          yield slice.map((key) => ({
            key,
            value: enc.encode(`v${dec.decode(key)}`),
            version: 1n,
          }));
        }
      };
      if (!options.reverse) {
        let at = start;
        while (compareBytes(at, hi) < 0 && left > 0) {
          const r = covered.find((c) =>
            compareBytes(c.start, at) <= 0 && compareBytes(at, endOf(c)) < 0
          );
          if (r === undefined) {
            throw new RangeDbError(ErrorCode.RANGE_NOT_FOUND, "Cannot scan as no replica here", {
              details: { key: at },
            });
          }
          const stop = compareBytes(endOf(r), hi) < 0 ? endOf(r) : hi;
          yield* emit(keys.filter((k) => compareBytes(k, at) >= 0 && compareBytes(k, stop) < 0));
          at = stop;
        }
      } else {
        let at = hi;
        while (compareBytes(start, at) < 0 && left > 0) {
          const r = covered.find((c) =>
            compareBytes(c.start, at) < 0 && compareBytes(at, endOf(c)) <= 0
          );
          if (r === undefined) {
            throw new RangeDbError(ErrorCode.RANGE_NOT_FOUND, "Cannot scan as no replica here", {
              details: { key: at },
            });
          }
          const stop = compareBytes(r.start, start) > 0 ? r.start : start;
          yield* emit(
            keys.filter((k) => compareBytes(k, stop) >= 0 && compareBytes(k, at) < 0).reverse(),
          );
          at = stop;
        }
      }
    })();
}

/** /a…/f (6 keys), /g000…/g599 (600 keys), /q…/z (10 keys). */
const DATA = [
  ..."abcdef".split("").map((c) => `/${c}`),
  ...Array.from({ length: 600 }, (_, i) => `/g${String(i).padStart(3, "0")}`),
  ..."qrstuvwxyz".split("").map((c) => `/${c}`),
];
const A = rangeInfo(2, "", "/g", { local: true, leaderNodeId: 1 });
const B = rangeInfo(3, "/g", "/p", { leaderNodeId: 2, voters: [2, 3] });
const C = rangeInfo(4, "/p", "_/", { local: true, leaderNodeId: 1 });

function lookupIn(ranges: RangeInfo[]): KvStore["lookupRange"] {
  return (key) => {
    const r = ranges.find((c) => compareBytes(c.start, key) <= 0 && compareBytes(key, c.end) < 0);
    if (r === undefined) throw new RangeDbError(ErrorCode.RANGE_NOT_FOUND, "Cannot find range");
    return r;
  };
}

/** Node 1 holds A and C, nodes 2 and 3 hold B. */
function scripts(node2: Partial<KvStore> = {}) {
  return {
    1: { scan: coveredScan(DATA, [A, C]), lookupRange: lookupIn([A, B, C]) },
    2: { scan: coveredScan(DATA, [B]), ...node2 },
    3: { scan: coveredScan(DATA, [B]) },
  };
}

async function collect(
  kv: KvHandlers,
  fields: { start?: string; end?: string; limit?: number; reverse?: boolean } = {},
): Promise<string[]> {
  const req = create(RangeRequestSchema, {
    start: enc.encode(fields.start ?? ""),
    end: enc.encode(fields.end ?? ""),
    limit: fields.limit ?? 0,
    reverse: fields.reverse ?? false,
  });
  const out: string[] = [];
  for await (const chunk of kv.range(req, { deadline: Date.now() + 3_000, forwarded: false })) {
    for (const kv of chunk.kvs) {
      assert.equal(dec.decode(kv.value), `v${dec.decode(kv.key)}`);
      out.push(dec.decode(kv.key));
    }
  }
  return out;
}

Deno.test("KvHandlers.range() reads a part held elsewhere page by page and goes on locally", async () => {
  await withNodes(scripts(), async (c) => {
    assert.deepEqual(await collect(c.node(1).kv), DATA);
    assert.deepEqual(c.received(), ["2:RangePage", "2:RangePage", "2:RangePage"]);
  });
});

Deno.test("KvHandlers.range() honours a limit that ends inside a remote part", async () => {
  await withNodes(scripts(), async (c) => {
    assert.deepEqual(await collect(c.node(1).kv, { limit: 16 }), DATA.slice(0, 16));
    assert.deepEqual(c.received(), ["2:RangePage"]);
    assert.deepEqual(await collect(c.node(1).kv, { limit: 6 }), DATA.slice(0, 6));
    assert.deepEqual(c.received(), ["2:RangePage"], "no page once the limit is reached");
  });
});

Deno.test("KvHandlers.range() reads in reverse across a remote part", async () => {
  await withNodes(scripts(), async (c) => {
    assert.deepEqual(await collect(c.node(1).kv, { reverse: true }), [...DATA].reverse());
    assert.deepEqual(
      await collect(c.node(1).kv, { reverse: true, limit: 20 }),
      [...DATA].reverse().slice(0, 20),
    );
    assert.deepEqual(
      await collect(c.node(1).kv, { start: "/c", end: "/g010", reverse: true }),
      DATA.slice(2, 16).reverse(),
    );
  });
});

Deno.test("KvHandlers.range() starts in a remote part and bounds it by the scan's end", async () => {
  await withNodes(scripts(), async (c) => {
    assert.deepEqual(await collect(c.node(1).kv, { start: "/g590", end: "/r" }), [
      ...DATA.slice(596, 606),
      "/q",
    ]);
    assert.deepEqual(await collect(c.node(1).kv, { start: "/g100", end: "/g103" }), [
      "/g100",
      "/g101",
      "/g102",
    ]);
  });
});

Deno.test("KvHandlers.range() tries the part's next replica when one cannot serve it", async () => {
  const unavailable = () => {
    throw new RangeDbError(ErrorCode.UNAVAILABLE, "Cannot scan: no quorum");
  };
  await withNodes(scripts({ scan: unavailable }), async (c) => {
    assert.deepEqual(await collect(c.node(1).kv), DATA);
    assert.ok(c.received().includes("2:RangePage"));
    assert.deepEqual(c.node(3).received, ["RangePage", "RangePage", "RangePage"]);
  });
});

Deno.test("KvHandlers.range() fails with UNAVAILABLE when no node serves a remote part in time", async () => {
  const unavailable = () => {
    throw new RangeDbError(ErrorCode.UNAVAILABLE, "Cannot scan: no quorum");
  };
  await withNodes({ ...scripts({ scan: unavailable }), 3: { scan: unavailable } }, async (c) => {
    const req = create(RangeRequestSchema, {});
    const seen: string[] = [];
    const started = Date.now();
    await assert.rejects(
      (async () => {
        for await (
          const chunk of c.node(1).kv.range(req, { deadline: started + 500, forwarded: false })
        ) {
          seen.push(...chunk.kvs.map((kv) => dec.decode(kv.key)));
        }
      })(),
      (err) =>
        isRangeDbError(err, ErrorCode.UNAVAILABLE) &&
        /^Cannot scan as no node holding range 3 served \/g\.\.\/p: /.test(err.message),
    );
    assert.deepEqual(seen, DATA.slice(0, 6));
    assert.ok(Date.now() - started < 500);
  });
});

Deno.test("rangePage() serves one page and says where the part continues", async () => {
  const store = fakeStore({ scan: coveredScan(DATA, [B]) });
  const page = (fields: { start: string; end: string; limit?: number; reverse?: boolean }) =>
    rangePage(
      store,
      create(RangeRequestSchema, {
        start: enc.encode(fields.start),
        end: enc.encode(fields.end),
        limit: fields.limit ?? 0,
        reverse: fields.reverse ?? false,
      }),
      Date.now() + 1_000,
      { maxKeyBytes: 4096, maxValueBytes: 1 << 23 },
    );
  const full = await page({ start: "/g", end: "/p" });
  assert.equal(full.kvs.length, RANGE_CHUNK_SIZE);
  assert.deepEqual([full.more, dec.decode(full.resumeKey)], [true, "/g255\0"]);
  const last = await page({ start: "/g500", end: "/p" });
  assert.deepEqual([last.kvs.length, last.more], [100, false]);
  const limited = await page({ start: "/g", end: "/p", limit: 3 });
  assert.deepEqual([limited.kvs.length, limited.more], [3, true]);
  const back = await page({ start: "/g", end: "/g010", reverse: true, limit: 4 });
  assert.deepEqual(back.kvs.map((kv) => dec.decode(kv.key)), ["/g009", "/g008", "/g007", "/g006"]);
  assert.equal(dec.decode(back.resumeKey), "/g006");
  // Past the part this node holds: the page stops where its replica does.
  const beyond = await page({ start: "/g590", end: "/z" });
  assert.deepEqual([beyond.kvs.length, beyond.more, dec.decode(beyond.resumeKey)], [
    10,
    true,
    "/p",
  ]);
  await assert.rejects(
    page({ start: "/q", end: "/z" }),
    (err) => isRangeDbError(err, ErrorCode.RANGE_NOT_FOUND),
  );
});

Deno.test("keyJustBelow() finds the range that ends at a key", () => {
  const cases: [number[], number, number[]][] = [
    [[0x2f, 0x62, 0x00], 8, [0x2f, 0x62]],
    [[0x2f, 0x62], 4, [0x2f, 0x61, 0xff, 0xff]],
    [[0x30], 2, [0x2f, 0xff]],
  ];
  for (const [key, max, want] of cases) {
    assert.deepEqual([...keyJustBelow(Uint8Array.from(key), max)], want);
  }
  // Every start of at most 4 bytes below /b sorts at or before the probe.
  const probe = keyJustBelow(enc.encode("/b"), 4);
  for (
    const start of [[0x2f, 0x61], [0x2f, 0x61, 0xff, 0xff], [0x2f, 0x61, 0x7e, 0x7e], [0x2f], []]
  ) {
    assert.ok(compareBytes(Uint8Array.from(start), probe) <= 0, start.join(","));
  }
});

Deno.test("KvHandlers.range() renews the budget of later parts only for calls without a deadline", async () => {
  const deadlines: number[] = [];
  const partBudgets: (number | undefined)[] = [];
  const scan = coveredScan(DATA, [A, C]);
  await withNodes({
    ...scripts(),
    1: {
      lookupRange: lookupIn([A, B, C]),
      scan: (start, end, options) => {
        deadlines.push(options?.deadline ?? 0);
        partBudgets.push(options?.partBudgetMs);
        return scan(start, end, options);
      },
    },
  }, async (c) => {
    for (const defaultDeadline of [false, true]) {
      deadlines.length = 0;
      partBudgets.length = 0;
      const started = Date.now();
      const req = create(RangeRequestSchema, {});
      const ctx = { deadline: started + 1_000, forwarded: false, defaultDeadline };
      let n = 0;
      for await (const chunk of c.node(1).kv.range(req, ctx)) n += chunk.kvs.length;
      assert.equal(n, DATA.length);
      assert.equal(deadlines.length, 2, "A, then C after the remote part");
      assert.ok(deadlines[0] <= started + 1_000);
      if (defaultDeadline) assert.ok(deadlines[1] >= started + 4_000, "renewed");
      else assert.equal(deadlines[1], deadlines[0]);
      // The store's local parts after the first renew theirs too (a store scan may cover several).
      assert.deepEqual(
        partBudgets,
        defaultDeadline ? [RANGE_PART_BUDGET_MS * 0.9, RANGE_PART_BUDGET_MS * 0.9] : [
          undefined,
          undefined,
        ],
      );
    }
  });
});
