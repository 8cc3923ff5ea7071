import assert from "node:assert/strict";
import { ManualClock } from "../../../src/base/clock.ts";
import { isRangeDbError } from "../../../src/base/errors.ts";
import {
  isUuid,
  randomClusterId,
  randomNodeId,
  RequestIds,
  seededRandomBytes,
  uuidV4,
  uuidV7,
} from "../../../src/base/ids.ts";

const fill = (byte: number) => (buf: Uint8Array) => buf.fill(byte);

Deno.test("randomNodeId() returns a positive safe integer using 53 bits", () => {
  assert.equal(randomNodeId(fill(0xff)), Number.MAX_SAFE_INTEGER);
  const ids = new Set<number>();
  for (let i = 0; i < 100; i++) {
    const id = randomNodeId();
    assert.ok(Number.isSafeInteger(id) && id > 0);
    ids.add(id);
  }
  assert.equal(ids.size, 100);
});

Deno.test("randomNodeId() draws again instead of returning 0", () => {
  let calls = 0;
  const id = randomNodeId((buf) => buf.fill(calls++ === 0 ? 0 : 1));
  assert.equal(calls, 2);
  assert.equal(id, 0x01010101010101);
});

Deno.test("randomClusterId() returns 16 hex digits", () => {
  assert.equal(randomClusterId(fill(0xab)), "abababababababab");
  assert.match(randomClusterId(), /^[0-9a-f]{16}$/);
});

Deno.test("uuidV4() sets the version and variant bits", () => {
  assert.equal(uuidV4(fill(0xff)), "ffffffff-ffff-4fff-bfff-ffffffffffff");
  assert.equal(uuidV4(fill(0)), "00000000-0000-4000-8000-000000000000");
  assert.ok(isUuid(uuidV4()));
});

Deno.test("uuidV7() puts the time first so ids sort by creation time", () => {
  const clock = new ManualClock({ now: 0x0123456789ab });
  assert.equal(uuidV7(clock, fill(0)), "01234567-89ab-7000-8000-000000000000");
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    ids.push(uuidV7(clock));
    clock.advance(1);
  }
  assert.deepEqual([...ids].sort(), ids);
});

Deno.test("uuidV7() refuses a time before the epoch", () => {
  const clock = new ManualClock({ now: -1 });
  assert.throws(() => uuidV7(clock), (e) => isRangeDbError(e, "INVALID_ARGUMENT"));
});

Deno.test("seededRandomBytes() is reproducible per seed", () => {
  const a = seededRandomBytes(42)(new Uint8Array(32));
  const b = seededRandomBytes(42)(new Uint8Array(32));
  const c = seededRandomBytes(43)(new Uint8Array(32));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.equal(uuidV4(seededRandomBytes(0)), uuidV4(seededRandomBytes(0)));
});

Deno.test("RequestIds.next() is strictly increasing from the start", () => {
  const ids = new RequestIds({ start: 5 });
  assert.deepEqual([ids.next(), ids.next(), ids.next()], [5, 6, 7]);
  assert.equal(new RequestIds().next(), 1);
});

Deno.test("RequestIds refuses a bad start and stops before losing precision", () => {
  assert.throws(() => new RequestIds({ start: 1.5 }), (e) => isRangeDbError(e, "INVALID_ARGUMENT"));
  const ids = new RequestIds({ start: Number.MAX_SAFE_INTEGER - 1 });
  assert.equal(ids.next(), Number.MAX_SAFE_INTEGER - 1);
  assert.throws(() => ids.next(), (e) => isRangeDbError(e, "INTERNAL"));
});

Deno.test("isUuid() checks the 8-4-4-4-12 lowercase hex shape", () => {
  assert.equal(isUuid("01234567-89ab-7000-8000-000000000000"), true);
  assert.equal(isUuid("01234567-89AB-7000-8000-000000000000"), false);
  assert.equal(isUuid("0123456789ab70008000000000000000"), false);
});
