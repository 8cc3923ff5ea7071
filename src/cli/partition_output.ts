/**
 * What the partition and meta commands print, as pure functions: the partition table (keys as
 * text when printable, else escaped; sizes in binary units), the migrations in flight, the
 * outcome of a split or merge, meta entries, and their JSON documents.
 *
 * @module
 */
import type {
  ListPartitionsResponse,
  MergePartitionResponse,
  MetaEntry,
  Migration,
  RangeStatus,
  SplitPartitionResponse,
} from "../../proto/gen/rangedb/v1/admin_pb.ts";
import { keyText } from "../base/key_text.ts";
import { bytesField, formatTable } from "./output.ts";

const UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * A byte count in binary units with one decimal ("512 B", "4.2 KiB", "64.0 MiB").
 *
 * @example
 * ```ts
 * import { humanBytes } from "./partition_output.ts";
 * humanBytes(67_108_864); // "64.0 MiB"
 * ```
 *
 * @param bytes the count
 * @returns the text
 */
export function humanBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** A range bound for a table: readable text, "-" for the start and "+inf" for the end of keys. */
function bound(bytes: Uint8Array, empty: string): string {
  return bytes.length === 0 ? empty : keyText(bytes);
}

/** "[start, end)" of a range, readable. */
export function spanText(r: RangeStatus): string {
  return `[${bound(r.start, "-")}, ${bound(r.end, "+inf")})`;
}

function replicasText(r: RangeStatus): string {
  return [...r.voters.map(String), ...r.learners.map((l) => `${l}(learner)`)].join(",");
}

/**
 * The table of `admin partition list`.
 *
 * @param ranges the ranges
 * @returns the table, one range per row
 */
export function partitionsText(ranges: RangeStatus[]): string {
  return formatTable(
    ["RANGE", "START", "END", "LEADER", "REPLICAS", "KEYS", "SIZE", "WRITES/S", "GEN"],
    ranges.map((r) => [
      r.frozenIntoRangeId === 0n ? String(r.rangeId) : `${r.rangeId} (frozen)`,
      bound(r.start, "-"),
      bound(r.end, "+inf"),
      r.leaderNodeId === 0n ? "none" : String(r.leaderNodeId),
      replicasText(r),
      String(r.liveKeys),
      humanBytes(Number(r.liveBytes)),
      r.writesPerSecond.toFixed(1),
      String(r.generation),
    ]),
  );
}

/**
 * The table of the migrations in flight (`--show-migrations`).
 *
 * @param migrations the splits and merges
 * @param now the current time, ms since the epoch (for their age)
 * @returns the table, or a sentence when there is none
 */
export function migrationsText(migrations: Migration[], now: number): string {
  if (migrations.length === 0) return "No splits or merges in flight.";
  return formatTable(
    ["KIND", "RANGE", "OTHER", "KEY", "STATE", "REASON", "NODE", "AGE"],
    migrations.map((m) => [
      m.kind,
      String(m.rangeId),
      m.otherRangeId === 0n ? "-" : String(m.otherRangeId),
      m.key.length === 0 ? "-" : keyText(m.key),
      m.state,
      m.reason,
      String(m.nodeId),
      `${Math.max(0, Math.round((now - Number(m.startedAtMs)) / 1000))}s`,
    ]),
  );
}

/**
 * The JSON of one range.
 *
 * @param r the range
 * @returns plain fields, snake_case (bounds as text, or base64 when not UTF-8)
 */
export function rangeJson(r: RangeStatus): Record<string, unknown> {
  return {
    range_id: Number(r.rangeId),
    ...bytesField("start", r.start),
    ...bytesField("end", r.end),
    generation: Number(r.generation),
    voters: r.voters.map(Number),
    learners: r.learners.map(Number),
    leader_node_id: Number(r.leaderNodeId),
    leader_client_address: r.leaderClientAddress,
    live_keys: Number(r.liveKeys),
    live_bytes: Number(r.liveBytes),
    writes_per_second: r.writesPerSecond,
    frozen_into_range_id: Number(r.frozenIntoRangeId),
  };
}

function migrationJson(m: Migration): Record<string, unknown> {
  return {
    kind: m.kind,
    range_id: Number(m.rangeId),
    other_range_id: Number(m.otherRangeId),
    ...bytesField("key", m.key),
    state: m.state,
    started_at_ms: Number(m.startedAtMs),
    reason: m.reason,
    node_id: Number(m.nodeId),
  };
}

/**
 * The JSON of `admin partition list`.
 *
 * @param res the answer
 * @param withMigrations whether migrations were asked for
 * @returns `{partitions}` and, when asked, `migrations`
 */
export function partitionsJson(
  res: ListPartitionsResponse,
  withMigrations: boolean,
): Record<string, unknown> {
  return {
    partitions: res.partitions.map(rangeJson),
    ...(withMigrations ? { migrations: res.migrations.map(migrationJson) } : {}),
  };
}

/**
 * The line of `admin partition split`.
 *
 * @param res the answer
 * @param key the split key as given
 * @returns one line
 */
export function splitText(res: SplitPartitionResponse, key: string): string {
  const left = res.left!;
  const right = res.right!;
  if (res.dryRun) {
    const newRange = left.rangeId === 0n ? "a new range" : `range ${left.rangeId}`;
    return `Would split range ${right.rangeId} at ${key}: ${newRange} ${spanText(left)}, ` +
      `range ${right.rangeId} ${spanText(right)}`;
  }
  return `OK split range ${right.rangeId} at ${key}: range ${left.rangeId} ${spanText(left)}, ` +
    `range ${right.rangeId} ${spanText(right)}`;
}

/**
 * The line of `admin partition merge`.
 *
 * @param res the answer
 * @returns one line
 */
export function mergeText(res: MergePartitionResponse): string {
  const merged = res.merged!;
  return res.dryRun
    ? `Would merge range ${res.subsumedRangeId} into range ${merged.rangeId}, which would then cover ${
      spanText(merged)
    }`
    : `OK merged range ${res.subsumedRangeId} into range ${merged.rangeId}, which now covers ${
      spanText(merged)
    }`;
}

/**
 * The line of one meta entry: `key<TAB>decoded`, both on one line (control characters escaped).
 *
 * @param e the entry
 * @returns the line, without a newline
 */
export function metaLine(e: MetaEntry): string {
  return `${keyText(e.key)}\t${oneLine(e.decoded)}`;
}

/** Escapes backslashes, tabs and line breaks so that text stays on one line. */
function oneLine(text: string): string {
  return text.replace(
    /[\\\t\n\r]/g,
    (c) => ({ "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" })[c]!,
  );
}

/**
 * The JSON of one meta entry.
 *
 * @param e the entry
 * @returns key, value (text or base64), decoded and version
 */
export function metaEntryJson(e: MetaEntry): Record<string, unknown> {
  return {
    ...bytesField("key", e.key),
    ...bytesField("value", e.value),
    decoded: e.decoded,
    version: e.version.toString(),
  };
}
