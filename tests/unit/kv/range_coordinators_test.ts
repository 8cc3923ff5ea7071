import assert from "node:assert/strict";
import { ErrorCode, isRangeDbError, RangeDbError } from "../../../src/base/errors.ts";
import { compareBytes } from "../../../src/base/key_encoding.ts";
import { createLogger } from "../../../src/base/logger.ts";
import { type Clock, SystemClock } from "../../../src/base/clock.ts";
import type { ClusterRouter } from "../../../src/kv/cluster_router.ts";
import {
  decodeCommand,
  encodeResult,
  newDescriptor,
  newResult,
  type RangeDescriptor,
} from "../../../src/kv/command.ts";
import type { RangeInfo } from "../../../src/kv/kv_store.ts";
import { Migrations } from "../../../src/kv/migrations.ts";
import { RangeCommands } from "../../../src/kv/range_commands.ts";
import { checkMergeable, type MergeDeps, mergeRange } from "../../../src/kv/range_merge.ts";
import { checkSplitKey, infoOfDescriptor, splitRange } from "../../../src/kv/range_split.ts";

const enc = new TextEncoder();
const b = (s: string) => enc.encode(s);

/**
 * A fake cluster for the coordinators' logic: descriptors in a list, commands applied at once (as
 * the state machine would, reduced to what the coordinators observe), and hooks to make a command
 * fail before or after it applied.
 */
class FakeRanges {
  ranges: RangeDescriptor[];
  nextId = 2;
  frozen = new Map<number, number>();
  log: string[] = [];
  /** Called before a command applies: throw to fail it unapplied; return "lost" to apply it and lose the answer. */
  before: (kind: string) => "lost" | void = () => {};
  waitFails = false;

  constructor() {
    this.ranges = [newDescriptor({
      rangeId: 1,
      start: new Uint8Array(0),
      end: new Uint8Array(0),
      generation: 1,
      voters: [1, 2, 3],
    })];
  }

  holding(key: Uint8Array): RangeDescriptor {
    return this.ranges.find((d) =>
      compareBytes(key, d.start) >= 0 && (d.end.length === 0 || compareBytes(key, d.end) < 0)
    )!;
  }

  info(d: RangeDescriptor): RangeInfo {
    return { ...infoOfDescriptor(d), frozenIntoRangeId: this.frozen.get(Number(d.rangeId)) ?? 0 };
  }

  router(): ClusterRouter {
    return {
      propose: (key, bytes) => {
        const cmd = decodeCommand(bytes);
        const kind = cmd.body.case!;
        const outcome = this.before(kind);
        const result = this.#apply(key, cmd.body);
        this.log.push(`${kind}:${result.errorCode === "" ? "ok" : result.errorCode}`);
        if (outcome === "lost") {
          return Promise.reject(
            new RangeDbError(ErrorCode.TIMEOUT, "lost", { details: { ambiguous: true } }),
          );
        }
        return Promise.resolve(encodeResult(result));
      },
      timestamps: () => Promise.resolve(1n),
      waitApplied: () =>
        this.waitFails
          ? Promise.reject(new RangeDbError(ErrorCode.UNAVAILABLE, "node down"))
          : Promise.resolve(1),
    };
  }

  // deno-lint-ignore no-explicit-any
  #apply(key: Uint8Array, body: any) {
    const d = this.holding(key);
    const refuse = (why: string) =>
      newResult({ errorCode: ErrorCode.FAILED_PRECONDITION, errorMessage: why });
    switch (body.case) {
      case "allocateRangeId":
        return newResult({ rangeId: BigInt(this.nextId++) });
      case "split": {
        if (body.value.expectedGeneration !== d.generation) return refuse("generation");
        const created = newDescriptor({
          rangeId: Number(body.value.newRangeId),
          start: d.start,
          end: body.value.splitKey,
          generation: Number(d.generation) + 1,
          voters: [1, 2, 3],
        });
        d.start = body.value.splitKey;
        d.generation++;
        this.ranges.push(created);
        return newResult({ descriptors: [d, created] });
      }
      case "subsume":
        this.frozen.set(Number(d.rangeId), Number(body.value.intoRangeId));
        return newResult({ appliedIndex: 7n, descriptors: [d] });
      case "merge": {
        if (body.value.expectedGeneration !== d.generation) return refuse("generation");
        const n = body.value.subsumed as RangeDescriptor;
        d.start = n.start;
        d.generation++;
        this.ranges = this.ranges.filter((x) => x.rangeId !== n.rangeId);
        this.frozen.delete(Number(n.rangeId));
        return newResult({ descriptors: [d] });
      }
      case "abortMerge": {
        const merged = !this.ranges.some((x) =>
          Number(x.rangeId) === Number(body.value.subsumedRangeId)
        );
        d.generation++;
        return newResult({ succeeded: !merged });
      }
      case "unfreeze":
        this.frozen.delete(Number(d.rangeId));
        return newResult({});
      case "updateMeta":
        return newResult({});
    }
    return refuse("unknown");
  }

  deps(clock: Clock): MergeDeps {
    return {
      nodeId: 1,
      clock,
      logger: createLogger({ level: "error", sink: () => {} }),
      commands: new RangeCommands(this.router()),
      migrations: new Migrations(),
      router: this.router(),
      lookup: (key) => this.info(this.holding(key)),
      rangeById: (id) => {
        const d = this.ranges.find((x) => Number(x.rangeId) === id);
        return d === undefined ? undefined : this.info(d);
      },
    };
  }
}

