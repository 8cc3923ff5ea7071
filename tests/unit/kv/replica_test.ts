import assert from "node:assert/strict";
import { ManualClock } from "../../../src/base/clock.ts";
import { createLogger } from "../../../src/base/logger.ts";
import { newCommand } from "../../../src/kv/command.ts";
import { NO_METRICS } from "../../../src/kv/metrics.ts";
import { Replica } from "../../../src/kv/replica.ts";
import { type Engine, openLmdbEngine } from "../../../src/storage/mod.ts";
import { createMemoryEngine } from "../../../src/storage/memory_engine.ts";
import { ErrorCode, RangeDbError } from "../../../src/base/errors.ts";

/** A replica's dependencies over `engine`: node 1, a manual clock, no metrics. */
function deps(engine: Engine) {
  return {
    engine,
    nodeId: 1,
    clock: new ManualClock({ now: 1_700_000_000_000 }),
    logger: createLogger({ level: "error" }),
    metrics: NO_METRICS,
    electionTick: 10,
    heartbeatTick: 1,
    random: Math.random,
    markDirty: () => {},
  };
}

Deno.test("Replica.propose() does not reuse a sequence after a restart with the clock stepped back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-replica-" });
  const engine = await openLmdbEngine(dir);
  try {
    const seqs: bigint[] = [];
    // Two runs of the same node; the second starts with its clock where the first one started.
    for (let run = 0; run < 2; run++) {
      const replica = new Replica(
        deps(engine),
        1,
        undefined,
      );
      const cmd = newCommand({ body: { case: "tsoReserve", value: { upToWallMs: 1n } } });
      const proposed = replica.propose(cmd, 0, false).catch(() => undefined);
      seqs.push(cmd.proposalSeq);
      replica.close(new Error("closed"));
      await proposed;
    }
    assert.notEqual(seqs[0], seqs[1]);
    for (const seq of seqs) assert.ok(seq > 0n && seq <= 2n ** 52n);
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Replica.propose() and reads.wait() fail at once with the close error once the replica was closed", async () => {
  const engine = createMemoryEngine();
  const replica = new Replica(
    deps(engine),
    4,
    undefined,
  );
  // A write found the replica, then waited for a timestamp while a merge destroyed it: nothing
  // would ever look at a proposal queued now, whatever its deadline.
  const merged = new RangeDbError(ErrorCode.RANGE_MOVED, "Cannot serve the request as merged");
  replica.close(merged);
  const cmd = newCommand({ body: { case: "tsoReserve", value: { upToWallMs: 1n } } });
  await assert.rejects(() => replica.propose(cmd, Date.now() + 5000, true), (e) => e === merged);
  await assert.rejects(
    () => replica.proposeConfChange({ transition: 0, changes: [] }, Date.now() + 5000),
    (e) => e === merged,
  );
  await assert.rejects(() => replica.reads.wait(Date.now() + 5000), (e) => e === merged);
});
