/**
 * The production {@linkcode Engine}: one LMDB environment per data directory (npm `lmdb`), one
 * named database per keyspace, binary keys and values.
 *
 * Writes: a batch of plain puts and deletes (nearly every batch) is encoded at once into
 * lmdb-js's write instructions, in one `batch()` block, which its writer thread executes in one
 * transaction without calling back into the main thread. A batch with a range delete or a long
 * key runs instead inside an lmdb-js child transaction (`childTransaction`) of the writer's
 * transaction, on the main thread, and a batch that throws there aborts alone. Either way,
 * batches issued while a commit is under way share the next commit (group commit), and every
 * operation is checked before any is applied.
 *
 * Durability: the environment runs in lmdb-js's default "overlapping sync" mode: the writer
 * thread flushes (fdatasync) after each commit, off the main thread, and after a machine crash
 * LMDB rolls back to the last flushed transaction instead of reading unflushed pages. A `sync`
 * batch resolves only after the flush of its commit (`flushed`); a batch without `sync` is
 * promised only to be committed (visible, safe from a process crash). lmdb-js 3.5 in fact
 * resolves commits after their flush too, so `sync: false` is not faster today; an environment
 * opened with `noSync` plus an explicit flush for sync batches would make it so, at the price of
 * LMDB's warning that a machine crash may then corrupt the file.
 *
 * Reads: `get` copies the value out of lmdb-js's reused buffer; every returned array is a plain
 * Uint8Array the caller owns. `visitViews` reads through a second handle per keyspace whose
 * ranges hand out views of lmdb-js's reused buffers instead of copies (`viewDbOptions`).
 *
 * Keys: lmdb-js refuses keys over 1978 bytes, so a key longer than 1962 bytes is stored under
 * its first 1962 bytes plus 16 bytes of its SHA-256, with the rest of the key kept in front of
 * the value (`_long_key.ts`); scans restore the logical order among such keys (`_lmdb_read.ts`).
 * Keys up to 1962 bytes, nearly all keys, are stored as themselves at no extra cost.
 *
 * @module
 */

import { open, type RootDatabase, type Transaction } from "lmdb";
import { join, resolve } from "node:path";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
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
import { type BatchOp, checkOp, OpWriteBatch, ownBatch } from "./_write_batch.ts";
import { closedError, resolveScan } from "./_scan_options.ts";
import {
  getLogical,
  type KeyspaceDb,
  lmdbFailure,
  scanLogical,
  viewDbOptions,
  visitLogical,
} from "./_lmdb_read.ts";
import {
  encodeLongValue,
  logicalBytes,
  LONG_KEY_PREFIX_BYTES,
  longPhysicalKey,
  longValueOf,
  physicalKey,
} from "./_long_key.ts";
import { prepareDataDir } from "./_lmdb_open.ts";
import { encodeFormatVersion, FORMAT_VERSION_KEY, STORAGE_FORMAT_VERSION } from "./_lmdb_probe.ts";
import { TEST_SYNC_DELAY_MS } from "./crash_points.ts";

/** Options of {@linkcode openLmdbEngine}. */
export interface LmdbEngineOptions {
  /**
   * Initial size of the memory map in bytes; lmdb-js grows it on demand, so this only saves
   * remaps when a large store is loaded.
   * @default 128 KiB (lmdb-js's default)
   */
  mapSize?: number;
  /**
   * Tests only: every synced write resolves this many milliseconds after its flush, as with a
   * slow fsync; writes still land and resolve in the order they were issued.
   * @default `RANGEDB_TEST_SYNC_DELAY_MS` (see `crash_points.ts`), unset: 0
   */
  syncDelayMs?: number;
}

/**
 * Data directories open in this process. lmdb-js shares one environment among all opens of a
 * path, so a second engine (or the read-only probe of a second open) would act on the first
 * one's environment; opening twice is refused instead.
 */
const openPaths = new Set<string>();

