import assert from "node:assert/strict";
import { Inflights } from "../../../../src/raft/tracker/inflights.ts";
import { isRaftError } from "../../../../src/raft/mod.ts";

Deno.test("Inflights.add() fills the window by count and wraps around", () => {
  const f = new Inflights(3, 0);
  f.add(1, 10);
  f.add(2, 10);
  assert.equal(f.full(), false);
  f.add(3, 10);
  assert.equal(f.full(), true);
  assert.throws(() => f.add(4, 10), (e) => isRaftError(e, "ErrInvariant"));
  f.freeLE(2);
  assert.equal(f.count, 1);
  f.add(4, 10);
  f.add(5, 10); // wraps to the start of the buffer
  assert.equal(f.count, 3);
  f.freeLE(4);
  assert.equal(f.count, 1);
  assert.equal(f.bytes, 10);
});

Deno.test("Inflights.full() honours the byte limit", () => {
  const f = new Inflights(10, 100);
  f.add(1, 60);
  assert.equal(f.full(), false);
  f.add(2, 40);
  assert.equal(f.full(), true);
  f.freeLE(1);
  assert.equal(f.full(), false);
  assert.equal(f.bytes, 40);
});

Deno.test("Inflights.freeLE() ignores indexes below the oldest and frees everything above", () => {
  const f = new Inflights(5, 0);
  for (const i of [3, 5, 7]) f.add(i, 1);
  f.freeLE(2);
  assert.equal(f.count, 3);
  f.freeLE(6);
  assert.equal(f.count, 1);
  f.freeLE(100);
  assert.equal(f.count, 0);
  assert.equal(f.bytes, 0);
});

Deno.test("Inflights.freeFirstOne() frees only the oldest append", () => {
  const f = new Inflights(2, 0);
  f.add(1, 5);
  f.add(2, 6);
  f.freeFirstOne();
  assert.equal(f.count, 1);
  assert.equal(f.bytes, 6);
});

Deno.test("Inflights.clone() copies the window independently", () => {
  const f = new Inflights(3, 0);
  f.add(1, 1);
  f.add(2, 1);
  const c = f.clone();
  f.freeLE(2);
  assert.equal(c.count, 2);
  assert.equal(f.count, 0);
});
