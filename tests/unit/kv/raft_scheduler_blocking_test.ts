import assert from "node:assert/strict";
import { SystemClock } from "../../../src/base/clock.ts";
import { createLogger } from "../../../src/base/logger.ts";
import { bootstrapCluster } from "../../../src/kv/bootstrap.ts";
import { NO_METRICS, type StoreMetrics } from "../../../src/kv/metrics.ts";
import { SLOW_TURN_MS } from "../../../src/kv/raft_scheduler.ts";
import { Store } from "../../../src/kv/store.ts";
import { type Engine, openLmdbEngine } from "../../../src/storage/mod.ts";
import { b, InProcessNetwork, waitFor } from "./_cluster.ts";

/** Busy-waits `ms` on the event loop, as a long synchronous apply would. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* hold the event loop */ }
}

Deno.test("RaftScheduler reports and logs a turn that holds the event loop", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-kv-" });
  const bootstrap = await openLmdbEngine(dir);
  await bootstrapCluster(bootstrap, { voters: [1] });
  await bootstrap.close();
  const engine = await openLmdbEngine(dir);
  // The turn builds its engine batch synchronously, before staging: a spin there stands for a
  // long apply (a split's stats scan) inside the turn.
  let holdMs = 0;
  const holding = new Proxy(engine, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop !== "batch") return typeof v === "function" ? v.bind(target) : v;
      return () => {
        spin(holdMs);
        holdMs = 0;
        return target.batch();
      };
    },
  }) as Engine;
  const blocked: number[] = [];
  const metrics: StoreMetrics = { ...NO_METRICS, turnBlocked: (ms) => blocked.push(ms) };
  const lines: string[] = [];
  const net = new InProcessNetwork();
  const store = await Store.open({
    engine: holding,
    identity: { clusterId: "test", nodeId: 1, name: "node-1", incarnation: "inc-1" },
    self: { peerAddress: "n1:peer", clientAddress: "n1:client", adminAddress: "n1:admin" },
    initialPeers: new Map([[1, "n1:peer"]]),
    transport: net.transportFor(1),
    clock: new SystemClock(),
    logger: createLogger({ level: "warn", sink: (line) => lines.push(line) }),
    metrics,
    raft: { tickIntervalMs: 20, electionTick: 10, heartbeatTick: 1 },
    rangeQueues: false,
  });
  net.handlers.set(1, store);
  try {
    await waitFor(() => store.firstRange()?.isLeader === true, 5000, "leader");
    await store.put(b("/a"), b("1"));
    assert.ok(blocked.length > 0, "every turn with a Ready reports its blocking time");
    const before = blocked.length;
    const linesBefore = lines.length;
    holdMs = SLOW_TURN_MS + 50;
    await store.put(b("/b"), b("2"));
    const held = blocked.slice(before).filter((ms) => ms >= SLOW_TURN_MS + 50);
    assert.ok(held.length >= 1, `a turn held the loop: ${blocked.slice(before)}`);
    const logged = lines.slice(linesBefore).map((l) => JSON.parse(l))
      .filter((l) => l.msg === "slow raft turn" && l.stage_ms >= SLOW_TURN_MS + 50);
    assert.equal(logged.length, 1, `the held turn is logged, before its write: ${lines}`);
    assert.ok(logged[0].blocked_ms >= logged[0].stage_ms);
    assert.equal(logged[0].readies, 1);
  } finally {
    await store.stop();
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
});
