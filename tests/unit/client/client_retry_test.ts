import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { ErrorCode } from "../../../src/base/errors.ts";
import { boundBytes, toBytes, toText } from "../../../src/client/client_codec.ts";
import {
  errorCodeOf,
  fromServiceError,
  InvalidArgumentError,
  leaderHintOf,
  RangeDbClientError,
  TimeoutError,
  UnavailableError,
} from "../../../src/client/client_errors.ts";
import {
  attemptDeadline,
  backoffDelayMs,
  isRetryable,
  MAX_BACKOFF_MS,
} from "../../../src/client/client_retry.ts";

Deno.test("backoffDelayMs() doubles from 50 ms to 1 s with jitter between half and all of the step", () => {
  const table: [number, number, number][] = [
    [0, 0, 25],
    [0, 0.999, 49],
    [1, 0, 50],
    [2, 0, 100],
    [4, 0.5, 600],
    [5, 0, 500],
    [20, 0, 500],
    [1000, 0.999, 999],
  ];
  for (const [attempt, random, want] of table) {
    assert.equal(backoffDelayMs(attempt, random), want, `attempt ${attempt} random ${random}`);
  }
  for (let a = 0; a < 40; a++) assert.ok(backoffDelayMs(a, 0.9999) < MAX_BACKOFF_MS);
});

Deno.test("isRetryable() retries unavailability, leader changes and attempt timeouts only", () => {
  const table: [ErrorCode, grpc.status | undefined, string, boolean][] = [
    [ErrorCode.UNAVAILABLE, grpc.status.UNAVAILABLE, "No connection established", true],
    [ErrorCode.NOT_LEADER, grpc.status.UNAVAILABLE, "Not the leader", true],
    [ErrorCode.RANGE_NOT_FOUND, grpc.status.NOT_FOUND, "Range moved", true],
    [ErrorCode.TIMEOUT, grpc.status.DEADLINE_EXCEEDED, "Deadline exceeded", true],
    [ErrorCode.INTERNAL, grpc.status.INTERNAL, "Received RST_STREAM with code 2", true],
    [ErrorCode.INTERNAL, grpc.status.INTERNAL, "Invariant broken", false],
    [ErrorCode.INVALID_ARGUMENT, grpc.status.INVALID_ARGUMENT, "Bad key", false],
    [ErrorCode.FAILED_PRECONDITION, grpc.status.FAILED_PRECONDITION, "Closed", false],
    [ErrorCode.CANCELLED, grpc.status.CANCELLED, "Cancelled", false],
    [ErrorCode.TXN_CONFLICT, grpc.status.ABORTED, "Conflict", false],
  ];
  for (const [code, grpcCode, message, want] of table) {
    const err = new RangeDbClientError(code, message, { grpcCode });
    assert.equal(isRetryable(err), want, `${code} ${message}`);
  }
});

Deno.test("attemptDeadline() gives an attempt half the budget, at least 1 s, within the call", () => {
  assert.equal(attemptDeadline(0, 5_000, 5_000), 2_500);
  assert.equal(attemptDeadline(0, 1_500, 1_500), 1_000);
  assert.equal(attemptDeadline(4_800, 5_000, 5_000), 5_000);
  assert.equal(attemptDeadline(0, 600, 600), 600);
});

Deno.test("errorCodeOf() prefers a known trailer code and maps gRPC statuses otherwise", () => {
  assert.equal(errorCodeOf(grpc.status.UNAVAILABLE, "NOT_LEADER"), ErrorCode.NOT_LEADER);
  assert.equal(errorCodeOf(grpc.status.UNAVAILABLE, "NO_SUCH_CODE"), ErrorCode.UNAVAILABLE);
  const table: [grpc.status, ErrorCode][] = [
    [grpc.status.INVALID_ARGUMENT, ErrorCode.INVALID_ARGUMENT],
    [grpc.status.NOT_FOUND, ErrorCode.NOT_FOUND],
    [grpc.status.DEADLINE_EXCEEDED, ErrorCode.TIMEOUT],
    [grpc.status.CANCELLED, ErrorCode.CANCELLED],
    [grpc.status.ABORTED, ErrorCode.TXN_CONFLICT],
    [grpc.status.FAILED_PRECONDITION, ErrorCode.FAILED_PRECONDITION],
    [grpc.status.UNAVAILABLE, ErrorCode.UNAVAILABLE],
    [grpc.status.DATA_LOSS, ErrorCode.CORRUPTION],
    [grpc.status.UNKNOWN, ErrorCode.INTERNAL],
  ];
  for (const [status, want] of table) assert.equal(errorCodeOf(status), want, String(status));
});

Deno.test("fromServiceError() builds the typed subclass with the server's message and trailers", () => {
  const metadata = new grpc.Metadata();
  metadata.set("rangedb-error-code", "INVALID_ARGUMENT");
  metadata.set("rangedb-leader-client-address", "127.0.0.1:9");
  const raw = Object.assign(new Error("3 INVALID_ARGUMENT: Cannot write key"), {
    code: grpc.status.INVALID_ARGUMENT,
    details: "Cannot write key",
    metadata,
  });
  const err = fromServiceError(raw, "127.0.0.1:1");
  assert.ok(err instanceof InvalidArgumentError);
  assert.equal(err.message, "Cannot write key");
  assert.equal(err.endpoint, "127.0.0.1:1");
  assert.equal(err.cause, raw);
  assert.equal(leaderHintOf(raw), "127.0.0.1:9");
  const plain = { ...raw, code: grpc.status.UNAVAILABLE, metadata: new grpc.Metadata() };
  assert.ok(fromServiceError(Object.assign(new Error(), plain), "a:1") instanceof UnavailableError);
  const late = { ...raw, code: grpc.status.DEADLINE_EXCEEDED, metadata: new grpc.Metadata() };
  assert.ok(fromServiceError(Object.assign(new Error(), late), "a:1") instanceof TimeoutError);
});

Deno.test("toBytes() encodes strings as UTF-8 and passes bytes through", () => {
  assert.deepEqual(toBytes("/é"), new Uint8Array([0x2f, 0xc3, 0xa9]));
  const bytes = new Uint8Array([0, 255]);
  assert.equal(toBytes(bytes), bytes);
  assert.equal(toText(new Uint8Array([0x2f, 0xff])), "/\ufffd");
  assert.equal(boundBytes(null).length, 0);
  assert.equal(boundBytes(undefined).length, 0);
  assert.equal(boundBytes("").length, 0);
  assert.deepEqual(boundBytes("/a"), new Uint8Array([0x2f, 0x61]));
});
