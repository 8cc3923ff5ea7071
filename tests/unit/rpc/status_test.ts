import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, RangeDbError } from "../../../src/base/errors.ts";
import {
  ERROR_CODE_KEY,
  ERROR_DETAILS_KEY,
  fromServiceError,
  grpcStatusOf,
  LEADER_CLIENT_ADDRESS_KEY,
  toServiceError,
} from "../../../src/rpc/status.ts";
import { quietLogger } from "./_grpc_fixture.ts";

const table: [ErrorCode, grpc.status][] = [
  [ErrorCode.INVALID_ARGUMENT, grpc.status.INVALID_ARGUMENT],
  [ErrorCode.NOT_FOUND, grpc.status.NOT_FOUND],
  [ErrorCode.ALREADY_EXISTS, grpc.status.ALREADY_EXISTS],
  [ErrorCode.NOT_LEADER, grpc.status.UNAVAILABLE],
  [ErrorCode.RANGE_NOT_FOUND, grpc.status.UNAVAILABLE],
  [ErrorCode.RANGE_MOVED, grpc.status.UNAVAILABLE],
  [ErrorCode.LOCKED, grpc.status.UNAVAILABLE],
  [ErrorCode.TIMEOUT, grpc.status.DEADLINE_EXCEEDED],
  [ErrorCode.CANCELLED, grpc.status.CANCELLED],
  [ErrorCode.FAILED_PRECONDITION, grpc.status.FAILED_PRECONDITION],
  [ErrorCode.UNAVAILABLE, grpc.status.UNAVAILABLE],
  [ErrorCode.CORRUPTION, grpc.status.INTERNAL],
  [ErrorCode.INTERNAL, grpc.status.INTERNAL],
  [ErrorCode.TXN_CONFLICT, grpc.status.ABORTED],
  [ErrorCode.UNSUPPORTED_FORMAT, grpc.status.FAILED_PRECONDITION],
];

Deno.test("grpcStatusOf() covers every ErrorCode", () => {
  assert.deepEqual(new Set(table.map(([c]) => c)), new Set(Object.values(ErrorCode)));
});

for (const [code, status] of table) {
  Deno.test(`toServiceError() maps ${code} to ${grpc.status[status]} and back`, () => {
    assert.equal(grpcStatusOf(code), status);
    const se = toServiceError(new RangeDbError(code, "Cannot do it: x is y"));
    assert.equal(se.code, status);
    assert.equal(se.details, "Cannot do it: x is y");
    assert.deepEqual(se.metadata.get(ERROR_CODE_KEY), [code]);
    const back = fromServiceError(se);
    assert.equal(back.code, code);
    assert.equal(back.message, "Cannot do it: x is y");
    assert.equal(back.details.transport, false);
  });
}

Deno.test("toServiceError() sends the leader's client address when known", () => {
  const se = toServiceError(new RangeDbError(ErrorCode.NOT_LEADER, "Cannot write: x"), {
    leaderClientAddress: "127.0.0.1:8081",
  });
  assert.deepEqual(se.metadata.get(LEADER_CLIENT_ADDRESS_KEY), ["127.0.0.1:8081"]);
  assert.equal(fromServiceError(se).details.leaderClientAddress, "127.0.0.1:8081");
});

Deno.test("toServiceError() turns an unknown error into a logged INTERNAL", () => {
  const logger = quietLogger();
  const se = toServiceError(new TypeError("x is not a function"), { logger });
  assert.equal(se.code, grpc.status.INTERNAL);
  assert.equal(se.details, "x is not a function");
  assert.equal(logger.lines.length, 1);
  assert.match(logger.lines[0], /rpc internal error/);
});

Deno.test("fromServiceError() maps a transport status without RangeDB metadata", () => {
  const err = Object.assign(new Error("14 UNAVAILABLE: No connection established"), {
    code: grpc.status.UNAVAILABLE,
    details: "No connection established",
    metadata: new grpc.Metadata(),
  });
  const back = fromServiceError(err);
  assert.equal(back.code, ErrorCode.UNAVAILABLE);
  assert.equal(back.details.transport, true);
  const deadline = fromServiceError({ ...err, code: grpc.status.DEADLINE_EXCEEDED });
  assert.equal(deadline.code, ErrorCode.TIMEOUT);
  assert.equal(fromServiceError({ ...err, code: grpc.status.UNKNOWN }).code, ErrorCode.INTERNAL);
});

Deno.test("toServiceError() sends plain details that fromServiceError() gives back", () => {
  const se = toServiceError(
    new RangeDbError(ErrorCode.NOT_LEADER, "Cannot write: not the leader", {
      details: {
        leaderNodeId: 3,
        rangeId: 7,
        ambiguous: false,
        why: "moved",
        key: new Uint8Array([1]),
        nested: { a: 1 },
        transport: true,
        grpcCode: 14,
      },
    }),
  );
  assert.deepEqual(JSON.parse(String(se.metadata.get(ERROR_DETAILS_KEY)[0])), {
    leaderNodeId: 3,
    rangeId: 7,
    ambiguous: false,
    why: "moved",
  });
  const back = fromServiceError(se);
  assert.deepEqual(back.details, {
    leaderNodeId: 3,
    rangeId: 7,
    ambiguous: false,
    why: "moved",
    grpcCode: grpc.status.UNAVAILABLE,
    transport: false,
  });
  // Details of a status without RangeDB's code (not from a RangeDB handler) are ignored.
  se.metadata.remove(ERROR_CODE_KEY);
  assert.equal(fromServiceError(se).details.leaderNodeId, undefined);
  se.metadata.set(ERROR_CODE_KEY, "NOT_LEADER");
  se.metadata.set(ERROR_DETAILS_KEY, "not json");
  assert.equal(fromServiceError(se).details.leaderNodeId, undefined);
});
