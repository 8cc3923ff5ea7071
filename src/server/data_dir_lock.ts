/**
 * An exclusive lock on a data directory, so that two processes never open the same LMDB
 * environment as two nodes (LMDB itself allows several processes on one environment).
 *
 * @module
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode, RangeDbError } from "../base/errors.ts";

/** The lock file's name inside the data directory. */
export const LOCK_FILE = "rangedb.lock";

/** A held lock; release it on shutdown (the OS releases it when the process dies). */
export interface DataDirLock {
  release(): void;
}

/**
 * Takes the exclusive lock of `dataDir`, creating the directory when missing.
 *
 * @param dataDir the data directory
 * @returns the held lock
 * @throws {RangeDbError} FAILED_PRECONDITION when another process holds it
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  mkdirSync(dataDir, { recursive: true });
  const file = await Deno.open(join(dataDir, LOCK_FILE), { create: true, write: true });
  let locked = false;
  try {
    locked = await file.tryLock(true);
  } catch (cause) {
    file.close();
    throw new RangeDbError(
      ErrorCode.FAILED_PRECONDITION,
      `Cannot lock the data directory: ${dataDir}: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (!locked) {
    file.close();
    throw new RangeDbError(
      ErrorCode.FAILED_PRECONDITION,
      `Cannot use the data directory as it is locked by another process: ${dataDir} ` +
        `(${LOCK_FILE}); stop that node first or pick another --data-dir`,
    );
  }
  return {
    release() {
      try {
        file.close();
      } catch {
        // Already closed: releasing twice is harmless.
      }
    },
  };
}
