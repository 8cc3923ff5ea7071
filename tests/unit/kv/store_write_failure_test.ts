import assert from "node:assert/strict";
import { SystemClock } from "../../../src/base/clock.ts";
import { ErrorCode, RangeDbError } from "../../../src/base/errors.ts";
import { createLogger } from "../../../src/base/logger.ts";
import { bootstrapCluster, Store } from "../../../src/kv/mod.ts";
import { createMemoryEngine, type Engine } from "../../../src/storage/mod.ts";
import { b, waitFor } from "./_cluster.ts";

/** A single-node store whose engine fails every batch write once `failing.on` is set. */
async function openFailingStore(
  onWriteFailure: (cause: unknown) => RangeDbError,
  log: string[],
) {
  const engine = createMemoryEngine();
  await bootstrapCluster(engine, { voters: [1] });
  const failing = { on: false };
  const write: Engine["write"] = (batch, options) =>
    failing.on
      ? Promise.reject(new Error("No space left on device (os error 28)"))
      : engine.write(batch, options);
  const store = await Store.open({
    engine: new Proxy(engine, {
      get(target, prop) {
        if (prop === "write") return write;
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    }),
    identity: { clusterId: "test", nodeId: 1, name: "node-1", incarnation: "inc-1" },
    self: { peerAddress: "p", clientAddress: "c", adminAddress: "a" },
    initialPeers: new Map([[1, "p"]]),
    transport: { send() {}, sendSnapshot: () => Promise.resolve(false) },
    clock: new SystemClock(),
    logger: createLogger({ level: "error", sink: (line) => log.push(line) }),
    raft: { tickIntervalMs: 20, electionTick: 10, heartbeatTick: 1 },
    onWriteFailure,
  });
  return { store, failing, engine };
}

Deno.test("Store fails every waiting and later caller with the error onWriteFailure returns, once", async () => {
  const causes: unknown[] = [];
  const failure = new RangeDbError(ErrorCode.UNAVAILABLE, "Cannot write as the disk is full");
  const log: string[] = [];
  const { store, failing, engine } = await openFailingStore((cause) => {
    causes.push(cause);
    return failure;
  }, log);
  try {
    await waitFor(() => store.isReady(), 5000, "a leader");
    await store.put(b("/a"), b("1"));
    failing.on = true;
    await assert.rejects(store.put(b("/a"), b("2")), (err) => err === failure);
    await assert.rejects(store.get(b("/a")), (err) => err === failure);
    await assert.rejects(store.put(b("/b"), b("3")), (err) => err === failure);
    assert.equal(store.isReady(), false);
    assert.equal(causes.length, 1, "called once");
    assert.match(String(causes[0]), /No space left on device/);
    const lines = log.map((l) => JSON.parse(l));
    assert.equal(lines.length, 1, "one error line");
    assert.equal(lines[0].msg, "store failed: a batch could not be written");
    assert.equal(lines[0].error, failure.message);
  } finally {
    await store.stop();
    await engine.close();
  }
});
