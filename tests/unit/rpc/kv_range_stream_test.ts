import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import http2 from "node:http2";
import { SystemClock } from "../../../src/base/clock.ts";
import type { KvStore, VersionedValue } from "../../../src/kv/kv_store.ts";
import type { PeerCaller } from "../../../src/rpc/forwarder.ts";
import { KvHandlers } from "../../../src/rpc/kv_handlers.ts";
import { addKvService, KV_SERVICE_DEFINITION } from "../../../src/rpc/kv_service.ts";
import { RangeRequestSchema, type RangeResponse } from "../../../proto/gen/rangedb/v1/kv_pb.ts";
import { fakeStore, quietLogger, startServer, waitFor } from "./_grpc_fixture.ts";

const enc = new TextEncoder();
const clock = new SystemClock();
const KvClient = grpc.makeGenericClientConstructor(KV_SERVICE_DEFINITION, "KV");
const noPeers: PeerCaller = {
  forward: () => Promise.reject(new Error("Cannot forward in this test")),
  join: () => Promise.reject(new Error("Cannot join in this test")),
};

/** A store whose scan yields big chunks forever and records when it was closed. */
function endlessStore(): { store: KvStore; closed: () => boolean } {
  let closed = false;
  const value = new Uint8Array(64 * 1024);
  const store = fakeStore({
    scan: () =>
      (async function* (): AsyncGenerator<VersionedValue[]> {
        try {
          for (let i = 0;; i++) {
            yield [{ key: enc.encode(`/k${i}`), value, version: 1n }];
          }
        } finally {
          closed = true;
        }
      })(),
  });
  return { store, closed: () => closed };
}

async function rangeNode(store: KvStore, rangeIdleTimeoutMs: number) {
  const observed: [string, string][] = [];
  const handlers = new KvHandlers({ store, peers: noPeers, clock, logger: quietLogger() });
  const server = await startServer((s) =>
    addKvService(s, {
      handlers,
      store,
      clock,
      logger: quietLogger(),
      observe: (method, code) => observed.push([method, code]),
      rangeIdleTimeoutMs,
    })
  );
  const client = new KvClient(server.address, grpc.credentials.createInsecure());
  const range = (options: grpc.CallOptions = {}) =>
    (client as unknown as Record<
      string,
      (r: unknown, o: grpc.CallOptions) => grpc.ClientReadableStream<RangeResponse>
    >).Range(create(RangeRequestSchema, {}), options);
  /** A raw HTTP/2 Range call that never reads (grpc-js clients read ahead whatever arrives). */
  const stalledRange = () => {
    const session = http2.connect(`http://${server.address}`);
    session.on("error", () => {});
    const req = session.request({
      ":method": "POST",
      ":path": "/rangedb.v1.KV/Range",
      "content-type": "application/grpc",
      te: "trailers",
    });
    req.on("error", () => {});
    req.pause();
    req.end(new Uint8Array(5));
    return {
      close() {
        req.close();
        session.close();
      },
    };
  };
  return {
    observed,
    range,
    stalledRange,
    async stop() {
      client.close();
      await server.stop();
    },
  };
}

Deno.test("addKvService() ends a Range whose consumer stops reading and closes the scan", async () => {
  const { store, closed } = endlessStore();
  const node = await rangeNode(store, 300);
  const call = node.stalledRange();
  try {
    await waitFor(closed, 5_000, "the scan to close");
    await waitFor(() => node.observed.length > 0, 5_000, "the call to finish");
    assert.deepEqual(node.observed, [["Range", "DEADLINE_EXCEEDED"]]);
  } finally {
    call.close();
    await node.stop();
  }
});

Deno.test("addKvService() ends a Range at the call's own deadline and closes the scan", async () => {
  const { store, closed } = endlessStore();
  const node = await rangeNode(store, 60_000);
  const call = node.range({ deadline: Date.now() + 300 });
  call.on("error", () => {});
  try {
    await waitFor(closed, 5_000, "the scan to close");
    await waitFor(() => node.observed.length > 0, 5_000, "the call to finish");
    assert.ok(
      ["DEADLINE_EXCEEDED", "CANCELLED"].includes(node.observed[0][1]),
      String(node.observed),
    );
  } finally {
    call.cancel();
    await node.stop();
  }
});

Deno.test("addKvService() closes the scan when the client cancels a Range", async () => {
  const { store, closed } = endlessStore();
  const node = await rangeNode(store, 60_000);
  const call = node.range();
  call.on("error", () => {});
  await new Promise<void>((resolve) => call.once("data", () => resolve()));
  call.pause();
  call.cancel();
  try {
    await waitFor(closed, 5_000, "the scan to close");
  } finally {
    await node.stop();
  }
});
