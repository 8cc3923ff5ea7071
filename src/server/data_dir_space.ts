/**
 * The disk space of a node's data directory: a start on a disk that is (nearly) full is refused
 * before the storage engine opens, and a batch that could not be written is explained as a full
 * disk when it is one.
 *
 * Why before the engine opens: lmdb-js maps the data file read-only and writes pages with
 * `pwrite`, so a full disk fails a commit with an error (LMDB says EIO after a short write,
 * ENOSPC elsewhere), and as LMDB switches its meta page only after the new pages are written, the
 * last committed state stays; but LMDB's lock file is a writable shared map, and a fresh start on
 * a full tmpfs dies of SIGBUS writing it, leaving an empty data file that the next start reports
 * as corrupt.
 *
 * @example
 * ```ts
 * import { checkStartSpace, writeFailureError } from "./data_dir_space.ts";
 * checkStartSpace("./data"); // throws FAILED_PRECONDITION on a full disk
 * const err = writeFailureError("./data", new Error("Input/output error"));
 * err.code; // "UNAVAILABLE"; the message names a full disk when the disk is full
 * ```
 *
 * @module
 */
import { existsSync, statfsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ErrorCode, RangeDbError } from "../base/errors.ts";

/**
 * A start needs this much space available: enough for LMDB to open and the node to write its
 * raft state and catch up a little. Not a capacity plan: a node that starts just above it fills
 * its disk again soon, and stops again with a clear error.
 */
export const MIN_START_FREE_BYTES = 16 * 1024 * 1024;

/**
 * A failed write counts as a full disk when less than this is available after it: a short write
 * on a full file system stops within a block of the end, while another I/O error leaves the space
 * as it was.
 */
export const FULL_DISK_FREE_BYTES = 1024 * 1024;

/** Reads how many bytes an unprivileged writer may still use on the file system of `path`. */
export type FreeSpaceProbe = (path: string) => number;

/**
 * The bytes available to unprivileged writers on the file system of `path` (statfs `bavail`).
 *
 * @param path any path on the file system
 * @returns available bytes
 * @throws {Error} when `path` cannot be inspected
 */
export function availableBytes(path: string): number {
  const { bavail, bsize } = statfsSync(path);
  return bavail * bsize;
}

/** `path`, or its nearest ancestor that exists (a data directory may not be created yet). */
function nearestExisting(path: string): string {
  let p = resolve(path);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/**
 * Refuses to start on a data directory whose disk is (nearly) full. Writes nothing: it runs
 * before the directory is created, locked or opened.
 *
 * @param dataDir the data directory (it may not exist yet)
 * @param probe reads the available bytes; tests inject one
 * @throws {RangeDbError} FAILED_PRECONDITION when less than {@linkcode MIN_START_FREE_BYTES} is
 * available; a probe that fails refuses nothing (the engine's own checks report the directory)
 */
export function checkStartSpace(dataDir: string, probe: FreeSpaceProbe = availableBytes): void {
  let available: number;
  try {
    available = probe(nearestExisting(dataDir));
  } catch {
    return;
  }
  if (available >= MIN_START_FREE_BYTES) return;
  throw new RangeDbError(
    ErrorCode.FAILED_PRECONDITION,
    `Cannot start the node as the disk of its data directory is full: ${dataDir}: ` +
      `no space left on device (ENOSPC), ${available} bytes available, ` +
      `${MIN_START_FREE_BYTES} needed; free space and start it again`,
    { details: { path: dataDir, availableBytes: available, neededBytes: MIN_START_FREE_BYTES } },
  );
}

/** The errno name ("ENOSPC", "EIO", …) carried by `err` or one of its causes, if any. */
function errnoOf(err: unknown): string | undefined {
  const names: Record<number, string> = { 5: "EIO", 28: "ENOSPC" };
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = e instanceof RangeDbError ? undefined : (e as { code?: unknown }).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
    if (typeof code === "number" && names[code] !== undefined) return names[code];
  }
  return undefined;
}

/**
 * The error a node fails its callers with, and logs, after a batch could not be written to
 * `dataDir`: UNAVAILABLE (the request may succeed on another node, and a write's outcome is
 * unknown: `details.ambiguous`), saying "no space left on device (ENOSPC)" when the error is
 * ENOSPC or the disk has less than {@linkcode FULL_DISK_FREE_BYTES} left.
 *
 * @param dataDir the data directory
 * @param cause what the engine's write failed with
 * @param probe reads the available bytes; tests inject one
 * @returns the error
 */
export function writeFailureError(
  dataDir: string,
  cause: unknown,
  probe: FreeSpaceProbe = availableBytes,
): RangeDbError {
  const errno = errnoOf(cause);
  let available: number | undefined;
  try {
    available = probe(dataDir);
  } catch {
    available = undefined;
  }
  const details = { path: dataDir, availableBytes: available, errno, ambiguous: true };
  if (errno === "ENOSPC" || (available !== undefined && available < FULL_DISK_FREE_BYTES)) {
    return new RangeDbError(
      ErrorCode.UNAVAILABLE,
      `Cannot write to the data directory as its disk is full: ${dataDir}: ` +
        `no space left on device (ENOSPC), ${available ?? "unknown"} bytes available`,
      { cause, details: { ...details, diskFull: true } },
    );
  }
  const why = cause instanceof Error ? cause.message : String(cause);
  return new RangeDbError(
    ErrorCode.UNAVAILABLE,
    `Cannot write to the data directory as the storage engine failed: ${dataDir}: ${why}`,
    { cause, details: { ...details, diskFull: false } },
  );
}
