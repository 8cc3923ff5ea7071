import assert from "node:assert/strict";
import { createLogger } from "../../../src/base/logger.ts";
import { MAX_TIMESTAMP } from "../../../src/base/key_encoding.ts";
import { mvccGet } from "../../../src/mvcc/mod.ts";
import {
  ConfChangeTransition,
  ConfChangeType,
  encodeConfChange,
  type Entry,
  EntryType,
  RaftError,
  type RawNode,
} from "../../../src/raft/mod.ts";
import { type Engine, openLmdbEngine } from "../../../src/storage/mod.ts";
import {
  type CommandResult,
  decodeNodeRecord,
  encodeCommand,
  encodeProposalId,
  newAppliedState,
  newCommand,
  newDescriptor,
  newNodeRecord,
  type RangeAppliedState,
} from "../../../src/kv/command.ts";
import { systemKeys } from "../../../src/kv/keys.ts";
import { applyEntries, DEDUPE_RETENTION_MS } from "../../../src/kv/replica_apply.ts";
import { newApplyContext } from "../../../src/kv/apply_context.ts";
import { recordingLifecycle } from "./_apply.ts";
import { b, s } from "./_cluster.ts";

type Body = NonNullable<Parameters<typeof newCommand>[0]>["body"];

const NO_RAFT = {} as RawNode;
const MIN = 60_000;

function entry(index: number, wallMs: number, body: Body, requestId = ""): Entry {
  const cmd = newCommand({
    proposerNodeId: 1n,
    proposalSeq: BigInt(index),
    requestId,
    timestamp: BigInt(wallMs) << 16n,
    body,
  });
  return { index, term: 2, type: EntryType.Normal, data: encodeCommand(cmd) };
}

const put = (key: string, value: string): Body => ({
  case: "write",
  value: { ops: [{ key: b(key), value: b(value) }] },
});
const del = (key: string): Body => ({
  case: "write",
  value: { ops: [{ key: b(key), delete: true }] },
});
const cas = (key: string, expected: string | undefined, value: string): Body => ({
  case: "compareAndSwap",
  value: {
    key: b(key),
    expected: expected === undefined ? new Uint8Array() : b(expected),
    expectAbsent: expected === undefined,
    value: b(value),
  },
});

function initial(end = "/m"): RangeAppliedState {
  return newAppliedState({
    appliedIndex: 1n,
    appliedTerm: 1n,
    nextNodeId: 4n,
    descriptor: newDescriptor({
      rangeId: 1,
      start: b("/"),
      end: b(end),
      generation: 1,
      voters: [1],
    }),
  });
}

/** Applies `entries` in batches of `split`, returning every result and the final state. */
async function applyAll(engine: Engine, entries: Entry[], split: number, end = "/m") {
  let st = initial(end);
  const results: CommandResult[] = [];
  for (let i = 0; i < entries.length; i += split) {
    const batch = engine.batch();
    const ctx = newApplyContext(
      engine,
      batch,
      1,
      createLogger({ level: "error" }),
      recordingLifecycle(),
    );
    const out = applyEntries({ rangeId: 1, raw: NO_RAFT }, st, entries.slice(i, i + split), ctx);
    for (const r of out.results) results.push(r.result);
    st = out.applied;
    await engine.write(batch);
  }
  return { results, st };
}