/**
 * Applies a put or delete of a long logical key, inside the write transaction. The slot of its
 * physical key may hold only this key: another key there (a SHA-256 prefix collision) is never
 * overwritten or deleted silently.
 *
 * @throws {RangeDbError} INTERNAL when the slot holds another key
 */
function applyLong(db: KeyspaceDb, op: BatchOp & { kind: "put" | "delete" }): void {
  const physical = longPhysicalKey(op.key);
  const stored = db.getBinary(physical);
  if (stored !== undefined) longValueOf(op.key, physical, stored);
  if (op.kind === "put") db.putSync(physical, encodeLongValue(op.key, op.value));
  else if (stored !== undefined) db.removeSync(physical);
}

/**
 * Deletes the logical keys in [start, end), inside the write transaction. With short bounds the
 * physical range holds exactly those keys (see `_long_key.ts`); a long bound needs the logical
 * filter of a scan.
 */
function applyDeleteRange(db: KeyspaceDb, start: Uint8Array, end: Uint8Array): void {
  const doomed = start.length > LONG_KEY_PREFIX_BYTES || end.length > LONG_KEY_PREFIX_BYTES
    ? Array.from(scanLogical(db, { start, end }, () => undefined), (kv) => physicalKey(kv.key))
    : Array.from(db.getKeys({ start, end }));
  for (const key of doomed) db.removeSync(key);
}

/**
 * The real error of a failed commit, when `err` is lmdb-js's "Commit failed (see commitError for
 * details)"; undefined for any other error. lmdb-js rejects the writes of a failed commit with
 * that message and puts the real error (LMDB's errno as `code`, e.g. 5 for the EIO of a short
 * write on a full disk) in a promise, `commitError`, that nobody else handles: unhandled, its
 * rejection would end the process. lmdb-js rejects it in the same callback as the writes, so by
 * now it has settled if it ever will, and a race against a settled promise reads it at once.
 */
function commitFailure(err: unknown): Promise<unknown> | undefined {
  const real = (err as { commitError?: unknown } | undefined)?.commitError;
  if (!(real instanceof Promise)) return undefined;
  real.catch(() => undefined);
  return Promise.race([real, Promise.resolve()]).then(() => err, (cause) => cause);
}

/** Whether a batch holds only puts and deletes of keys stored as themselves. */
function isPlain(ops: BatchOp[]): boolean {
  for (const op of ops) {
    if (op.kind === "deleteRange" || op.key.length > LONG_KEY_PREFIX_BYTES) return false;
  }
  return true;
}

class LmdbSnapshot implements Snapshot {
  /** The read options of every read, allocated once; undefined once closed. */
  #read: { transaction: Transaction } | undefined;

  constructor(
    transaction: Transaction,
    readonly dbs: Record<Keyspace, KeyspaceDb>,
    readonly views: Record<Keyspace, KeyspaceDb>,
    readonly onClose: (snapshot: LmdbSnapshot) => void,
  ) {
    this.#read = { transaction };
  }

  #open(action: string): { transaction: Transaction } {
    if (this.#read === undefined) throw closedError(action, "snapshot");
    return this.#read;
  }

  get(keyspace: Keyspace, key: Uint8Array): Uint8Array | undefined {
    const read = this.#open("read key");
    try {
      return getLogical(this.dbs[keyspace], key, read);
    } catch (err) {
      throw lmdbFailure("read key", err);
    }
  }

  /**
   * Ranges over an explicit transaction cost lmdb-js a new native cursor each (about 4x slower
   * for short scans), so while this snapshot's transaction is still lmdb-js's shared current read
   * transaction the range runs without one and reuses the pooled cursor. Invariant (lmdb-js 3.5
   * read.js): a read transaction that someone holds (as this snapshot does, by `use()`) is never
   * renewed in place; when a commit resets the shared transaction, a held one is marked
   * `notCurrent` and replaced, and from then on the range must name it explicitly. The check
   * runs at the first step of the iteration, when the cursor is attached.
   */
  scan(keyspace: Keyspace, options?: ScanOptions): Iterable<KeyValue> {
    const { transaction } = this.#open("scan");
    resolveScan(options);
    const held = transaction as Transaction & { notCurrent?: boolean };
    return scanLogical(this.dbs[keyspace], options, () => {
      this.#open("scan");
      return held.notCurrent ? held : undefined;
    });
  }