function autoClock(): Clock {
  return new SystemClock();
}

Deno.test("checkSplitKey() accepts user keys and the system boundary only when allowed", () => {
  checkSplitKey(b("/a"), false);
  checkSplitKey(b("_/"), true);
  for (
    const [key, allow] of [[b(""), true], [b("_/"), false], [b("_/x"), true], [
      b("a"),
      false,
    ]] as const
  ) {
    assert.throws(
      () => checkSplitKey(key, allow),
      (e) => isRangeDbError(e, ErrorCode.INVALID_ARGUMENT),
    );
  }
});

Deno.test("splitRange() allocates an id, splits the holder and returns both halves", async () => {
  const f = new FakeRanges();
  const deps = f.deps(autoClock());
  await splitRange(deps, b("_/"), { deadline: Date.now() + 5000, allowSystemBoundary: true });
  const out = await splitRange(deps, b("/m"), { deadline: Date.now() + 5000 });
  assert.equal(out.left.rangeId, 3);
  assert.deepEqual([out.left.start, out.left.end], [b(""), b("/m")]);
  assert.deepEqual([out.right.rangeId, out.right.start, out.right.end], [2, b("/m"), b("_/")]);
  assert.deepEqual(f.log, [
    "allocateRangeId:ok",
    "split:ok",
    "updateMeta:ok",
    "allocateRangeId:ok",
    "split:ok",
    "updateMeta:ok",
  ]);
  assert.equal(deps.migrations.list().length, 0, "the migration is removed when done");
});

Deno.test("splitRange() refuses a key that already starts a range and dry runs change nothing", async () => {
  const f = new FakeRanges();
  const deps = f.deps(autoClock());
  await splitRange(deps, b("_/"), { deadline: Date.now() + 5000, allowSystemBoundary: true });
  await assert.rejects(
    splitRange(deps, b("_/"), { deadline: Date.now() + 5000, allowSystemBoundary: true }),
    (e) =>
      isRangeDbError(e, ErrorCode.INVALID_ARGUMENT) && /already starts a range/.test(e.message),
  );
  const before = f.log.length;
  const dry = await splitRange(deps, b("/k"), { deadline: Date.now() + 5000, dryRun: true });
  assert.equal(dry.dryRun, true);
  assert.deepEqual(dry.right.start, b("/k"));
  assert.equal(f.log.length, before, "a dry run proposes nothing");
});

Deno.test("splitRange() recognises its own split whose answer was lost", async () => {
  const f = new FakeRanges();
  const deps = f.deps(autoClock());
  let lost = false;
  f.before = (kind) => {
    if (kind === "split" && !lost) {
      lost = true;
      return "lost";
    }
  };
  const out = await splitRange(deps, b("_/"), {
    deadline: Date.now() + 5000,
    allowSystemBoundary: true,
  });
  assert.equal(out.left.rangeId, 2);
  assert.equal(f.log.filter((l) => l.startsWith("split")).length, 1, "it was not split twice");
});

Deno.test("splitRange() takes a new range id after an attempt whose outcome is unknown", async () => {
  const f = new FakeRanges();
  const deps = f.deps(autoClock());
  await splitRange(deps, b("_/"), { deadline: Date.now() + 5000, allowSystemBoundary: true });
  f.log = [];
  let lost = false;
  f.before = (kind) => {
    if (kind !== "split" || lost) return;
    lost = true;
    // The split applies but its answer is lost; before the retry, the new range is merged back
    // into its parent, so nothing shows that the split happened.
    queueMicrotask(() => {
      const created = f.ranges.find((d) =>
        d.end.length > 0 && new TextDecoder().decode(d.end) === "/m"
      )!;
      const parent = f.holding(b("/m"));
      parent.start = created.start;
      parent.generation++;
      f.ranges = f.ranges.filter((d) => d !== created);
    });
    return "lost";
  };
  const out = await splitRange(deps, b("/m"), { deadline: Date.now() + 5000 });
  const splits = f.log.filter((l) => l.startsWith("split"));
  assert.deepEqual(splits, ["split:ok", "split:ok"]);
  assert.equal(out.left.rangeId, 4, "range 3 was created once and merged away: never again");
  assert.deepEqual(f.ranges.map((d) => Number(d.rangeId)).sort(), [1, 2, 4]);
});

