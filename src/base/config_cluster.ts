/**
 * Cluster settings, derived from the `cluster` settings of {@linkcode SETTINGS}: their keys under
 * `_/cluster/config/`, the parsing of stored values and the typed {@linkcode ClusterConfig}.
 *
 * A stored value is the setting's text form (as in the docs, e.g. "25h"), UTF-8 encoded; a
 * setting without a stored value has its default.
 *
 * @module
 */

import {
  type CamelCase,
  camelCase,
  type ClusterSettingName,
  formatSettingValue,
  parseSettingValue,
  type Setting,
  SETTINGS,
  type Settings,
  type SettingValue,
} from "./config.ts";
import { ErrorCode, RangeDbError } from "./errors.ts";

/** The typed cluster configuration, camelCase (`gc_ttl` → `gcTtl`). */
export type ClusterConfig = {
  readonly [K in ClusterSettingName as CamelCase<K>]: SettingValue<Settings[K]>;
};

/** The key prefix of stored cluster settings. */
export const CLUSTER_CONFIG_PREFIX = "_/cluster/config/";

/** The names of all cluster settings, in definition order. */
export const CLUSTER_SETTING_NAMES: readonly ClusterSettingName[] =
  (Object.keys(SETTINGS) as (keyof Settings)[])
    .filter((name): name is ClusterSettingName => SETTINGS[name].scope === "cluster");

/**
 * Tells whether `name` is a cluster setting.
 *
 * @param name any string
 * @returns true for the names in {@linkcode CLUSTER_SETTING_NAMES}
 */
export function isClusterSettingName(name: string): name is ClusterSettingName {
  return (CLUSTER_SETTING_NAMES as readonly string[]).includes(name);
}

/**
 * The key a cluster setting is stored under.
 *
 * @example
 * ```ts
 * import { clusterConfigKey } from "./config_cluster.ts";
 * clusterConfigKey("gc_ttl"); // "_/cluster/config/gc_ttl"
 * ```
 *
 * @param name the setting
 * @returns the key, as text (encode it with the key encoding of the storage layer)
 */
export function clusterConfigKey(name: ClusterSettingName): string {
  return CLUSTER_CONFIG_PREFIX + name;
}

/**
 * The setting a key stores, if any.
 *
 * @param key a key as text
 * @returns the setting name, or undefined when the key is not a known cluster setting's key
 */
export function clusterSettingFromKey(key: string): ClusterSettingName | undefined {
  if (!key.startsWith(CLUSTER_CONFIG_PREFIX)) return undefined;
  const name = key.slice(CLUSTER_CONFIG_PREFIX.length);
  return isClusterSettingName(name) ? name : undefined;
}

/**
 * Parses and validates the text of one cluster setting (as stored, or as given to `config set`).
 *
 * @param name the setting name
 * @param raw the text
 * @returns the typed value
 * @throws {RangeDbError} INVALID_ARGUMENT when the name is unknown or the value invalid
 */
export function parseClusterSetting<N extends ClusterSettingName>(
  name: N,
  raw: string,
): SettingValue<Settings[N]>;
export function parseClusterSetting(name: string, raw: string): unknown;
export function parseClusterSetting(name: string, raw: string): unknown {
  if (!isClusterSettingName(name)) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot parse cluster setting ${name} as no such setting exists: known are ` +
        CLUSTER_SETTING_NAMES.join(", "),
      { details: { setting: name } },
    );
  }
  const parsed = parseSettingValue(SETTINGS[name] as Setting, raw);
  if (!parsed.ok) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot parse cluster setting ${name} as ${parsed.problem}: got '${raw}'`,
      { details: { setting: name, value: raw } },
    );
  }
  return parsed.value;
}

/**
 * The text form of a cluster setting's value, as it is stored.
 *
 * @param name the setting
 * @param value its typed value
 * @returns the text, e.g. "25h"
 */
export function formatClusterSetting<N extends ClusterSettingName>(
  name: N,
  value: SettingValue<Settings[N]>,
): string {
  return formatSettingValue(SETTINGS[name] as Setting, value as never);
}

/**
 * The configuration of a cluster where nothing has been set.
 *
 * @returns every cluster setting at its default
 */
export function defaultClusterConfig(): ClusterConfig {
  const out: Record<string, unknown> = {};
  for (const name of CLUSTER_SETTING_NAMES) out[camelCase(name)] = SETTINGS[name].default;
  return out as ClusterConfig;
}

/**
 * Builds the configuration from stored settings: each stored value parsed over the defaults,
 * then the combinations checked. Names that this version does not know (written by a newer
 * version during a rolling upgrade) are ignored.
 *
 * @param stored setting name → stored text
 * @returns the typed configuration
 * @throws {RangeDbError} INVALID_ARGUMENT when a stored value or a combination is invalid
 */
export function clusterConfigFrom(stored: Iterable<readonly [string, string]>): ClusterConfig {
  const out: Record<string, unknown> = { ...defaultClusterConfig() };
  for (const [name, raw] of stored) {
    if (isClusterSettingName(name)) out[camelCase(name)] = parseClusterSetting(name, raw);
  }
  const config = out as ClusterConfig;
  checkClusterConfig(config);
  return config;
}

/**
 * Returns `config` with one setting changed, validated alone and in combination; the check an
 * admin `config set` runs before proposing the write.
 *
 * @param config the current configuration
 * @param name the setting to change
 * @param raw its new text
 * @returns the new configuration
 * @throws {RangeDbError} INVALID_ARGUMENT when the value or the resulting combination is invalid
 */
export function withClusterSetting(
  config: ClusterConfig,
  name: string,
  raw: string,
): ClusterConfig {
  const value = parseClusterSetting(name, raw);
  const next = { ...config, [camelCase(name)]: value } as ClusterConfig;
  checkClusterConfig(next);
  return next;
}

/**
 * Checks the rules that involve more than one setting.
 *
 * @param config a configuration whose single values are valid
 * @throws {RangeDbError} INVALID_ARGUMENT naming the settings when a rule does not hold
 */
export function checkClusterConfig(config: ClusterConfig): void {
  if (config.rangeMinBytes >= config.rangeMaxBytes) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      "Cannot use cluster config as range_min_bytes is not below range_max_bytes: " +
        `range_min_bytes is ${formatClusterSetting("range_min_bytes", config.rangeMinBytes)}, ` +
        `range_max_bytes is ${formatClusterSetting("range_max_bytes", config.rangeMaxBytes)}`,
    );
  }
  if (config.raftElectionTick <= config.raftHeartbeatTick) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      "Cannot use cluster config as raft_election_tick is not above raft_heartbeat_tick: " +
        `raft_election_tick is ${config.raftElectionTick}, ` +
        `raft_heartbeat_tick is ${config.raftHeartbeatTick}`,
    );
  }
}
