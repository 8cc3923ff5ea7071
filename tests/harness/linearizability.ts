/**
 * A Wing–Gong / Lowe style linearizability checker for per-key registers with read, write and
 * compare-and-swap. Each key is checked on its own (linearizability is compositional), by a
 * depth-first search over the orders the history allows, with Lowe's cache of already explored
 * (linearized set, register value) configurations.
 *
 * An operation whose outcome is unknown (timeout, crash: `ret` undefined) may or may not have
 * taken effect: the search may linearize it at any point after its call, or never. Unknown reads
 * constrain nothing and are ignored.
 *
 * Unknown operations are what makes the search expensive: each stays pending to the end, and the
 * search may try it at every point. Before searching, {@linkcode pruneUnobserved} drops the unknown
 * writes and compare-and-swaps whose value no operation ever observed, which never changes the
 * verdict (the proof is at that function).
 *
 * @module
 */

/** A register value; `null` means never written. */
export type RegisterValue = string | null;

/** What an operation did to one register, as its client saw it. */
export type RegisterOp =
  | { kind: "read"; value: RegisterValue }
  | { kind: "write"; value: string }
  /**
   * `ok` is the reported result; it is ignored when the outcome is unknown. `actual` is the value
   * a definitely failed cas found, when the server told it (a failed cas is then also a read).
   */
  | { kind: "cas"; expected: RegisterValue; value: string; ok: boolean; actual?: RegisterValue };

/** One operation of a client history. */
export interface HistoryOp {
  /** Unique id, used in reports. */
  id: number;
  key: string;
  /** Logical time of the invocation. */
  call: number;
  /** Logical time of the response; undefined when the outcome is unknown ("maybe"). */
  ret: number | undefined;
  op: RegisterOp;
}

/** The verdict for one history. */
export type LinearizabilityResult =
  | { ok: true }
  /** The search ran out of its step budget for `key`: neither proven nor refuted. */
  | { ok: "unknown"; key: string }
  /**
   * `ops` are the key's operations by call time; `stuck` is the operation the search could not
   * place at its deepest point (the pending one that returned first), where to start reading.
   */
  | { ok: false; key: string; ops: HistoryOp[]; stuck: HistoryOp };

/** Options of {@linkcode checkLinearizable}. */
export interface CheckOptions {
  /**
   * The register value before any operation.
   * @default null
   */
  initial?: RegisterValue;
  /**
   * Search steps allowed per key before giving up with "unknown".
   * @default 2_000_000
   */
  maxSteps?: number;
  /**
   * Drop unobserved unknown writes and cas first ({@linkcode pruneUnobserved}); verdicts are the
   * same either way, only the cost differs.
   * @default true
   */
  prune?: boolean;
}

/** The verdict for one key, as {@linkcode checkEachKey} returns it. */
export type KeyVerdict =
  | { ok: true; key: string }
  | { ok: "unknown"; key: string }
  | { ok: false; key: string; ops: HistoryOp[]; stuck: HistoryOp };

/**
 * Checks that a history of register operations is linearizable, key by key.
 *
 * @param history every operation of every client, in any order
 * @param options initial value, search budget and pruning
 * @returns ok, or the first key whose history is not linearizable (or too costly to decide)
 * @example
 * ```ts
 * import { checkLinearizable } from "./linearizability.ts";
 * const r = checkLinearizable([
 *   { id: 1, key: "x", call: 0, ret: 2, op: { kind: "write", value: "a" } },
 *   { id: 2, key: "x", call: 1, ret: 3, op: { kind: "read", value: "a" } },
 * ]);
 * r.ok; // true
 * ```
 */
export function checkLinearizable(
  history: readonly HistoryOp[],
  options: CheckOptions = {},
): LinearizabilityResult {
  for (const verdict of checkEachKey(history, options, { stopAtFirst: true })) {
    if (verdict.ok === "unknown") return { ok: "unknown", key: verdict.key };
    if (verdict.ok === false) return verdict;
  }
  return { ok: true };
}