Deno.test("splitRange() takes a new range id after a refused attempt too", async () => {
  // A router re-proposes a command after an ambiguous failure and reports only the last answer:
  // a refusal does not prove that no attempt of this id applied.
  const f = new FakeRanges();
  const deps = f.deps(autoClock());
  await splitRange(deps, b("_/"), { deadline: Date.now() + 5000, allowSystemBoundary: true });
  f.log = [];
  let raced = false;
  f.before = (kind) => {
    if (kind !== "split" || raced) return;
    raced = true;
    f.holding(b("/m")).generation++;
  };
  const out = await splitRange(deps, b("/m"), { deadline: Date.now() + 5000 });
  assert.deepEqual(f.log.filter((l) => l.startsWith("split")), [
    "split:FAILED_PRECONDITION",
    "split:ok",
  ]);
  assert.equal(out.left.rangeId, 4);
});

Deno.test("checkMergeable() names each rule that does not hold", () => {
  const d = (id: number, s: string, e: string, voters = [1, 2, 3]) =>
    infoOfDescriptor(newDescriptor({ rangeId: id, start: b(s), end: b(e), generation: 1, voters }));
  checkMergeable(d(3, "", "/m"), d(2, "/m", "_/"));
  const cases: [RangeInfo, RangeInfo | undefined, RegExp][] = [
    [d(1, "_/", ""), undefined, /last range/],
    [d(2, "/m", "_/"), d(1, "_/", ""), /system keyspace/],
    [d(3, "", "/m"), d(2, "/n", "_/"), /not known here/],
    [d(3, "", "/m"), d(2, "/m", "_/", [1, 2, 4]), /replicas differ/],
    [{ ...d(3, "", "/m"), frozenIntoRangeId: 2 }, d(2, "/m", "_/"), /already in progress/],
  ];
  for (const [n, r, why] of cases) {
    assert.throws(
      () => checkMergeable(n, r),
      (e) => isRangeDbError(e, ErrorCode.FAILED_PRECONDITION) && why.test(e.message),
    );
  }
});

async function twoUserRanges(f: FakeRanges, deps: MergeDeps): Promise<void> {
  await splitRange(deps, b("_/"), { deadline: Date.now() + 5000, allowSystemBoundary: true });
  await splitRange(deps, b("/m"), { deadline: Date.now() + 5000 });
  f.log = [];
}

Deno.test("mergeRange() freezes, waits, merges and updates the meta copy", async () => {
  const f = new FakeRanges();
  const deps = f.deps(autoClock());
  await twoUserRanges(f, deps);
  const out = await mergeRange(deps, 3, { deadline: Date.now() + 5000 });
  assert.equal(out.merged.rangeId, 2);
  assert.deepEqual([out.merged.start, out.merged.end], [b(""), b("_/")]);
  assert.deepEqual(f.log, ["subsume:ok", "merge:ok", "updateMeta:ok"]);
  assert.equal(f.frozen.size, 0);
});

Deno.test("mergeRange() aborts and unfreezes when a replica cannot confirm the freeze", async () => {
  const f = new FakeRanges();
  const deps = f.deps(autoClock());
  await twoUserRanges(f, deps);
  f.waitFails = true;
  await assert.rejects(
    mergeRange(deps, 3, { deadline: Date.now() + 5000 }),
    (e) => isRangeDbError(e, ErrorCode.UNAVAILABLE),
  );
  assert.deepEqual(f.log, ["subsume:ok", "abortMerge:ok", "unfreeze:ok"]);
  assert.equal(f.frozen.size, 0, "the range is unfrozen");
  assert.equal(f.ranges.length, 3, "nothing was merged");
});

Deno.test("mergeRange() reports success when the merge applied but its answer was lost", async () => {
  const f = new FakeRanges();
  const deps = f.deps(autoClock());
  await twoUserRanges(f, deps);
  f.before = (kind) => kind === "merge" ? "lost" : undefined;
  const out = await mergeRange(deps, 3, { deadline: Date.now() + 5000 });
  assert.deepEqual(out.merged.start, b(""));
  assert.deepEqual(f.log, ["subsume:ok", "merge:ok", "abortMerge:ok", "updateMeta:ok"]);
  assert.equal(f.ranges.length, 2);
  assert.ok(!f.log.includes("unfreeze:ok"), "a merged range is never unfrozen");
});

Deno.test("mergeRange() refuses an unknown range with NOT_FOUND", async () => {
  const f = new FakeRanges();
  const deps = f.deps(autoClock());
  await assert.rejects(
    mergeRange(deps, 42, { deadline: Date.now() + 5000 }),
    (e) => isRangeDbError(e, ErrorCode.NOT_FOUND),
  );
});
