/**
 * The readable rendering of system keyspace entries (`MetaEntry.decoded` of the admin API):
 * descriptors (`_/partitions/…`, `_/partitions/by-end/…`, `_/raft/groups/…`) and node records
 * (`_/cluster/nodes/…`) as one-line JSON with keys shown readably (see `keyText`), cluster
 * settings (`_/cluster/config/…`) as their text, anything else as UTF-8 text when it is valid
 * UTF-8, else as `0x` and hex digits.
 *
 * @module
 */

import { fromBinary } from "@bufbuild/protobuf";
import { keyText } from "../base/key_text.ts";
import { NodeRecordSchema, RangeDescriptorSchema } from "../../proto/gen/rangedb/v1/command_pb.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const utf8 = new TextEncoder();

const DESCRIPTOR_PREFIXES = ["_/partitions/", "_/raft/groups/"].map((p) => utf8.encode(p));
const NODE_PREFIX = utf8.encode("_/cluster/nodes/");

function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  return key.length >= prefix.length && prefix.every((b, i) => key[i] === b);
}

/**
 * The JSON of a range descriptor (bounds as readable text; the last range's empty end as "").
 *
 * @param value a serialized RangeDescriptor
 * @returns plain fields, snake_case
 * @throws when `value` is not a RangeDescriptor
 */
function descriptorJson(value: Uint8Array): Record<string, unknown> {
  const d = fromBinary(RangeDescriptorSchema, value);
  return {
    range_id: Number(d.rangeId),
    start: keyText(d.start),
    end: keyText(d.end),
    generation: Number(d.generation),
    replicas: d.replicas.map((r) => ({
      node_id: Number(r.nodeId),
      replica_id: Number(r.replicaId),
      learner: r.learner,
    })),
  };
}

function nodeJson(value: Uint8Array): Record<string, unknown> {
  const n = fromBinary(NodeRecordSchema, value);
  return {
    name: n.name,
    node_id: Number(n.nodeId),
    peer_address: n.peerAddress,
    client_address: n.clientAddress,
    admin_address: n.adminAddress,
    updated_at_ms: Number(n.updatedAtMs),
    incarnation: n.incarnation,
  };
}

/**
 * UTF-8 text when `value` is valid UTF-8, else `0x` and its hex digits.
 *
 * @param value any bytes
 * @returns the text
 */
export function textOrHex(value: Uint8Array): string {
  try {
    return strictUtf8.decode(value);
  } catch {
    return "0x" + Array.from(value, (b) => b.toString(16).padStart(2, "0")).join("");
  }
}

/**
 * The readable rendering of one system keyspace entry.
 *
 * @example
 * ```ts
 * import { renderMetaValue } from "./meta_render.ts";
 * const enc = new TextEncoder();
 * renderMetaValue(enc.encode("_/cluster/config/replication_factor"), enc.encode("3")); // "3"
 * ```
 *
 * @param key the entry's key (it tells the value's type)
 * @param value the entry's value
 * @returns JSON for descriptors and node records, else text or hex
 */
export function renderMetaValue(key: Uint8Array, value: Uint8Array): string {
  try {
    if (DESCRIPTOR_PREFIXES.some((p) => hasPrefix(key, p))) {
      return JSON.stringify(descriptorJson(value));
    }
    if (hasPrefix(key, NODE_PREFIX)) return JSON.stringify(nodeJson(value));
  } catch {
    // Not the message its key promises: shown as bytes below.
  }
  // Cluster settings are stored as their text form, so they show as text here.
  return textOrHex(value);
}