/**
 * Checks every key of a history on its own and returns every key's verdict, in key order: for
 * reports that name each failing key rather than the first.
 *
 * @param history every operation of every client, in any order
 * @param options initial value, search budget and pruning
 * @param control `stopAtFirst`: end after the first key that is not proven linearizable
 * @returns one verdict per key that has an operation with a known outcome or an unknown write
 * @example
 * ```ts
 * import { checkEachKey } from "./linearizability.ts";
 * const verdicts = checkEachKey([
 *   { id: 1, key: "x", call: 0, ret: 1, op: { kind: "read", value: "never written" } },
 *   { id: 2, key: "y", call: 0, ret: 1, op: { kind: "read", value: null } },
 * ]);
 * verdicts.map((v) => v.ok); // [false, true]
 * ```
 */
export function checkEachKey(
  history: readonly HistoryOp[],
  options: CheckOptions = {},
  control: { stopAtFirst?: boolean } = {},
): KeyVerdict[] {
  const { initial = null, maxSteps = 2_000_000, prune = true } = options;
  const byKey = groupByKey(history);
  const out: KeyVerdict[] = [];
  for (const key of [...byKey.keys()].sort()) {
    const all = byKey.get(key)!;
    const ops = prune ? pruneKey(all) : all;
    const verdict = checkRegister(ops, initial, maxSteps);
    if (verdict === true) {
      out.push({ ok: true, key });
      continue;
    }
    if (verdict === "unknown") out.push({ ok: "unknown", key });
    else {out.push({
        ok: false,
        key,
        ops: [...all].sort((a, b) => a.call - b.call),
        stuck: verdict,
      });}
    if (control.stopAtFirst) break;
  }
  return out;
}

/** The operations of each key, without the reads whose outcome is unknown (they say nothing). */
function groupByKey(history: readonly HistoryOp[]): Map<string, HistoryOp[]> {
  const byKey = new Map<string, HistoryOp[]>();
  for (const h of history) {
    if (h.ret === undefined && h.op.kind === "read") continue;
    let ops = byKey.get(h.key);
    if (ops === undefined) byKey.set(h.key, ops = []);
    ops.push(h);
  }
  return byKey;
}

/**
 * Drops every unknown write and unknown cas whose value no operation observed: no read returned
 * it, no cas expected it, no failed cas found it. Repeats until nothing more goes (dropping an
 * unknown cas forgets its expected value). Unknown reads are dropped too.
 *
 * Why the verdict stays the same. Dropping an unknown operation `u` is the same as choosing that
 * it never took effect, which the checker may always choose, so a linearizable pruned history
 * means a linearizable full one. Conversely, take an order of the full history in which `u` took
 * effect, writing `v`. The next operation after `u` that the order lets take effect cannot need
 * the register to hold `v` (nothing reads `v`, expects `v` or finds `v`), and cannot need it to
 * hold anything else either unless it is a failed cas that does not say what it found (it could
 * fail because of `v` and would then need the older value to differ from its expected one): so it
 * is a write, or there is none. Removing `u` from the order leaves every other operation's
 * outcome and real-time constraint as it was. A key with a failed cas that does not say what it
 * found is therefore not pruned.
 *
 * @param history every operation of every client, in any order
 * @returns the operations the checker must consider
 * @example
 * ```ts
 * import { pruneUnobserved } from "./linearizability.ts";
 * const kept = pruneUnobserved([
 *   { id: 1, key: "x", call: 0, ret: undefined, op: { kind: "write", value: "lost" } },
 *   { id: 2, key: "x", call: 1, ret: 2, op: { kind: "read", value: null } },
 * ]);
 * kept.map((h) => h.id); // [2]
 * ```
 */
export function pruneUnobserved(history: readonly HistoryOp[]): HistoryOp[] {
  const out: HistoryOp[] = [];
  for (const ops of groupByKey(history).values()) out.push(...pruneKey(ops));
  return out;
}