  /** Reads like {@linkcode LmdbSnapshot.scan}, through the view handle. */
  visitViews(keyspace: Keyspace, options: ScanOptions | undefined, visit: ViewVisitor): void {
    const held = this.#open("scan").transaction as Transaction & { notCurrent?: boolean };
    visitLogical(this.views[keyspace], options, held.notCurrent ? held : undefined, visit);
  }

  close(): void {
    if (this.#read === undefined) return;
    this.#read.transaction.done();
    this.#read = undefined;
    this.onClose(this);
  }
}

/** The LMDB engine; see {@linkcode openLmdbEngine}. */
export class LmdbEngine implements Engine {
  readonly #root: RootDatabase;
  readonly #dbs: Record<Keyspace, KeyspaceDb>;
  readonly #views: Record<Keyspace, KeyspaceDb>;
  readonly #snapshots = new Set<LmdbSnapshot>();
  readonly #pending = new Set<Promise<unknown>>();
  /** Whether LMDB failed a commit (a full disk, an I/O error); see close(). */
  #commitFailed = false;
  readonly #syncDelayMs: number;
  /** Settles after every write issued so far (only with `syncDelayMs`). */
  #delayTail: Promise<unknown> = Promise.resolve();
  #open = true;

  /** Use {@linkcode openLmdbEngine}. */
  constructor(
    readonly path: string,
    root: RootDatabase,
    dbs: Record<Keyspace, KeyspaceDb>,
    views: Record<Keyspace, KeyspaceDb>,
    syncDelayMs = 0,
  ) {
    this.#root = root;
    this.#syncDelayMs = syncDelayMs;
    this.#dbs = dbs;
    this.#views = views;
  }

  #check(action: string): void {
    if (!this.#open) throw closedError(action, "engine");
  }

  get(keyspace: Keyspace, key: Uint8Array): Uint8Array | undefined {
    this.#check("read key");
    try {
      return getLogical(this.#dbs[keyspace], key);
    } catch (err) {
      throw lmdbFailure("read key", err);
    }
  }

  /**
   * Iterates lazily over the LMDB read transaction current at the first step; writes committed
   * during the iteration are not seen by it. Finish or abandon (break out of) iterations
   * promptly, and before close(): an open one pins old pages.
   */
  scan(keyspace: Keyspace, options?: ScanOptions): Iterable<KeyValue> {
    this.#check("scan");
    resolveScan(options);
    return scanLogical(this.#dbs[keyspace], options, () => {
      this.#check("scan");
      return undefined;
    });
  }

