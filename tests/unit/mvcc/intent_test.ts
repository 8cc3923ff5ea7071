import assert from "node:assert/strict";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import { decodeIntent, encodeIntent, type Intent } from "../../../src/mvcc/intent.ts";

const enc = new TextEncoder();
const intent: Intent = {
  key: enc.encode("/a"),
  txnId: "txn-ünï",
  primaryKey: enc.encode("/primary"),
  startTimestamp: { wallMs: 1_700_000_000_123, logical: 7 },
  value: new Uint8Array([0, 1, 2]),
  expiresAtMs: 1_700_000_060_000,
};

Deno.test("decodeIntent() inverts encodeIntent() with a value and with a deletion", () => {
  assert.deepEqual(decodeIntent(intent.key, encodeIntent(intent)), intent);
  const deletion = { ...intent, value: undefined };
  assert.deepEqual(decodeIntent(intent.key, encodeIntent(deletion)), deletion);
  const empty = { ...intent, value: new Uint8Array() };
  assert.deepEqual(decodeIntent(intent.key, encodeIntent(empty)), empty);
});

Deno.test("decodeIntent() refuses unknown formats and truncated records", () => {
  const stored = encodeIntent(intent);
  const newer = stored.slice();
  newer[0] = 2;
  assert.throws(
    () => decodeIntent(intent.key, newer),
    (e) => isRangeDbError(e, ErrorCode.UNSUPPORTED_FORMAT),
  );
  for (const cut of [0, 10, 22, 30]) {
    assert.throws(
      () => decodeIntent(intent.key, stored.subarray(0, cut)),
      (e) => isRangeDbError(e, ErrorCode.CORRUPTION),
      `cut at ${cut}`,
    );
  }
});

Deno.test("encodeIntent() refuses an expiry that is not a non-negative integer", () => {
  assert.throws(
    () => encodeIntent({ ...intent, expiresAtMs: -1 }),
    (e) => isRangeDbError(e, ErrorCode.INVALID_ARGUMENT),
  );
});