/** {@linkcode pruneUnobserved} of one key's operations (unknown reads already gone). */
function pruneKey(ops: readonly HistoryOp[]): readonly HistoryOp[] {
  const blind = ops.some((h) =>
    h.ret !== undefined && h.op.kind === "cas" && !h.op.ok && h.op.actual === undefined
  );
  if (blind) return ops;
  let kept = ops;
  for (;;) {
    const observed = new Set<RegisterValue>();
    for (const { op } of kept) {
      if (op.kind === "read") observed.add(op.value);
      if (op.kind === "cas") {
        observed.add(op.expected);
        if (op.actual !== undefined) observed.add(op.actual);
      }
    }
    const next = kept.filter((h) =>
      h.ret !== undefined || h.op.kind === "read" || observed.has(h.op.value)
    );
    if (next.length === kept.length) return kept;
    kept = next;
  }
}

/**
 * The register model: the value after applying `h` to `state`, or undefined when `h` cannot take
 * effect there (a read of another value, a definite cas whose outcome or found value contradicts
 * the state, or an unknown cas that would fail, which is the same as never having happened).
 */
function stepModel(state: RegisterValue, h: HistoryOp): RegisterValue | undefined {
  const op = h.op;
  switch (op.kind) {
    case "read":
      return op.value === state ? state : undefined;
    case "write":
      return op.value;
    case "cas":
      if (h.ret === undefined || op.ok) return state === op.expected ? op.value : undefined;
      if (state === op.expected) return undefined;
      return op.actual === undefined || op.actual === state ? state : undefined;
  }
}

/**
 * Searches one key's operations: true when linearizable, "unknown" when over budget, otherwise
 * the operation the search got stuck on at its deepest point.
 */
function checkRegister(
  unsorted: readonly HistoryOp[],
  initial: RegisterValue,
  maxSteps: number,
): true | "unknown" | HistoryOp {
  const ops = [...unsorted].sort((a, b) => a.call - b.call);
  const n = ops.length;
  const ret = ops.map((h) => h.ret ?? Infinity);
  const definite = ops.reduce((k, h) => k + (h.ret === undefined ? 0 : 1), 0);
  const done = new Uint16Array(Math.ceil(n / 16) + 1);
  const seen = new Set<string>();
  let steps = 0;
  let deepest = -1;
  let stuck = ops[0];

  const cacheKey = (state: RegisterValue) =>
    String.fromCharCode(...done) + (state === null ? "\u0000" : "\u0001" + state);

  const search = (state: RegisterValue, linearized: number): boolean | "unknown" => {
    if (linearized === definite) return true;
    if (++steps > maxSteps) return "unknown";
    // An op may go next only if it was called before every pending definite op returned.
    let minRet = Infinity;
    let first = 0;
    for (let i = 0; i < n; i++) {
      if (!isDone(done, i) && ret[i] < minRet) {
        minRet = ret[i];
        first = i;
      }
    }
    if (linearized > deepest) {
      deepest = linearized;
      stuck = ops[first];
    }
    for (let i = 0; i < n && ops[i].call < minRet; i++) {
      if (isDone(done, i)) continue;
      const next = stepModel(state, ops[i]);
      if (next === undefined) continue;
      setDone(done, i, true);
      const key = cacheKey(next);
      if (!seen.has(key)) {
        seen.add(key);
        const r = search(next, linearized + (ops[i].ret === undefined ? 0 : 1));
        if (r !== false) {
          setDone(done, i, false);
          return r;
        }
      }
      setDone(done, i, false);
    }
    return false;
  };
  const r = search(initial, 0);
  return r === false ? stuck : r;
}

function isDone(bits: Uint16Array, i: number): boolean {
  return (bits[i >>> 4] & (1 << (i & 15))) !== 0;
}

function setDone(bits: Uint16Array, i: number, on: boolean): void {
  if (on) bits[i >>> 4] |= 1 << (i & 15);
  else bits[i >>> 4] &= ~(1 << (i & 15));
}
