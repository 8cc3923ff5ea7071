/**
 * Preparation of a data directory for {@linkcode openLmdbEngine}: path checks, corruption and
 * format checks of an existing environment, all before anything is opened read-write.
 *
 * @module
 */

import { join } from "node:path";
import { ErrorCode, isRangeDbError, RangeDbError } from "../base/errors.ts";
import {
  checkDataFile,
  DATA_FILE,
  readFormatVersion,
  STORAGE_FORMAT_VERSION,
} from "./_lmdb_probe.ts";

/** What {@linkcode prepareDataDir} found. */
export interface PreparedDataDir {
  /** The stored format version; undefined when the directory holds no initialised store. */
  storedVersion: number | undefined;
}

async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw unusable(path, "it cannot be inspected", err);
  }
}

function unusable(path: string, why: string, cause: unknown): RangeDbError {
  const code = cause instanceof Deno.errors.NotADirectory
    ? ErrorCode.INVALID_ARGUMENT
    : ErrorCode.FAILED_PRECONDITION;
  return new RangeDbError(
    code,
    `Cannot open storage engine as the data directory is unusable: ${path}: ${why}: ${cause}`,
    { cause, details: { path } },
  );
}

/** Fails unless files in `dir` (and `file`, when given) can be written. Changes no file. */
async function checkWritable(dir: string, file?: string): Promise<void> {
  try {
    if (file !== undefined) {
      (await Deno.open(file, { read: true, write: true })).close();
    } else {
      await Deno.remove(await Deno.makeTempFile({ dir, prefix: ".write-probe-" }));
    }
  } catch (err) {
    throw unusable(file ?? dir, "it is not writable", err);
  }
}

/**
 * Creates the directory when absent; otherwise validates the environment inside it.
 *
 * @param path the data directory
 * @returns the stored format version, if any
 * @throws {RangeDbError} INVALID_ARGUMENT when `path` is not a directory; FAILED_PRECONDITION
 * when it cannot be created or written; CORRUPTION when the data file is damaged or foreign;
 * UNSUPPORTED_FORMAT when a newer format wrote it
 */
export async function prepareDataDir(path: string): Promise<PreparedDataDir> {
  const info = await statOrUndefined(path);
  if (info === undefined) {
    try {
      await Deno.mkdir(path, { recursive: true });
    } catch (err) {
      throw unusable(path, "it cannot be created", err);
    }
    return { storedVersion: undefined };
  }
  if (!info.isDirectory) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot open storage engine as the data directory path is not a directory: ${path}`,
      { details: { path } },
    );
  }
  const file = join(path, DATA_FILE);
  const fileInfo = await statOrUndefined(file);
  if (fileInfo === undefined) {
    await checkWritable(path);
    return { storedVersion: undefined };
  }
  if (!fileInfo.isFile) {
    throw new RangeDbError(
      ErrorCode.CORRUPTION,
      `Cannot open storage engine as the data file is not a regular file: ${file}`,
      { details: { path: file } },
    );
  }
  await checkDataFile(file);
  let storedVersion: number | undefined;
  try {
    storedVersion = await readFormatVersion(path);
  } catch (err) {
    if (isRangeDbError(err)) throw err;
    throw new RangeDbError(
      ErrorCode.CORRUPTION,
      `Cannot open storage engine as LMDB cannot read the data file: ${file}: ${err}`,
      { cause: err, details: { path: file } },
    );
  }
  if (storedVersion !== undefined && storedVersion > STORAGE_FORMAT_VERSION) {
    throw new RangeDbError(
      ErrorCode.UNSUPPORTED_FORMAT,
      `Cannot open storage engine as a newer format wrote the data directory: ${path} has format version ${storedVersion}, this build supports up to ${STORAGE_FORMAT_VERSION}`,
      { details: { path, version: storedVersion, supported: STORAGE_FORMAT_VERSION } },
    );
  }
  if (storedVersion === 0) {
    throw new RangeDbError(
      ErrorCode.CORRUPTION,
      `Cannot open storage engine as the stored format version is invalid: ${file}: version is 0`,
      { details: { path: file } },
    );
  }
  await checkWritable(path, file);
  return { storedVersion };
}