  /** Reads the LMDB read transaction current at the call. */
  visitViews(keyspace: Keyspace, options: ScanOptions | undefined, visit: ViewVisitor): void {
    this.#check("scan");
    visitLogical(this.#views[keyspace], options, undefined, visit);
  }

  batch(): WriteBatch {
    this.#check("start batch");
    return new OpWriteBatch(this);
  }

  write(batch: WriteBatch, options?: WriteOptions): Promise<void> {
    let ops;
    try {
      this.#check("write batch");
      ops = ownBatch(batch, this).ops;
    } catch (err) {
      return Promise.reject(err);
    }
    const dbs = this.#dbs;
    // Plain batches go as write instructions; others run inside lmdb-js's write transaction (a
    // child transaction of the commit), where a throw aborts every operation of this batch.
    const committed = isPlain(ops) ? this.#writePlain(ops) : this.#root.childTransaction(() => {
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i];
        checkOp(op, i);
        const db = dbs[op.keyspace];
        if (op.key.length > LONG_KEY_PREFIX_BYTES && op.kind !== "deleteRange") {
          applyLong(db, op);
        } else if (op.kind === "put") db.putSync(op.key, op.value);
        else if (op.kind === "delete") db.removeSync(op.key);
        else applyDeleteRange(db, op.key, op.end);
      }
    });
    const sync = options?.sync ?? true;
    let settled = sync ? committed.then(() => this.#root.flushed) : committed;
    if (this.#syncDelayMs > 0) settled = this.#delayed(settled, sync);
    const done = settled.then(() => undefined).catch(async (err) => {
      const failed = commitFailure(err);
      if (failed !== undefined) this.#commitFailed = true;
      throw lmdbFailure("write batch", failed === undefined ? err : await failed);
    });
    this.#pending.add(done);
    const forget = () => this.#pending.delete(done);
    done.then(forget, forget);
    return done;
  }

  /**
   * The test-only slow fsync: a synced write resolves `syncDelayMs` after its flush, and no write
   * resolves before the writes issued earlier (as when every flush is slow).
   */
  #delayed(settled: Promise<unknown>, sync: boolean): Promise<unknown> {
    const earlier = this.#delayTail;
    const ms = this.#syncDelayMs;
    const mine = settled
      .then(() => sync ? new Promise((resolve) => setTimeout(resolve, ms)) : undefined)
      .then((v) => earlier.then(() => v));
    this.#delayTail = mine.catch(() => undefined);
    return mine;
  }

  /**
   * Writes a batch of plain puts and deletes as lmdb-js write instructions in one `batch()`
   * block: they are encoded into lmdb-js's instruction buffer now and executed by its writer
   * thread in one transaction, without the round trip to the main thread that a transaction
   * callback costs. Every operation is checked before any is encoded, so a malformed one still
   * refuses the whole batch.
   */
  #writePlain(ops: BatchOp[]): Promise<unknown> {
    try {
      for (let i = 0; i < ops.length; i++) checkOp(ops[i], i);
    } catch (err) {
      return Promise.reject(err);
    }
    const dbs = this.#dbs;
    return this.#root.batch(() => {
      for (const op of ops) {
        if (op.kind === "put") dbs[op.keyspace].put(op.key, op.value);
        else dbs[op.keyspace].remove(op.key);
      }
    });
  }

  snapshot(): Snapshot {
    this.#check("take snapshot");
    const snapshot = new LmdbSnapshot(
      this.#root.useReadTransaction(),
      this.#dbs,
      this.#views,
      (s) => this.#snapshots.delete(s),
    );
    this.#snapshots.add(snapshot);
    return snapshot;
  }

  /** Scans every keyspace for its logical size: O(entries), not for hot paths. */
  stats(): EngineStats {
    this.#check("read stats");
    const keyspaces: Partial<Record<Keyspace, KeyspaceStats>> = {};
    for (const ks of KEYSPACES) {
      let entries = 0;
      let bytes = 0;
      for (const { key, value } of this.#dbs[ks].getRange({})) {
        entries++;
        bytes += logicalBytes(key, value);
      }
      keyspaces[ks] = { entries, logicalBytes: bytes };
    }
    let diskBytes = 0;
    for (const entry of Deno.readDirSync(this.path)) {
      if (entry.isFile) diskBytes += Deno.statSync(join(this.path, entry.name)).size;
    }
    return { keyspaces: keyspaces as Record<Keyspace, KeyspaceStats>, diskBytes };
  }

  /** Closes open snapshots, waits for writes in flight, then closes the environment. */
  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    for (const snapshot of [...this.#snapshots]) snapshot.close();
    await Promise.allSettled([...this.#pending]);
    // lmdb-js never settles the flush of a failed commit, and its close() waits for it forever:
    // the environment of an engine whose write failed stays open until the process exits (which
    // is what a node does then), and its path stays registered, so it is never reopened here.
    if (this.#commitFailed) return;
    try {
      await this.#root.close();
    } finally {
      openPaths.delete(this.path);
    }
  }
}

/** The binary handles of the keyspaces, and a second, view-returning handle of each. */
function openDbs(root: RootDatabase) {
  const dbs: Partial<Record<Keyspace, KeyspaceDb>> = {};
  const views: Partial<Record<Keyspace, KeyspaceDb>> = {};
  for (const name of KEYSPACES) {
    dbs[name] = root.openDB<Uint8Array, Uint8Array>({
      name,
      keyEncoding: "binary",
      encoding: "binary",
    });
    views[name] = root.openDB<Uint8Array, Uint8Array>(viewDbOptions(name));
  }
  return {
    dbs: dbs as Record<Keyspace, KeyspaceDb>,
    views: views as Record<Keyspace, KeyspaceDb>,
  };
}

/**
 * Opens (creating if needed) the LMDB engine of a data directory.
 *
 * Before LMDB opens anything read-write, the directory is checked: a data file that is not
 * LMDB, damaged or truncated fails with CORRUPTION, one written by a newer storage format with
 * UNSUPPORTED_FORMAT, and in both cases no data file is changed. A new directory gets the
 * current format version ({@linkcode STORAGE_FORMAT_VERSION}) in the `local` keyspace.
 *
 * @param path the data directory (created when absent)
 * @param options see {@linkcode LmdbEngineOptions}
 * @returns the open engine
 * @throws {RangeDbError} INVALID_ARGUMENT when `path` is not a directory; FAILED_PRECONDITION
 * when it cannot be created or written, or is already open in this process; CORRUPTION;
 * UNSUPPORTED_FORMAT
 *
 * @example
 * ```ts
 * import { openLmdbEngine } from "./lmdb_engine.ts";
 * const dir = await Deno.makeTempDir();
 * const engine = await openLmdbEngine(dir);
 * const batch = engine.batch();
 * batch.put("data", new Uint8Array([1]), new Uint8Array([42]));
 * await engine.write(batch, { sync: true });
 * engine.get("data", new Uint8Array([1])); // Uint8Array [42]
 * await engine.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openLmdbEngine(
  path: string,
  options: LmdbEngineOptions = {},
): Promise<LmdbEngine> {
  const key = resolve(path);
  if (openPaths.has(key)) {
    throw new RangeDbError(
      ErrorCode.FAILED_PRECONDITION,
      `Cannot open storage engine as the data directory is already open in this process: ${key}`,
      { details: { path: key } },
    );
  }
  openPaths.add(key);
  try {
    return await openRegistered(key, options);
  } catch (err) {
    openPaths.delete(key);
    throw err;
  }
}

async function openRegistered(path: string, options: LmdbEngineOptions): Promise<LmdbEngine> {
  const { storedVersion } = await prepareDataDir(path);
  let root: RootDatabase;
  try {
    root = open({
      path,
      // lmdb-js treats a path with a file extension ("data.v1") as a file unless told otherwise.
      noSubdir: false,
      // No event-turn batching: the scheduler sends one batch per turn anyway, and with it a
      // failed commit (a full disk) also rejects a promise lmdb-js keeps to itself, which would
      // end the process.
      eventTurnBatching: false,
      maxDbs: KEYSPACES.length + 4,
      keyEncoding: "binary",
      encoding: "binary",
      ...(options.mapSize === undefined ? {} : { mapSize: options.mapSize }),
    });
  } catch (err) {
    throw new RangeDbError(
      ErrorCode.FAILED_PRECONDITION,
      `Cannot open storage engine as LMDB refused the data directory: ${path}: ${err}`,
      { cause: err, details: { path } },
    );
  }
  try {
    const { dbs, views } = openDbs(root);
    if (storedVersion === undefined) {
      await root.transaction(() => {
        dbs.local.putSync(FORMAT_VERSION_KEY, encodeFormatVersion(STORAGE_FORMAT_VERSION));
      });
      await root.flushed;
    }
    return new LmdbEngine(path, root, dbs, views, options.syncDelayMs ?? TEST_SYNC_DELAY_MS);
  } catch (err) {
    await root.close();
    throw lmdbFailure("initialise storage engine", err);
  }
}