async function withEngines(n: number, fn: (engines: Engine[]) => Promise<void>): Promise<void> {
  const dirs: string[] = [];
  const engines: Engine[] = [];
  for (let i = 0; i < n; i++) {
    dirs.push(await Deno.makeTempDir({ prefix: "rangedb-apply-" }));
    engines.push(await openLmdbEngine(dirs[i]));
  }
  try {
    await fn(engines);
  } finally {
    for (const e of engines) await e.close();
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
}

function dump(engine: Engine): string[] {
  const out: string[] = [];
  for (const ks of ["data", "raft_state", "dedupe"] as const) {
    for (const { key, value } of engine.scan(ks)) out.push(`${ks} ${key} ${value}`);
  }
  return out;
}

Deno.test("applyEntries() is deterministic: the same log gives the same state and CAS outcomes in any batching", async () => {
  const t = 100 * MIN;
  const log = [
    entry(2, t, put("/a", "1")),
    entry(3, t, cas("/a", "1", "2")),
    entry(4, t, cas("/a", "1", "3")),
    entry(5, t - 5000, cas("/c", undefined, "x")),
    entry(6, t, put("/z", "outside")),
    entry(7, t, del("/a")),
    entry(8, t, del("/a")),
  ];
  await withEngines(2, async ([one, two]) => {
    const a = await applyAll(one, log, log.length);
    const c = await applyAll(two, log, 1);
    assert.deepEqual(dump(one), dump(two));
    assert.deepEqual(a.results, c.results);
    const r = a.results;
    assert.equal(r[1].succeeded, true, "CAS sees the put of the same batch");
    assert.equal(r[2].succeeded, false);
    assert.equal(s(r[2].actual), "2");
    assert.equal(r[3].succeeded, true);
    assert.ok(r[3].version > r[2].version, "a low timestamp still gets a higher version");
    assert.equal(r[4].errorCode, "RANGE_MOVED");
    assert.equal(r[5].succeeded, true, "the first delete found the key");
    assert.equal(r[6].succeeded, false);
    assert.equal(a.st.appliedIndex, 8n);
    assert.equal(mvccGet(one, b("/a"), MAX_TIMESTAMP).status, "absent");
    assert.equal(mvccGet(one, b("/z"), MAX_TIMESTAMP).status, "absent");
  });
});

Deno.test("applyEntries() applies a request id once and forgets it after the retention", async () => {
  const t = 100 * MIN;
  const log = [
    entry(2, t, put("/d", "first"), "req-1"),
    entry(3, t + 1, put("/d", "second"), "req-1"),
    entry(4, t + DEDUPE_RETENTION_MS + 2 * MIN, put("/e", "later")),
    entry(5, t + DEDUPE_RETENTION_MS + 2 * MIN, put("/d", "third"), "req-1"),
  ];
  await withEngines(2, async ([one, two]) => {
    const a = await applyAll(one, log, 1);
    await applyAll(two, log, 4);
    assert.deepEqual(dump(one), dump(two));
    assert.deepEqual(a.results[1], a.results[0], "the retry answers with the stored result");
    assert.ok(a.results[3].version > a.results[2].version, "an expired request id applies again");
    const got = mvccGet(one, b("/d"), MAX_TIMESTAMP);
    assert.equal(got.status === "found" ? s(got.value) : undefined, "third");
  });
});

const node = (body: "addNode" | "upsertNode", name: string, incarnation: string): Body => ({
  case: body,
  value: {
    record: newNodeRecord({
      name,
      nodeId: 0,
      peerAddress: `${name}:peer`,
      clientAddress: `${name}:client`,
      adminAddress: `${name}:admin`,
      updatedAtMs: 0,
      incarnation,
    }),
  },
});

function recorded(engine: Engine, name: string) {
  const got = mvccGet(engine, systemKeys.node(name), MAX_TIMESTAMP);
  return got.status === "found" ? decodeNodeRecord(got.value) : undefined;
}

Deno.test("applyEntries() refuses AddNode and UpsertNode of a name recorded with another incarnation", async () => {
  const t = 100 * MIN;
  const log = [
    entry(2, t, node("addNode", "n4", "inc-a")),
    entry(3, t, node("addNode", "n4", "inc-a")),
    entry(4, t, node("addNode", "n4", "inc-wiped")),
    entry(5, t, node("upsertNode", "n4", "inc-wiped")),
    entry(6, t, node("addNode", "n5", "inc-c")),
  ];
  await withEngines(2, async ([one, two]) => {
    // The range holds the system keys (node records) too.
    const { results, st } = await applyAll(one, log, 1, "");
    await applyAll(two, log, log.length, "");
    assert.deepEqual(dump(one), dump(two));
    assert.equal(results[0].nodeId, 4n);
    assert.equal(results[1].nodeId, 4n, "the same incarnation joins again idempotently");
    for (const r of [results[2], results[3]]) {
      assert.equal(r.errorCode, "FAILED_PRECONDITION");
      assert.match(r.errorMessage, /^Cannot admit node n4 as a member of that name exists/);
    }
    assert.equal(results[4].nodeId, 5n, "a refused AddNode takes no id");
    assert.equal(st.nextNodeId, 6n);
    assert.equal(recorded(one, "n4")?.incarnation, "inc-a", "the old member's record stays");
  });
});

Deno.test("applyEntries() treats a record without an incarnation as any incarnation", async () => {
  const t = 100 * MIN;
  const log = [
    entry(2, t, node("upsertNode", "n1", "")),
    entry(3, t, node("addNode", "n1", "inc-new")),
    entry(4, t, node("upsertNode", "n1", "inc-new")),
  ];
  await withEngines(1, async ([one]) => {
    const { results } = await applyAll(one, log, 1, "");
    assert.deepEqual(results.map((r) => r.errorCode), ["", "", ""]);
    assert.equal(recorded(one, "n1")?.incarnation, "inc-new");
  });
});

Deno.test("applyEntries() answers a conf change Raft refuses with an error result", async () => {
  const refusing = {
    applyConfChange() {
      throw new RaftError(
        "ErrInvalidConfChange",
        "Cannot apply the change as it removes all voters",
      );
    },
  } as unknown as RawNode;
  const cc = encodeConfChange({
    transition: ConfChangeTransition.Auto,
    changes: [{ type: ConfChangeType.RemoveNode, nodeId: 1 }],
    context: encodeProposalId(1, 77),
  });
  await withEngines(1, ([engine]) => {
    const batch = engine.batch();
    const out = applyEntries({ rangeId: 1, raw: refusing }, initial(), [
      { index: 2, term: 2, type: EntryType.ConfChange, data: cc },
    ], newApplyContext(engine, batch, 1, createLogger({ level: "error" }), recordingLifecycle()));
    assert.equal(out.results.length, 1);
    assert.equal(out.results[0].seq, 77);
    assert.equal(out.results[0].result.errorCode, "FAILED_PRECONDITION");
    assert.match(out.results[0].result.errorMessage, /removes all voters$/);
    assert.equal(out.applied.appliedIndex, 2n);
    assert.equal(out.applied.descriptor?.generation, 1n, "the descriptor is unchanged");
    return Promise.resolve();
  });
});
