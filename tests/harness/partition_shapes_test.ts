import assert from "node:assert/strict";
import {
  connected,
  cutPairs,
  formatPartition,
  partitionShapes,
  randomPartition,
} from "./partition_shapes.ts";

/** The nodes `i` can talk to (itself included). */
function view(groups: number[][], n: number, i: number): number[] {
  return [...Array(n).keys()].filter((j) => connected(groups, i, j));
}

/** A small seeded generator (mulberry32), so the draws are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("partitionShapes() lists the shapes of 3 and 5 nodes", () => {
  assert.deepEqual(partitionShapes(3), [
    { name: "isolate 0", groups: [[1, 2], [0]] },
    { name: "isolate 1", groups: [[0, 2], [1]] },
    { name: "isolate 2", groups: [[0, 1], [2]] },
    { name: "bridge", groups: [[0, 1], [1, 2]] },
  ]);
  assert.deepEqual(partitionShapes(5).slice(5), [
    { name: "split 3|2", groups: [[0, 1, 2], [3, 4]] },
    { name: "bridge", groups: [[0, 1, 2], [2, 3, 4]] },
    { name: "ring", groups: [[0, 1], [1, 2], [2, 3], [3, 4], [4, 0]] },
  ]);
  assert.deepEqual(partitionShapes(4).map((s) => s.name), [
    "isolate 0",
    "isolate 1",
    "isolate 2",
    "isolate 3",
    "split 2|2",
    "bridge",
    "ring",
  ]);
});

Deno.test("partitionShapes() shapes cut what their names say", () => {
  for (const n of [3, 4, 5, 6, 7]) {
    const shapes = partitionShapes(n);
    assert.equal(new Set(shapes.map((s) => s.name)).size, shapes.length, `names of ${n}`);
    const cutSets = shapes.map((s) => JSON.stringify(cutPairs(s.groups, n)));
    assert.equal(new Set(cutSets).size, shapes.length, `distinct cuts of ${n}`);
    const majority = Math.floor(n / 2) + 1;
    for (const { name, groups } of shapes) {
      assert.ok(cutPairs(groups, n).length > 0, `${name} on ${n} cuts something`);
      if (name.startsWith("isolate ")) {
        const i = Number(name.split(" ")[1]);
        assert.deepEqual(view(groups, n, i), [i], `${name} on ${n}`);
      }
      if (name === "bridge") {
        const [a, b] = groups;
        const shared = a.filter((i) => b.includes(i));
        assert.equal(shared.length, 1, `one bridge node on ${n}`);
        assert.equal(view(groups, n, shared[0]).length, n, `the bridge sees all ${n}`);
        if (n % 2 === 1) assert.ok(a.length >= majority && b.length >= majority, `${n}`);
      }
      if (name === "ring") {
        for (let i = 0; i < n; i++) {
          assert.equal(view(groups, n, i).length, 3, `node ${i} sees its neighbours`);
          assert.ok(3 >= majority, `node ${i} sees a majority of ${n}`);
        }
        const views = [...Array(n).keys()].map((i) => view(groups, n, i).join());
        assert.equal(new Set(views).size, n, "no two nodes see the same majority");
      }
    }
  }
});

Deno.test("partitionShapes() refuses fewer than two nodes", () => {
  assert.throws(() => partitionShapes(1), /Cannot list partition shapes/);
  assert.throws(() => partitionShapes(2.5), RangeError);
});

Deno.test("cutPairs() lists separated pairs and refuses unknown nodes", () => {
  assert.deepEqual(cutPairs([[0, 1, 2], [2, 3, 4]], 5), [[0, 3], [0, 4], [1, 3], [1, 4]]);
  assert.deepEqual(cutPairs([[0, 1]], 3), [[0, 2], [1, 2]], "a node in no group is cut");
  assert.deepEqual(cutPairs([[0, 1, 2]], 3), []);
  assert.deepEqual(cutPairs([], 2), [[0, 1]]);
  assert.throws(() => cutPairs([[0, 3]], 3), /node 3 is outside the cluster/);
});

Deno.test("formatPartition() shows groups and lone nodes", () => {
  assert.equal(formatPartition([[1, 0]], 3), "{0,1} | {2}");
  assert.equal(formatPartition([[0, 1, 2], [2, 3, 4]], 5), "{0,1,2} | {2,3,4}");
  assert.equal(formatPartition([[0, 1, 2]], 3), "none");
});

Deno.test("randomPartition() is reproducible and relabels every shape", () => {
  const draw = (seed: number) => {
    const random = seeded(seed);
    return Array.from({ length: 200 }, () => randomPartition(5, random));
  };
  assert.deepEqual(draw(7), draw(7));
  const shapes = draw(7);
  const names = new Set(shapes.map((s) => s.name));
  for (const name of ["split 3|2", "bridge", "ring"]) assert.ok(names.has(name), name);
  for (let i = 0; i < 5; i++) assert.ok(names.has(`isolate ${i}`), `isolate ${i}`);
  const bridges = new Set(
    shapes.filter((s) => s.name === "bridge").map((s) =>
      s.groups[0].find((i) => s.groups[1].includes(i))
    ),
  );
  assert.ok(bridges.size > 1, "the bridge node varies");
  const cutsOf = new Map(partitionShapes(5).map((o) => [o.name, cutPairs(o.groups, 5).length]));
  for (const s of shapes) {
    const name = s.name.startsWith("isolate ") ? "isolate 0" : s.name;
    assert.equal(cutPairs(s.groups, 5).length, cutsOf.get(name), `${s.name} keeps its cuts`);
    if (s.name.startsWith("isolate ")) {
      const i = Number(s.name.split(" ")[1]);
      assert.deepEqual(view(s.groups, 5, i), [i], s.name);
    }
  }
});
