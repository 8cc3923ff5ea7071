import assert from "node:assert/strict";
import {
  ErrorCode,
  InvalidArgumentError,
  RangeDbClientError,
  TimeoutError,
  UnavailableError,
} from "../../src/client/mod.ts";
import { freePorts } from "../harness/cluster_support.ts";
import { nodeClient, NotSentError, outcomeOfError } from "./workload_clients.ts";

Deno.test("outcomeOfError() makes every failed read 'failed'", () => {
  for (const err of [new Error("x"), new TimeoutError(ErrorCode.TIMEOUT, "late")]) {
    assert.equal(outcomeOfError(err, false), "failed");
  }
});

Deno.test("outcomeOfError() makes a write 'failed' only when it was certainly not applied", () => {
  const notApplied = [
    new NotSentError("Cannot connect the SDK"),
    new InvalidArgumentError(ErrorCode.INVALID_ARGUMENT, "Cannot write key as it is empty"),
  ];
  for (const err of notApplied) assert.equal(outcomeOfError(err, true), "failed", err.message);
  const maybe = [
    new UnavailableError(ErrorCode.UNAVAILABLE, "no endpoint could serve it"),
    new TimeoutError(ErrorCode.TIMEOUT, "its 3000 ms timeout passed"),
    new RangeDbClientError(ErrorCode.NOT_LEADER, "not the leader", { grpcCode: 9 }),
    // "client is closed" also ends a retry loop whose first attempt may have applied.
    new RangeDbClientError(
      ErrorCode.FAILED_PRECONDITION,
      "Cannot call Put as the client is closed",
    ),
    new Error("anything else"),
  ];
  for (const err of maybe) assert.equal(outcomeOfError(err, true), "unknown", err.message);
});

Deno.test("outcomeOfError() tells a node that is down from one that does not answer", async () => {
  const [closedPort] = freePorts(1, new Set());
  // Nothing listens: grpc-js never gets a connection, so the put was never sent.
  const down = nodeClient(0, `127.0.0.1:${closedPort}`);
  // Accepts connections and never answers, like a paused node: the put may have been received.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })();
  const hung = nodeClient(1, `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);
  try {
    const errOf = (p: Promise<unknown>) => p.then(() => assert.fail("it succeeded"), (e) => e);
    const refused = await errOf(down.put("/k", "v", 2_000));
    assert.equal(outcomeOfError(refused, true), "failed", String(refused));
    const timedOut = await errOf(hung.put("/k", "v", 500));
    assert.equal(outcomeOfError(timedOut, true), "unknown", String(timedOut));
  } finally {
    down.close();
    hung.close();
    listener.close();
    for (const conn of conns) conn.close();
    await accepting.catch(() => undefined);
  }
});
