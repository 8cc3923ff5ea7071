/**
 * The MVCC layer's public surface: versioned keys in the `data` keyspace, reads at a timestamp,
 * intents in the `locks` keyspace and garbage collection, as functions over an engine's readers
 * and batches ({@linkcode mvccGet}, {@linkcode mvccScan}, {@linkcode MvccBatch},
 * {@linkcode addGcDeletes}) and as the {@linkcode MvccStore} class.
 *
 * @module
 */

export { decodeIntent, encodeIntent, type Intent } from "./intent.ts";
export { MvccBatch } from "./mvcc_batch.ts";
export { addGcDeletes, type GcBatchOptions, type GcBatchResult } from "./mvcc_gc.ts";
export {
  mvccGet,
  type MvccGetResult,
  type MvccRow,
  mvccScan,
  type MvccScanOptions,
  type MvccScanResult,
} from "./mvcc_read.ts";
export { type GcOptions, type GcResult, MvccStore, type MvccStoreOptions } from "./mvcc_store.ts";
export {
  DATA_KEYSPACE,
  LOCKS_KEYSPACE,
  type MvccWrite,
  validateIntent,
  validateMvccKey,
  validateMvccWrite,
} from "./mvcc_write.ts";
