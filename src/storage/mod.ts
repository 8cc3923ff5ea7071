/**
 * The storage layer's public surface: the {@linkcode Engine} contract, the LMDB engine used by
 * nodes, the in-memory engine used by unit tests, and the test-only crash points and slow fsync
 * of the write path (`crash_points.ts`).
 *
 * @example
 * ```ts
 * import { openLmdbEngine } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * const engine = await openLmdbEngine(dir);
 * const batch = engine.batch();
 * batch.put("local", new TextEncoder().encode("node_id"), new Uint8Array([7]));
 * await engine.write(batch, { sync: true });
 * await engine.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

export * from "./engine.ts";
export { createMemoryEngine, MemoryEngine } from "./memory_engine.ts";
export { LmdbEngine, type LmdbEngineOptions, openLmdbEngine } from "./lmdb_engine.ts";
export { STORAGE_FORMAT_VERSION } from "./_lmdb_probe.ts";
export {
  CRASH_POINT_ARMED,
  CRASH_POINT_ENV,
  CRASH_POINTS,
  type CrashPoint,
  crashPoint,
  crashPointAfterFlush,
  type CrashPointRole,
  crashPointWatchesRange,
  SYNC_DELAY_ENV,
  validateCrashPointEnv,
} from "./crash_points.ts";
