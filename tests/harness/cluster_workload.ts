/**
 * Workload helpers for the end-to-end cluster tests: bounded-concurrency loops, key names that
 * sort in write order, full scans into maps, and polling with a bounded wait.
 *
 * @module
 */
import type { RangeDbClient } from "../../src/client/mod.ts";

/**
 * Runs `fn` on every item with at most `concurrency` calls in flight; the first failure stops
 * new calls and is rethrown once the running ones settle.
 *
 * @param items the inputs
 * @param concurrency how many calls may run at once
 * @param fn the call
 */
export async function forEachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failure !== undefined) throw failure.err;
}

/** `/<prefix>/<i padded to 6 digits>`, so keys sort in index order. */
export function keyOf(prefix: string, i: number): string {
  return `/${prefix}/${String(i).padStart(6, "0")}`;
}

/** The value the tests write for a key: recognisable and distinct per key. */
export function valueOf(key: string): string {
  return `value of ${key}`;
}

/** The first key after every key that starts with `/<prefix>/`. */
export function prefixEnd(prefix: string): string {
  return `/${prefix}0`;
}

/**
 * Reads every pair of `/<prefix>/…` into a map.
 *
 * @param db the client
 * @param prefix the key prefix (without slashes)
 * @param serializable read without a linearizable barrier (served by the endpoint it reaches)
 * @returns key → value
 */
export async function scanPrefix(
  db: RangeDbClient,
  prefix: string,
  serializable = false,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const options = { serializable, timeoutMs: 30_000 };
  for await (const { key, value } of db.rangeText(`/${prefix}/`, prefixEnd(prefix), options)) {
    out.set(key, value);
  }
  return out;
}

/**
 * Lists what `actual` lacks or holds differently from `expected` (at most `max` entries).
 *
 * @returns human-readable differences; empty when `actual` holds every expected pair
 */
export function missingFrom(
  expected: ReadonlyMap<string, string>,
  actual: ReadonlyMap<string, string>,
  max = 10,
): string[] {
  const out: string[] = [];
  let count = 0;
  for (const [key, value] of expected) {
    const got = actual.get(key);
    if (got === value) continue;
    count++;
    if (out.length < max) out.push(got === undefined ? `${key} missing` : `${key}=${got}`);
  }
  if (count > out.length) out.push(`… ${count - out.length} more`);
  return out;
}

/**
 * Polls `probe` until it returns an empty problem list or `timeoutMs` passes.
 *
 * @param what what is awaited, for the error
 * @param timeoutMs the bound
 * @param probe returns the remaining problems (empty: done); a throw counts as a problem
 * @throws {Error} naming `what` and the last problems when the time is up
 */
export async function eventually(
  what: string,
  timeoutMs: number,
  probe: () => Promise<string[]>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let problems: string[] = [];
  for (;;) {
    try {
      problems = await probe();
    } catch (err) {
      problems = [err instanceof Error ? err.message : String(err)];
    }
    if (problems.length === 0) return;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Cannot see ${what} within ${timeoutMs} ms:\n${problems.join("\n")}`);
}
