/**
 * Checks of a data directory made before LMDB opens it read-write, so that a directory that is
 * corrupt, foreign or written by a newer RangeDB fails to open without being changed.
 *
 * LMDB maps the data file into memory and trusts it: a truncated file crashes the process with
 * SIGBUS on first access, and a read-write open of a foreign file may rewrite its meta pages.
 * Hence the data file's two meta pages are validated from plain file reads first, and the format
 * version record is read through a read-only environment. The only file a failed open touches is
 * `lock.mdb`, LMDB's reader table, which any opener (read-only ones included) reinitialises and
 * which holds no data.
 *
 * @module
 */

import { open } from "lmdb";
import { join } from "node:path";
import { ErrorCode, RangeDbError } from "../base/errors.ts";

/** The storage format this code writes. Raise it when the on-disk layout changes. */
export const STORAGE_FORMAT_VERSION = 1;

/** Key of the format version record in the `local` keyspace; its value is a uint32, big-endian. */
export const FORMAT_VERSION_KEY: Uint8Array = new TextEncoder().encode("format_version");

/** Name of LMDB's data file inside the data directory. */
export const DATA_FILE = "data.mdb";

/** LMDB's stamp at the start of each meta page's payload, and the file layout version it knows. */
const LMDB_MAGIC = 0xbeefc0de;
const LMDB_DATA_VERSION = 2;

/**
 * Byte offsets inside a meta page of this LMDB build (64-bit, lmdb-js 3.x): a 24-byte page
 * header (page number, txn id, pad, flags, lower, upper), then MDB_meta (magic, version, fixed
 * address, map size, two MDB_db records whose first holds the page size, last page, txn id).
 */
const META = {
  pageFlags: 0x12,
  magic: 0x18,
  version: 0x1c,
  pageSize: 0x30,
  lastPage: 0x90,
  end: 0xa8,
} as const;
const P_META = 0x08;

interface MetaPage {
  pageSize: number;
  lastPage: number;
}

function corrupt(file: string, fact: string): RangeDbError {
  return new RangeDbError(
    ErrorCode.CORRUPTION,
    `Cannot open storage engine as the data file is corrupt: ${file}: ${fact}`,
    { details: { path: file } },
  );
}

function readMeta(file: string, bytes: Uint8Array, index: number): MetaPage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const what = `meta page ${index}`;
  if (bytes.length < META.end) throw corrupt(file, `${what} is cut short`);
  if (view.getUint32(META.magic, true) !== LMDB_MAGIC) {
    throw corrupt(file, `${what} lacks the LMDB magic number (not an LMDB file)`);
  }
  const version = view.getUint32(META.version, true);
  if (version !== LMDB_DATA_VERSION) {
    throw new RangeDbError(
      ErrorCode.UNSUPPORTED_FORMAT,
      `Cannot open storage engine as the LMDB file version is unsupported: ${file} has version ${version}, supported is ${LMDB_DATA_VERSION}`,
      { details: { path: file, version, supported: LMDB_DATA_VERSION } },
    );
  }
  if ((view.getUint16(META.pageFlags, true) & P_META) === 0) {
    throw corrupt(file, `${what} is not flagged as a meta page`);
  }
  const pageSize = view.getUint32(META.pageSize, true);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw corrupt(file, `${what} has an invalid page size ${pageSize}`);
  }
  return {
    pageSize,
    lastPage: Number(view.getBigUint64(META.lastPage, true)),
  };
}

/**
 * Validates both meta pages of an existing LMDB data file and that the file holds every page of
 * the oldest snapshot they describe.
 *
 * The oldest snapshot, not the newest, sets the minimum size: after a machine crash the newest
 * meta page may describe an unflushed transaction whose pages (and file growth) never reached
 * the disk, which LMDB's overlapping-sync recovery rolls back at open; that is no corruption.
 * lmdb-js also keeps a "last flushed" meta in the second half of page 0 (without the magic
 * number), which counts as a snapshot when present.
 *
 * @param file path of data.mdb
 * @throws {RangeDbError} CORRUPTION when the file is not LMDB, damaged or truncated;
 * UNSUPPORTED_FORMAT when it is an LMDB file of another layout version
 */
export async function checkDataFile(file: string): Promise<void> {
  const handle = await Deno.open(file, { read: true });
  try {
    const size = (await handle.stat()).size;
    const first = new Uint8Array(Math.min(size, META.end));
    await readFully(handle, first, 0);
    const meta0 = readMeta(file, first, 0);
    const { pageSize } = meta0;
    if (size < 2 * pageSize) {
      throw corrupt(file, `file is ${size} bytes, shorter than its two meta pages`);
    }
    const second = new Uint8Array(META.end);
    await readFully(handle, second, pageSize);
    const snapshots = [meta0, readMeta(file, second, 1)];
    const flushedBytes = new Uint8Array(META.end);
    await readFully(handle, flushedBytes, pageSize / 2);
    const flushed = new DataView(flushedBytes.buffer);
    if (flushed.getUint32(META.pageSize, true) === pageSize) {
      snapshots.push({
        pageSize,
        lastPage: Number(flushed.getBigUint64(META.lastPage, true)),
      });
    }
    const needed = Math.min(...snapshots.map((m) => (m.lastPage + 1) * pageSize));
    if (size < needed) {
      throw corrupt(file, `file is ${size} bytes, its oldest snapshot ends at byte ${needed}`);
    }
  } finally {
    handle.close();
  }
}

async function readFully(handle: Deno.FsFile, into: Uint8Array, position: number): Promise<void> {
  await handle.seek(position, Deno.SeekMode.Start);
  let done = 0;
  while (done < into.length) {
    const n = await handle.read(into.subarray(done));
    if (n === null) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += n;
  }
}

/**
 * Reads the format version record through a read-only environment.
 *
 * @param dir the data directory, whose data file passed {@linkcode checkDataFile}
 * @returns the stored version, or undefined when the environment holds no named database yet
 * (created but never initialised, e.g. a crash during the first open)
 * @throws {RangeDbError} CORRUPTION when databases exist but the record is missing or malformed
 */
export async function readFormatVersion(dir: string): Promise<number | undefined> {
  const root = open({
    path: dir,
    noSubdir: false,
    readOnly: true,
    maxDbs: 16,
    keyEncoding: "binary",
    encoding: "binary",
  });
  try {
    // LMDB stores each database name with its C string terminator.
    const names = Array.from(
      root.getKeys(),
      (key) => new TextDecoder().decode(key as Uint8Array).replace(/\0$/, ""),
    );
    if (names.length === 0) return undefined;
    const file = join(dir, DATA_FILE);
    if (!names.includes("local")) {
      throw corrupt(file, `keyspace local is missing (databases are ${names.join(", ")})`);
    }
    const local = root.openDB({ name: "local", keyEncoding: "binary", encoding: "binary" });
    const record = local.getBinary(FORMAT_VERSION_KEY);
    if (record === undefined) throw corrupt(file, "the format version record is missing");
    if (record.length !== 4) {
      throw corrupt(file, `the format version record is ${record.length} bytes, expected 4`);
    }
    return new DataView(record.buffer, record.byteOffset, 4).getUint32(0);
  } finally {
    await root.close();
  }
}

/** The format version record's value for {@linkcode STORAGE_FORMAT_VERSION}. */
export function encodeFormatVersion(version: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, version);
  return bytes;
}
