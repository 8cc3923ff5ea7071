import assert from "node:assert/strict";
import { ErrorCode, isRangeDbError, RangeDbError } from "../../../src/base/errors.ts";
import {
  DEFAULT_KEY_LIMITS,
  DEFAULT_MAX_KEY_BYTES,
  DEFAULT_MAX_VALUE_BYTES,
  validateKey,
  validateValue,
} from "../../../src/base/key_limits.ts";

const enc = new TextEncoder();

function refusal(fn: () => void): RangeDbError {
  try {
    fn();
  } catch (err) {
    assert.ok(isRangeDbError(err, ErrorCode.INVALID_ARGUMENT), String(err));
    return err;
  }
  assert.fail("expected a refusal");
}

function keyOfLength(n: number): Uint8Array {
  const key = new Uint8Array(n).fill(0x61);
  key[0] = 0x2f;
  return key;
}

Deno.test("DEFAULT_KEY_LIMITS holds 4096-byte keys and 8 MiB values", () => {
  assert.equal(DEFAULT_MAX_KEY_BYTES, 4096);
  assert.equal(DEFAULT_MAX_VALUE_BYTES, 8388608);
  assert.deepEqual(DEFAULT_KEY_LIMITS, { maxKeyBytes: 4096, maxValueBytes: 8388608 });
});

Deno.test("validateKey() accepts user and system keys up to the limit", () => {
  validateKey(enc.encode("/"));
  validateKey(enc.encode("/user/123"));
  validateKey(enc.encode("_/cluster/config/gc_ttl"));
  validateKey(keyOfLength(4096));
  validateKey(keyOfLength(10), { maxKeyBytes: 10, maxValueBytes: 0 });
});

Deno.test("validateKey() refuses an empty key", () => {
  assert.equal(
    refusal(() => validateKey(new Uint8Array())).message,
    "Cannot write key as it is empty",
  );
});

Deno.test("validateKey() refuses keys outside the / and _/ keyspaces", () => {
  for (const key of ["user", "_", "_x/", "\\/"]) {
    const err = refusal(() => validateKey(enc.encode(key)));
    assert.match(
      err.message,
      /^Cannot write key as it does not start with \/ or _\/: key starts with /,
    );
  }
  assert.match(refusal(() => validateKey(new Uint8Array([0, 1]))).message, /0x0001$/);
});

Deno.test("validateKey() names the limit when a key is too long", () => {
  const err = refusal(() => validateKey(keyOfLength(5000)));
  assert.equal(
    err.message,
    "Cannot write key as it exceeds the maximum key size: key is 5000 bytes, limit is 4096 bytes",
  );
  assert.deepEqual(err.details, { size: 5000, limit: 4096 });
  refusal(() => validateKey(keyOfLength(11), { maxKeyBytes: 10, maxValueBytes: 0 }));
});

Deno.test("validateValue() accepts values up to the limit and names it beyond", () => {
  validateValue(new Uint8Array());
  validateValue(new Uint8Array(DEFAULT_MAX_VALUE_BYTES));
  const err = refusal(() => validateValue(new Uint8Array(DEFAULT_MAX_VALUE_BYTES + 1)));
  assert.equal(
    err.message,
    "Cannot write value as it exceeds the maximum value size: value is 8388609 bytes, limit is 8388608 bytes",
  );
  refusal(() => validateValue(new Uint8Array(3), { maxKeyBytes: 10, maxValueBytes: 2 }));
});
