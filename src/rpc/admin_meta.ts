/**
 * The checks and answers of the Admin meta requests (MetaList, MetaGet): prefixes and keys must lie
 * in the system keyspace `_/`, a list takes at most {@linkcode MAX_META_LIST_LIMIT} entries, and
 * every entry comes with its readable rendering (`meta_render.ts`).
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { keyText } from "../base/key_text.ts";
import type { MetaEntry as StoreMetaEntry } from "../kv/kv_store.ts";
import {
  type MetaEntry,
  MetaEntrySchema,
  type MetaListRequest,
} from "../../proto/gen/rangedb/v1/admin_pb.ts";
import { renderMetaValue } from "./meta_render.ts";

/** Entries of a MetaList whose limit is 0. */
export const DEFAULT_META_LIST_LIMIT = 1_000;

/** The most entries one MetaList may ask for. */
export const MAX_META_LIST_LIMIT = 10_000;

function isSystemKey(key: Uint8Array): boolean {
  return key[0] === 0x5f && key[1] === 0x2f;
}

/**
 * Checks a MetaList request and resolves its limit.
 *
 * @param req the request
 * @returns the limit to read with
 * @throws {RangeDbError} INVALID_ARGUMENT for a prefix outside `_/` or a limit over the maximum
 */
export function validateMetaList(req: MetaListRequest): number {
  if (!isSystemKey(req.prefix)) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot list meta entries as the prefix does not start with '_/': prefix is '${
        keyText(req.prefix)
      }'`,
    );
  }
  if (req.limit > MAX_META_LIST_LIMIT) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot list meta entries as the limit exceeds the maximum: limit is ${req.limit}, maximum is ${MAX_META_LIST_LIMIT}`,
    );
  }
  return req.limit === 0 ? DEFAULT_META_LIST_LIMIT : req.limit;
}

/**
 * Checks the key of a MetaGet request.
 *
 * @param key the key
 * @throws {RangeDbError} INVALID_ARGUMENT for an empty key or one outside `_/`
 */
export function validateMetaKey(key: Uint8Array): void {
  if (key.length === 0) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      "Cannot get the meta entry as the key is empty",
    );
  }
  if (!isSystemKey(key)) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot get the meta entry as the key does not start with '_/': key is ${keyText(key)}`,
    );
  }
}

/**
 * The wire form of a system keyspace entry, with its readable rendering.
 *
 * @param entry the store's entry
 * @returns the MetaEntry
 */
export function metaEntryOf(entry: StoreMetaEntry): MetaEntry {
  return create(MetaEntrySchema, {
    key: entry.key,
    value: entry.value,
    decoded: renderMetaValue(entry.key, entry.value),
    version: entry.version,
  });
}
