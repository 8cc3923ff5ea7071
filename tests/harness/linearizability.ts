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
 * @module
 */

/** A register value; `null` means never written. */
export type RegisterValue = string | null;

/** What an operation did to one register, as its client saw it. */
export type RegisterOp =
  | { kind: "read"; value: RegisterValue }
  | { kind: "write"; value: string }
  /** `ok` is the reported result; it is ignored when the outcome is unknown. */
  | { kind: "cas"; expected: RegisterValue; value: string; ok: boolean };

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
}

/**
 * Checks that a history of register operations is linearizable, key by key.
 *
 * @param history every operation of every client, in any order
 * @param options initial value and search budget
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
  const { initial = null, maxSteps = 2_000_000 } = options;
  const byKey = new Map<string, HistoryOp[]>();
  for (const h of history) {
    if (h.ret === undefined && h.op.kind === "read") continue;
    let ops = byKey.get(h.key);
    if (ops === undefined) byKey.set(h.key, ops = []);
    ops.push(h);
  }
  const keys = [...byKey.keys()].sort();
  for (const key of keys) {
    const ops = byKey.get(key)!;
    const verdict = checkRegister(ops, initial, maxSteps);
    if (verdict === "unknown") return { ok: "unknown", key };
    if (verdict !== true) {
      return { ok: false, key, ops: [...ops].sort((a, b) => a.call - b.call), stuck: verdict };
    }
  }
  return { ok: true };
}

/**
 * The register model: the value after applying `h` to `state`, or undefined when `h` cannot take
 * effect there (a read of another value, a definite cas whose outcome contradicts the state, or an
 * unknown cas that would fail, which is the same as never having happened).
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
      return state !== op.expected ? state : undefined;
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
