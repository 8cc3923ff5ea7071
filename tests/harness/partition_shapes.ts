/**
 * Partition shapes for fault tests, as groups of node indexes: two nodes can talk iff some group
 * holds both, and a node in no group is cut from every other node. Overlapping groups make a
 * bridge node. Pure functions: the shapes of a cluster size, the pairs a shape cuts, and a shape
 * drawn from a seeded random source.
 *
 * @example
 * ```ts
 * import { cutPairs, partitionShapes } from "./partition_shapes.ts";
 * const bridge = partitionShapes(5).find((s) => s.name === "bridge")!;
 * bridge.groups; // [[0, 1, 2], [2, 3, 4]]
 * cutPairs(bridge.groups, 5); // [[0, 3], [0, 4], [1, 3], [1, 4]]
 * ```
 *
 * @module
 */

/** A named partition of a cluster's nodes. */
export interface PartitionShape {
  /** What the shape is, e.g. "isolate 2", "split 3|2", "bridge", "ring". */
  name: string;
  /** Node indexes that can talk to each other; see the module doc. */
  groups: number[][];
}

/**
 * Whether nodes `i` and `j` can talk under `groups` (a node can always talk to itself).
 *
 * @param groups the partition
 * @param i a node
 * @param j another node
 * @returns true iff some group holds both
 */
export function connected(groups: readonly (readonly number[])[], i: number, j: number): boolean {
  return i === j || groups.some((g) => g.includes(i) && g.includes(j));
}

/**
 * The pairs of nodes that `groups` separates, each as `[low, high]`, in order.
 *
 * @param groups the partition
 * @param n the number of nodes
 * @returns every pair `i < j < n` that no group holds together
 * @throws {RangeError} when a group names a node outside `0..n-1`
 */
export function cutPairs(groups: readonly (readonly number[])[], n: number): [number, number][] {
  for (const g of groups) {
    for (const i of g) {
      if (!Number.isInteger(i) || i < 0 || i >= n) {
        throw new RangeError(
          `Cannot partition as node ${i} is outside the cluster: nodes are 0..${n - 1}`,
        );
      }
    }
  }
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) if (!connected(groups, i, j)) out.push([i, j]);
  }
  return out;
}

/**
 * Formats a partition for logs, e.g. `{0,1} | {2}`; nodes in no group are shown alone.
 *
 * @param groups the partition
 * @param n the number of nodes
 * @returns the groups (sorted, nodes in no group added as singletons), or "none" when no pair
 *   is cut
 */
export function formatPartition(groups: readonly (readonly number[])[], n: number): string {
  if (cutPairs(groups, n).length === 0) return "none";
  const seen = new Set(groups.flat());
  const all = [
    ...groups.map((g) => [...new Set(g)].sort((a, b) => a - b)),
    ...[...Array(n).keys()].filter((i) => !seen.has(i)).map((i) => [i]),
  ];
  return all.map((g) => `{${g.join(",")}}`).join(" | ");
}

const range = (from: number, to: number) =>
  Array.from({ length: Math.max(0, to - from) }, (_, k) => from + k);

/**
 * Every partition shape worth testing on `n` nodes, in a fixed order:
 * - `isolate i` for each node: i is cut from every other node;
 * - `split a|b`: the first a nodes against the other b, for each minority size b ≥ 2 (b = 1 is
 *   an isolation) — for even n this includes the even split, which leaves no majority;
 * - `bridge` (n ≥ 3): two sides that share one node, e.g. {0,1,2} and {2,3,4} for 5 nodes (for
 *   odd n both sides are majorities, only through the bridge can they agree);
 * - `ring` (n = 4 or 5): each node talks only to its two neighbours, so every node sees a
 *   majority but no two nodes see the same one.
 *
 * @param n the number of nodes (at least 2)
 * @returns the shapes, with distinct names and (for n ≥ 3) distinct cut sets
 * @throws {RangeError} when n is not an integer ≥ 2
 */
export function partitionShapes(n: number): PartitionShape[] {
  if (!Number.isInteger(n) || n < 2) {
    throw new RangeError(`Cannot list partition shapes as a cluster needs 2+ nodes: n is ${n}`);
  }
  const shapes: PartitionShape[] = [];
  for (let i = 0; i < n; i++) {
    shapes.push({ name: `isolate ${i}`, groups: [range(0, n).filter((j) => j !== i), [i]] });
  }
  for (let minority = 2; minority <= Math.floor(n / 2); minority++) {
    shapes.push({
      name: `split ${n - minority}|${minority}`,
      groups: [range(0, n - minority), range(n - minority, n)],
    });
  }
  if (n >= 3) {
    const bridge = Math.floor(n / 2);
    shapes.push({ name: "bridge", groups: [range(0, bridge + 1), range(bridge, n)] });
  }
  if (n === 4 || n === 5) {
    shapes.push({ name: "ring", groups: range(0, n).map((i) => [i, (i + 1) % n]) });
  }
  return shapes;
}

/**
 * Draws one of {@linkcode partitionShapes}(n) and relabels its nodes by a random permutation, so
 * that over many draws any node can be the isolated one, the bridge or a minority member.
 *
 * @param n the number of nodes
 * @param random a seeded source of numbers in [0, 1)
 * @returns the shape with relabelled groups (an isolation is named after the node it isolates)
 */
export function randomPartition(n: number, random: () => number): PartitionShape {
  const shapes = partitionShapes(n);
  const shape = shapes[Math.floor(random() * shapes.length)];
  const perm = range(0, n);
  for (let k = n - 1; k > 0; k--) {
    const r = Math.floor(random() * (k + 1));
    [perm[k], perm[r]] = [perm[r], perm[k]];
  }
  const groups = shape.groups.map((g) => g.map((i) => perm[i]));
  const name = shape.name.startsWith("isolate ") ? `isolate ${groups[1][0]}` : shape.name;
  return { name, groups };
}
