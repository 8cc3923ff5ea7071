/**
 * The cluster settings as a store sees them: read from the local copy of range 1's
 * `_/cluster/config/…` keys (defaults where nothing is stored, or where this node holds no range 1),
 * and changed by a write proposed on range 1's leader after the new combination is validated.
 *
 * @module
 */

import type { ClusterSettingName } from "../base/config.ts";
import {
  CLUSTER_CONFIG_PREFIX,
  type ClusterConfig,
  clusterConfigFrom,
  defaultClusterConfig,
  formatClusterSetting,
  isClusterSettingName,
  parseClusterSetting,
  withClusterSetting,
} from "../base/config_cluster.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { MAX_TIMESTAMP } from "../base/key_encoding.ts";
import { mvccScan } from "../mvcc/mod.ts";
import type { Reader } from "../storage/mod.ts";
import type { RangeCommands } from "./range_commands.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The stored settings (name → text) in `reader`'s copy of range 1. */
export function storedClusterSettings(reader: Reader): Map<string, string> {
  const start = encoder.encode(CLUSTER_CONFIG_PREFIX);
  const end = encoder.encode(CLUSTER_CONFIG_PREFIX.slice(0, -1) + "0"); // the byte after "/"
  const r = mvccScan(reader, { start, end, timestamp: MAX_TIMESTAMP });
  const out = new Map<string, string>();
  if (r.status !== "ok") return out;
  for (const row of r.rows) {
    out.set(decoder.decode(row.key).slice(CLUSTER_CONFIG_PREFIX.length), decoder.decode(row.value));
  }
  return out;
}

/**
 * The cluster configuration from `reader`'s copy of range 1; the defaults when a stored value
 * does not parse (a newer version's, during an upgrade) so that background duties keep running.
 */
export function readClusterConfig(reader: Reader): ClusterConfig {
  try {
    return clusterConfigFrom(storedClusterSettings(reader));
  } catch {
    return defaultClusterConfig();
  }
}

/**
 * The setting a name or key names: `range_max_bytes` or `_/cluster/config/range_max_bytes`.
 *
 * @throws {RangeDbError} INVALID_ARGUMENT for an unknown setting
 */
export function settingName(nameOrKey: string): ClusterSettingName {
  const name = nameOrKey.startsWith(CLUSTER_CONFIG_PREFIX)
    ? nameOrKey.slice(CLUSTER_CONFIG_PREFIX.length)
    : nameOrKey;
  if (!isClusterSettingName(name)) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot use setting ${JSON.stringify(nameOrKey)} as no such cluster setting exists: see ` +
        "docs/configuration.md for the cluster settings",
    );
  }
  return name;
}

/**
 * Validates `raw` for `name` in combination with `current`, then writes it on range 1.
 *
 * @returns the new configuration
 * @throws {RangeDbError} INVALID_ARGUMENT for a bad value or combination; UNAVAILABLE/TIMEOUT
 */
export async function setClusterSetting(
  commands: RangeCommands,
  current: ClusterConfig,
  name: ClusterSettingName,
  raw: string,
  deadline: number,
): Promise<ClusterConfig> {
  const next = withClusterSetting(current, name, raw);
  const key = encoder.encode(CLUSTER_CONFIG_PREFIX + name);
  const text = formatClusterSetting(name, parseClusterSetting(name, raw));
  await commands.propose(key, {
    case: "write",
    value: { ops: [{ key, value: encoder.encode(text), delete: false }] },
  }, deadline);
  return next;
}
