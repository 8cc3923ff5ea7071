/**
 * Test helpers for applying commands straight through `applyEntries` on a real engine: log
 * entries from command bodies, a range that applies them in batches of any size, and a dump of
 * the keyspaces apply writes.
 *
 * @module
 */

import { createLogger } from "../../../src/base/logger.ts";
import {
  type CreatedRange,
  newApplyContext,
  type RangeLifecycle,
} from "../../../src/kv/apply_context.ts";
import {
  type CommandResult,
  encodeAppliedState,
  encodeCommand,
  newAppliedState,
  newCommand,
  newDescriptor,
  type RangeAppliedState,
} from "../../../src/kv/command.ts";
import { applyEntries } from "../../../src/kv/replica_apply.ts";
import type { Entry, RawNode } from "../../../src/raft/mod.ts";
import { EntryType } from "../../../src/raft/mod.ts";
import { type Engine, openLmdbEngine } from "../../../src/storage/mod.ts";
import { b } from "./_cluster.ts";

/** A command body. */
export type Body = NonNullable<Parameters<typeof newCommand>[0]>["body"];

/**
 * A lifecycle that records what it is told (unit tests of apply), with the given local applied
 * states.
 */
export function recordingLifecycle(
  local: Map<number, RangeAppliedState> = new Map(),
  tombstones: Map<number, number> = new Map(),
): RangeLifecycle & { createdRanges: CreatedRange[]; destroyedRanges: [number, number][] } {
  const createdRanges: CreatedRange[] = [];
  const destroyedRanges: [number, number][] = [];
  return {
    createdRanges,
    destroyedRanges,
    created: (r) => createdRanges.push(r),
    destroyed: (id, into) => destroyedRanges.push([id, into]),
    appliedStateOf: (id) => local.get(id),
    mergedInto: (id) => tombstones.get(id),
    snapshotInstalled: () => {},
  };
}

/** One minute in ms. */
export const MIN = 60_000;

/** A normal log entry of `body` at `wallMs`, proposed by node 1 with sequence `index`. */
export function entry(index: number, wallMs: number, body: Body, requestId = ""): Entry {
  const cmd = newCommand({
    proposerNodeId: 1n,
    proposalSeq: BigInt(index),
    requestId,
    timestamp: BigInt(wallMs) << 16n,
    body,
  });
  return { index, term: 2, type: EntryType.Normal, data: encodeCommand(cmd) };
}

/** A put of one key. */
export const put = (key: string, value: string): Body => ({
  case: "write",
  value: { ops: [{ key: b(key), value: b(value) }] },
});

/** A delete of one key. */
export const del = (key: string): Body => ({
  case: "write",
  value: { ops: [{ key: b(key), delete: true }] },
});

/** An applied state at index 1 of range `rangeId` over `[start, end)` with voters 1..3. */
export function rangeState(
  rangeId: number,
  start: string,
  end: string,
  generation = 1,
): RangeAppliedState {
  return newAppliedState({
    appliedIndex: 1n,
    appliedTerm: 1n,
    nextNodeId: 4n,
    descriptor: newDescriptor({
      rangeId,
      start: b(start),
      end: b(end),
      generation,
      voters: [1, 2, 3],
    }),
  });
}

const NO_RAFT = {
  applyConfChange() {
    throw new Error("Cannot apply a conf change in this test");
  },
} as unknown as RawNode;

/**
 * A range applying entries on an engine, batch by batch, as a replica would: results, the
 * applied state, and the ranges its splits and merges report.
 */
export class TestRange {
  st: RangeAppliedState;
  readonly results: CommandResult[] = [];
  readonly created: CreatedRange[] = [];
  readonly destroyed: [number, number][] = [];
  /** Other ranges' applied states on this "node" (what a Merge checks). */
  readonly local = new Map<number, RangeAppliedState>();
  /** Ranges merged away on this "node" → the range that absorbed them. */
  readonly tombstones = new Map<number, number>();

  constructor(readonly engine: Engine, st: RangeAppliedState, readonly raw: RawNode = NO_RAFT) {
    this.st = st;
  }

  get rangeId(): number {
    return Number(this.st.descriptor!.rangeId);
  }

  /** Applies `entries` in batches of `size`, writing each batch. */
  async apply(entries: Entry[], size = entries.length): Promise<CommandResult[]> {
    const out: CommandResult[] = [];
    for (let i = 0; i < entries.length; i += size) {
      const batch = this.engine.batch();
      const lifecycle = recordingLifecycle(this.local, this.tombstones);
      const ctx = newApplyContext(
        this.engine,
        batch,
        1,
        createLogger({ level: "error" }),
        lifecycle,
      );
      const o = applyEntries(
        { rangeId: this.rangeId, raw: this.raw },
        this.st,
        entries.slice(i, i + size),
        ctx,
      );
      this.st = o.applied;
      batch.put("raft_state", new Uint8Array([this.rangeId]), encodeAppliedState(o.applied));
      for (const r of o.results) out.push(r.result);
      this.created.push(...lifecycle.createdRanges);
      this.destroyed.push(...lifecycle.destroyedRanges);
      await this.engine.write(batch);
    }
    this.results.push(...out);
    return out;
  }
}

/** Runs `fn` with `n` LMDB engines in temp dirs, closed and removed afterwards. */
export async function withEngines(
  n: number,
  fn: (engines: Engine[]) => Promise<void>,
): Promise<void> {
  const dirs: string[] = [];
  const engines: Engine[] = [];
  try {
    for (let i = 0; i < n; i++) {
      dirs.push(await Deno.makeTempDir({ prefix: "rangedb-apply-" }));
      engines.push(await openLmdbEngine(dirs[i]));
    }
    await fn(engines);
  } finally {
    for (const e of engines) await e.close();
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
}

/** Every pair of the keyspaces apply writes, as text lines. */
export function dump(engine: Engine): string[] {
  const out: string[] = [];
  for (const ks of ["data", "raft_state", "dedupe"] as const) {
    for (const { key, value } of engine.scan(ks)) out.push(`${ks} ${key} ${value}`);
  }
  return out;
}

/** The pairs of one keyspace, as text lines. */
export function dumpKeyspace(engine: Engine, ks: "data" | "dedupe"): string[] {
  const out: string[] = [];
  for (const { key, value } of engine.scan(ks)) out.push(`${key} ${value}`);
  return out;
}
