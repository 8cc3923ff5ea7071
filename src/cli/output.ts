/**
 * What the client commands print, as pure functions from results to text: values, range lines,
 * JSON documents, aligned tables and error lines. Text output is for people; `-o json` output
 * is one JSON document per command, with versions as decimal strings (they exceed 2^53) and
 * bytes that are not UTF-8 as base64 under a `_base64` name.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { ClusterStatusResponse, NodeStatus } from "../../proto/gen/rangedb/v1/admin_pb.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lossyUtf8 = new TextDecoder();

/**
 * A JSON field for bytes: `{name: text}` when they are UTF-8, else `{name_base64: …}`.
 *
 * @param name the field name
 * @param bytes the bytes
 * @returns an object with one field
 */
export function bytesField(name: string, bytes: Uint8Array): Record<string, string> {
  try {
    return { [name]: strictUtf8.decode(bytes) };
  } catch {
    return { [`${name}_base64`]: Buffer.from(bytes).toString("base64") };
  }
}

/**
 * Text for one field of a tab-separated line: UTF-8 (malformed bytes as U+FFFD) with
 * backslash, tab, newline and carriage return escaped, so each pair stays on one line.
 *
 * @param bytes the bytes
 * @returns the escaped text
 */
function escapeField(bytes: Uint8Array): string {
  return lossyUtf8.decode(bytes).replace(
    /[\\\t\n\r]/g,
    (c) => ({ "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" })[c]!,
  );
}

/**
 * Serializes a JSON document, writing bigints as decimal strings.
 *
 * @param value the document
 * @returns indented JSON
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => typeof v === "bigint" ? v.toString() : v, 2);
}

/** One pair of a range, as the range command receives it. */
export interface OutputPair {
  key: Uint8Array;
  value: Uint8Array;
  version: bigint;
}

/**
 * The text line of one range pair: `key<TAB>value` (just the key with --keys-only).
 *
 * @param pair the pair
 * @param keysOnly omit the value
 * @returns the line, without a newline
 */
export function rangeLine(pair: OutputPair, keysOnly: boolean): string {
  return keysOnly ? escapeField(pair.key) : `${escapeField(pair.key)}\t${escapeField(pair.value)}`;
}

/**
 * The JSON object of one range pair.
 *
 * @param pair the pair
 * @param keysOnly omit the value
 * @returns the object
 */
export function pairJson(pair: OutputPair, keysOnly: boolean): Record<string, string> {
  return {
    ...bytesField("key", pair.key),
    ...(keysOnly ? {} : bytesField("value", pair.value)),
    version: pair.version.toString(),
  };
}

/**
 * Lays out rows as a table: columns padded to their widest cell, two spaces apart.
 *
 * @example
 * ```ts
 * import { formatTable } from "./output.ts";
 * formatTable(["NAME", "ID"], [["node1", "1"]]); // "NAME   ID\nnode1  1"
 * ```
 *
 * @param headers the column titles
 * @param rows the cells
 * @returns the lines, joined by newlines (no trailing newline)
 */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [headers, ...rows]
    .map((r) => r.map((cell, i) => i === r.length - 1 ? cell : cell.padEnd(widths[i])).join("  "))
    .join("\n");
}

function nodeRow(n: NodeStatus): string[] {
  return [
    n.name,
    n.nodeId.toString(),
    n.role,
    n.leader ? "yes" : "",
    n.reachable ? "yes" : "no",
    n.clientAddress,
    n.peerAddress,
    n.adminAddress,
  ];
}

const NODE_HEADERS = ["NAME", "ID", "ROLE", "LEADER", "REACHABLE", "CLIENT", "PEER", "ADMIN"];

/**
 * The text of `admin node list`.
 *
 * @param nodes the nodes
 * @returns a table
 */
export function nodesText(nodes: NodeStatus[]): string {
  return formatTable(NODE_HEADERS, nodes.map(nodeRow));
}

/**
 * The JSON of one node.
 *
 * @param n the node
 * @returns plain fields, snake_case
 */
export function nodeJson(n: NodeStatus): Record<string, unknown> {
  return {
    name: n.name,
    node_id: Number(n.nodeId),
    role: n.role,
    leader: n.leader,
    reachable: n.reachable,
    client_address: n.clientAddress,
    peer_address: n.peerAddress,
    admin_address: n.adminAddress,
    match_index: Number(n.matchIndex),
    updated_at_ms: Number(n.updatedAtMs),
  };
}

function boundText(bytes: Uint8Array, empty: string): string {
  return bytes.length === 0 ? empty : escapeField(bytes);
}

/**
 * The text of `admin cluster status`: a summary line, the nodes and the ranges.
 *
 * @param s the status
 * @returns the text
 */
export function clusterStatusText(s: ClusterStatusResponse): string {
  const summary = `Cluster ${s.clusterId}: ${s.healthy ? "healthy" : "UNHEALTHY"}, ` +
    `${s.nodes.length} node${s.nodes.length === 1 ? "" : "s"}, ` +
    `replication factor ${s.replicationFactor} (answered by ${s.answeredBy})`;
  const ranges = formatTable(
    ["RANGE", "START", "END", "LEADER", "VOTERS", "LEARNERS", "TERM", "COMMIT", "APPLIED"],
    s.ranges.map((r) => [
      r.rangeId.toString(),
      boundText(r.start, "-"),
      boundText(r.end, "+inf"),
      r.leaderNodeId === 0n ? "none" : r.leaderNodeId.toString(),
      r.voters.join(","),
      r.learners.join(","),
      r.term.toString(),
      r.commitIndex.toString(),
      r.appliedIndex.toString(),
    ]),
  );
  return `${summary}\n\n${nodesText(s.nodes)}\n\n${ranges}`;
}

/**
 * The JSON of `admin cluster status`.
 *
 * @param s the status
 * @returns plain fields, snake_case
 */
export function clusterStatusJson(s: ClusterStatusResponse): Record<string, unknown> {
  return {
    cluster_id: s.clusterId,
    answered_by: s.answeredBy,
    healthy: s.healthy,
    replication_factor: Number(s.replicationFactor),
    nodes: s.nodes.map(nodeJson),
    ranges: s.ranges.map((r) => ({
      range_id: Number(r.rangeId),
      ...bytesField("start", r.start),
      ...bytesField("end", r.end),
      generation: Number(r.generation),
      voters: r.voters.map(Number),
      learners: r.learners.map(Number),
      leader_node_id: Number(r.leaderNodeId),
      term: Number(r.term),
      commit_index: Number(r.commitIndex),
      applied_index: Number(r.appliedIndex),
    })),
  };
}

/**
 * The error line of a failed command: `rangedb: <message> (<CODE>)`, or with -o json
 * `{"error": {"code", "message"}}`.
 *
 * @param message what failed
 * @param code the error code, if any
 * @param json JSON output
 * @returns the text for stderr
 */
export function errorText(message: string, code: string | undefined, json: boolean): string {
  if (json) return toJson({ error: { code: code ?? "INTERNAL", message } });
  return `rangedb: ${message}${code ? ` (${code})` : ""}`;
}
