/**
 * An in-memory {@linkcode Engine} for unit tests of the layers above storage. Each keyspace is a
 * sorted array searched by binary search; snapshots share the arrays copy-on-write.
 *
 * @module
 */

import {
  type Engine,
  type EngineStats,
  type Keyspace,
  KEYSPACES,
  type KeyspaceStats,
  type KeyValue,
  type ScanOptions,
  type Snapshot,
  type ViewVisitor,
  type WriteBatch,
  type WriteOptions,
} from "./engine.ts";
import { compareBytes } from "../base/key_encoding.ts";
import { checkOp, OpWriteBatch, ownBatch } from "./_write_batch.ts";
import { closedError, resolveScan } from "./_scan_options.ts";

/**
 * One keyspace: keys sorted by {@linkcode compareBytes}, values at the same positions.
 * Invariant: once `shared` is true (a snapshot or a running scan holds it) the arrays are never
 * mutated again; the engine writes to a copy instead.
 */
interface Table {
  keys: Uint8Array[];
  values: Uint8Array[];
  shared: boolean;
}

type Tables = Record<Keyspace, Table>;

/** Index of the first key >= `key` (keys.length when none). */
function lowerBound(keys: Uint8Array[], key: Uint8Array): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareBytes(keys[mid], key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function getIn(table: Table, key: Uint8Array): Uint8Array | undefined {
  const i = lowerBound(table.keys, key);
  if (i < table.keys.length && compareBytes(table.keys[i], key) === 0) {
    return table.values[i].slice();
  }
  return undefined;
}

function* scanIn(table: Table, options: ScanOptions | undefined): Generator<KeyValue> {
  const { start, end, reverse, limit } = resolveScan(options);
  const lo = start === undefined ? 0 : lowerBound(table.keys, start);
  const hi = end === undefined ? table.keys.length : lowerBound(table.keys, end);
  let emitted = 0;
  if (reverse) {
    for (let i = hi - 1; i >= lo && emitted < limit; i--, emitted++) {
      yield { key: table.keys[i].slice(), value: table.values[i].slice() };
    }
  } else {
    for (let i = lo; i < hi && emitted < limit; i++, emitted++) {
      yield { key: table.keys[i].slice(), value: table.values[i].slice() };
    }
  }
}

/**
 * Visits a table's pairs like {@linkcode scanIn}, each as copies that are overwritten with 0xee
 * once `visit` returns: the views of the LMDB engine are reused likewise, and a caller that kept
 * one then sees garbage in the tests run over this engine too.
 */
function visitIn(table: Table, options: ScanOptions | undefined, visit: ViewVisitor): void {
  for (const { key, value } of scanIn(table, options)) {
    const proceed = visit(key, value);
    key.fill(0xee);
    value.fill(0xee);
    if (proceed === false) return;
  }
}

/** Marks every table shared and returns the current set, as a snapshot would see it. */
function shareAll(tables: Tables): Tables {
  for (const ks of KEYSPACES) tables[ks].shared = true;
  return { ...tables };
}

class MemorySnapshot implements Snapshot {
  #tables: Tables | undefined;

  constructor(tables: Tables, readonly isEngineOpen: () => boolean) {
    this.#tables = tables;
  }

  #open(action: string): Tables {
    if (!this.isEngineOpen()) throw closedError(action, "engine");
    if (this.#tables === undefined) throw closedError(action, "snapshot");
    return this.#tables;
  }

  get(keyspace: Keyspace, key: Uint8Array): Uint8Array | undefined {
    return getIn(this.#open("read key")[keyspace], key);
  }

  scan(keyspace: Keyspace, options?: ScanOptions): Iterable<KeyValue> {
    this.#open("scan");
    resolveScan(options);
    return this.#scanLazily(keyspace, options);
  }

  *#scanLazily(keyspace: Keyspace, options: ScanOptions | undefined): Generator<KeyValue> {
    yield* scanIn(this.#open("scan")[keyspace], options);
  }

  visitViews(keyspace: Keyspace, options: ScanOptions | undefined, visit: ViewVisitor): void {
    const table = this.#open("scan")[keyspace];
    visitIn(table, options, visit);
  }

  close(): void {
    this.#tables = undefined;
  }
}

/** The in-memory engine; see {@linkcode createMemoryEngine}. */
export class MemoryEngine implements Engine {
  #tables: Tables;
  #open = true;

  constructor() {
    const tables: Partial<Tables> = {};
    for (const ks of KEYSPACES) tables[ks] = { keys: [], values: [], shared: false };
    this.#tables = tables as Tables;
  }

  #check(action: string): void {
    if (!this.#open) throw closedError(action, "engine");
  }

  /** The table of `keyspace`, copied first when a snapshot shares it. */
  #writable(keyspace: Keyspace): Table {
    const table = this.#tables[keyspace];
    if (!table.shared) return table;
    const copy = { keys: table.keys.slice(), values: table.values.slice(), shared: false };
    this.#tables[keyspace] = copy;
    return copy;
  }

  get(keyspace: Keyspace, key: Uint8Array): Uint8Array | undefined {
    this.#check("read key");
    return getIn(this.#tables[keyspace], key);
  }

  /** Iterates the state as of its first step: writes during the iteration are not seen by it. */
  scan(keyspace: Keyspace, options?: ScanOptions): Iterable<KeyValue> {
    this.#check("scan");
    resolveScan(options);
    return this.#scanLazily(keyspace, options);
  }

  *#scanLazily(keyspace: Keyspace, options: ScanOptions | undefined): Generator<KeyValue> {
    this.#check("scan");
    const table = this.#tables[keyspace];
    table.shared = true;
    yield* scanIn(table, options);
  }

  /** Visits the state as of the call; a write made by `visit` is not seen by it. */
  visitViews(keyspace: Keyspace, options: ScanOptions | undefined, visit: ViewVisitor): void {
    this.#check("scan");
    const table = this.#tables[keyspace];
    table.shared = true;
    visitIn(table, options, visit);
  }

  batch(): WriteBatch {
    this.#check("start batch");
    return new OpWriteBatch(this);
  }

  /** Applies the batch synchronously; `sync` has no meaning in memory. */
  write(batch: WriteBatch, _options?: WriteOptions): Promise<void> {
    try {
      this.#check("write batch");
      const ops = ownBatch(batch, this).ops;
      // Validating every operation first makes the application below unable to fail midway.
      ops.forEach(checkOp);
      for (const op of ops) {
        const table = this.#writable(op.keyspace);
        const i = lowerBound(table.keys, op.key);
        const found = i < table.keys.length && compareBytes(table.keys[i], op.key) === 0;
        if (op.kind === "put") {
          const value = op.value.slice();
          if (found) table.values[i] = value;
          else {
            table.keys.splice(i, 0, op.key.slice());
            table.values.splice(i, 0, value);
          }
        } else if (op.kind === "delete") {
          if (found) {
            table.keys.splice(i, 1);
            table.values.splice(i, 1);
          }
        } else {
          const j = lowerBound(table.keys, op.end);
          table.keys.splice(i, j - i);
          table.values.splice(i, j - i);
        }
      }
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  snapshot(): Snapshot {
    this.#check("take snapshot");
    return new MemorySnapshot(shareAll(this.#tables), () => this.#open);
  }

  stats(): EngineStats {
    this.#check("read stats");
    const keyspaces: Partial<Record<Keyspace, KeyspaceStats>> = {};
    for (const ks of KEYSPACES) {
      const { keys, values } = this.#tables[ks];
      let logicalBytes = 0;
      for (let i = 0; i < keys.length; i++) logicalBytes += keys[i].length + values[i].length;
      keyspaces[ks] = { entries: keys.length, logicalBytes };
    }
    return { keyspaces: keyspaces as Record<Keyspace, KeyspaceStats>, diskBytes: 0 };
  }

  close(): Promise<void> {
    this.#open = false;
    return Promise.resolve();
  }
}

/**
 * Creates an empty in-memory engine. Writes are atomic and ordered like LMDB's; nothing is
 * persisted. Keys and values are copied on the way in and out, so callers own what they get.
 *
 * @returns the open engine
 *
 * @example
 * ```ts
 * import { createMemoryEngine } from "./memory_engine.ts";
 * const engine = createMemoryEngine();
 * const batch = engine.batch();
 * batch.put("data", new Uint8Array([1]), new Uint8Array([42]));
 * await engine.write(batch);
 * engine.get("data", new Uint8Array([1])); // Uint8Array [42]
 * await engine.close();
 * ```
 */
export function createMemoryEngine(): MemoryEngine {
  return new MemoryEngine();
}
