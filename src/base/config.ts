/**
 * The one definition of RangeDB's configuration. Each setting has a name, a type, a default,
 * validation and a description, and one of two scopes:
 * - `flag`: node-local, given on the command line of `rangedb server` (kebab-case names);
 * - `cluster`: shared by all nodes, stored through Raft under `_/cluster/config/<name>`
 *   (snake_case names) and changed at run time.
 *
 * Everything else is derived from {@linkcode SETTINGS}: the parseArgs spec and typed flag object
 * (`config_flags.ts`), the stored keys and typed cluster configuration (`config_cluster.ts`) and
 * `docs/configuration.md` (`config_docs.ts`).
 *
 * Typed values: durations and byte sizes are numbers (milliseconds, bytes), addresses are
 * normalised "host:port" strings, address lists are arrays of them.
 *
 * @module
 */

import {
  formatBytes,
  formatDuration,
  formatHostPort,
  HOUR,
  MIB,
  MILLISECOND,
  MINUTE,
  parseBytes,
  parseDuration,
  parseHostPort,
  SECOND,
} from "./config_units.ts";
import { DEFAULT_KEY_LIMITS } from "./key_limits.ts";
import { LOG_LEVELS } from "./logger.ts";

/** Where a setting lives. */
export type SettingScope = "flag" | "cluster";

interface SettingCommon {
  /** Where the setting lives. */
  readonly scope: SettingScope;
  /** One or two sentences for the docs and `--help`. */
  readonly description: string;
}

/** A number, optionally an integer, within bounds. */
export interface NumberSetting extends SettingCommon {
  readonly type: "number";
  readonly default: number;
  readonly integer?: boolean;
  readonly min?: number;
  readonly max?: number;
}

/** A duration in milliseconds, written like "25h", "30m", "500ms". */
export interface DurationSetting extends SettingCommon {
  readonly type: "duration";
  readonly default: number;
  readonly min?: number;
  readonly max?: number;
}

/** A size in bytes, written like "512MiB", "8 MB", "4096". */
export interface BytesSetting extends SettingCommon {
  readonly type: "bytes";
  readonly default: number;
  readonly min?: number;
  readonly max?: number;
}

/** Free text, such as a path. */
export interface StringSetting extends SettingCommon {
  readonly type: "string";
  readonly default: string;
}

/** A switch. As a flag it takes no value. */
export interface BooleanSetting extends SettingCommon {
  readonly type: "boolean";
  readonly default: boolean;
}

/** One of a fixed list of words. */
export interface EnumSetting<V extends string = string> extends SettingCommon {
  readonly type: "enum";
  readonly values: readonly V[];
  readonly default: V;
}

/** A "host:port" network address. */
export interface AddressSetting extends SettingCommon {
  readonly type: "address";
  readonly default: string;
}

/** A list of "host:port" addresses, comma-separated (as a flag, it may also be repeated). */
export interface AddressListSetting extends SettingCommon {
  readonly type: "addresses";
  readonly default: readonly string[];
}

/** Any setting definition. */
export type Setting =
  | NumberSetting
  | DurationSetting
  | BytesSetting
  | StringSetting
  | BooleanSetting
  | EnumSetting
  | AddressSetting
  | AddressListSetting;

/** The kinds of setting, as named in the docs. */
export type SettingType = Setting["type"];

/** The typed value of a setting definition. */
export type SettingValue<S extends Setting> = S extends BooleanSetting ? boolean
  : S extends EnumSetting<infer V> ? V
  : S extends AddressListSetting ? string[]
  : S extends StringSetting | AddressSetting ? string
  : number;

/**
 * Every setting, by name. Flags first, then cluster settings; the docs list them in this order.
 */
export const SETTINGS = {
  "peer-address": {
    scope: "flag",
    type: "address",
    default: "127.0.0.1:7080",
    description: "Address to listen on for the peer gRPC service (Raft messages, snapshots, " +
      "forwarded requests, joins); other nodes reach this node here.",
  },
  "client-address": {
    scope: "flag",
    type: "address",
    default: "127.0.0.1:7081",
    description: "Address to listen on for the client gRPC API (KV, Admin, Health, reflection).",
  },
  "admin-address": {
    scope: "flag",
    type: "address",
    default: "127.0.0.1:7088",
    description: "Address to listen on for HTTP: /healthz, /readyz, /metrics and the JSON API " +
      "under /api/v1/ (the console is planned).",
  },
  "data-dir": {
    scope: "flag",
    type: "string",
    default: "./data",
    description: "Directory of the node's LMDB environment; created when missing.",
  },
  "node-id": {
    scope: "flag",
    type: "string",
    default: "",
    description: "Name of this node, stored in the data directory on first start; empty derives " +
      "it from --peer-address (127.0.0.1:7080 becomes 127-0-0-1-7080).",
  },
  "peers": {
    scope: "flag",
    type: "addresses",
    default: [],
    description: "Peer addresses of all initial members, this node's own included, used with " +
      "--cluster-init; every initial member gets the same list and the cluster forms once a " +
      "majority is up.",
  },
  "join": {
    scope: "flag",
    type: "addresses",
    default: [],
    description: "Peer addresses of running members to join; cannot be combined with " +
      "--cluster-init.",
  },
  "cluster-init": {
    scope: "flag",
    type: "boolean",
    default: false,
    description: "Form a new cluster (with --peers, or a single-node one without) if the data " +
      "directory holds none yet; on restart the stored cluster is resumed.",
  },
  "max-sync-duration": {
    scope: "flag",
    type: "duration",
    default: 20 * SECOND,
    min: 0,
    max: 600 * SECOND,
    description: "Longest one batch write with its fsync may take; past it the disk counts as " +
      "stalled and the node stops with exit 1, so that its ranges' other replicas take over " +
      "(0 disables the check).",
  },
  "log-level": {
    scope: "flag",
    type: "enum",
    values: LOG_LEVELS,
    default: "info",
    description: "Minimum level of the JSON-lines log written to stderr.",
  },
  replication_factor: {
    scope: "cluster",
    type: "number",
    integer: true,
    default: 3,
    min: 1,
    description: "Number of voting replicas of each range; the replicate queue moves toward it.",
  },
  gc_ttl: {
    scope: "cluster",
    type: "duration",
    default: 25 * HOUR,
    min: MINUTE,
    description: "How long overwritten and deleted versions are kept. Snapshot reads, backups " +
      "and point-in-time restores reach back at most this far.",
  },
  range_max_bytes: {
    scope: "cluster",
    type: "bytes",
    default: 64 * MIB,
    min: 64 * 1024,
    description: "A range whose live keys and values pass this size is split at its middle.",
  },
  range_min_bytes: {
    scope: "cluster",
    type: "bytes",
    default: 16 * MIB,
    min: 0,
    description: "Two cold neighbours both smaller than this, together under half of " +
      "range_max_bytes, are merged; must be less than range_max_bytes.",
  },
  range_max_keys: {
    scope: "cluster",
    type: "number",
    integer: true,
    default: 1_000_000,
    min: 1000,
    description: "A range with more live keys than this is split at its middle.",
  },
  range_merge_delay: {
    scope: "cluster",
    type: "duration",
    default: 5 * MINUTE,
    min: 0,
    description: "How long a range must exist before it may be merged into its neighbour; both " +
      "must also have been cold (under a tenth of range_split_qps) for a fifth of it.",
  },
  range_split_qps: {
    scope: "cluster",
    type: "number",
    integer: true,
    default: 2500,
    min: 0,
    description: "A range that applied more writes per second than this for 10 s is split at " +
      "the middle of its recently written keys (0 disables load splits).",
  },
  max_key_bytes: {
    scope: "cluster",
    type: "bytes",
    default: DEFAULT_KEY_LIMITS.maxKeyBytes,
    min: 1,
    max: 64 * 1024,
    description: "Largest user key accepted by writes.",
  },
  max_value_bytes: {
    scope: "cluster",
    type: "bytes",
    default: DEFAULT_KEY_LIMITS.maxValueBytes,
    min: 1,
    max: 64 * MIB,
    description: "Largest value accepted by writes.",
  },
  raft_tick_interval: {
    scope: "cluster",
    type: "duration",
    default: 100 * MILLISECOND,
    min: 10 * MILLISECOND,
    max: 10 * SECOND,
    description: "Length of one Raft tick; election and heartbeat timeouts are counted in ticks.",
  },
  raft_election_tick: {
    scope: "cluster",
    type: "number",
    integer: true,
    default: 10,
    min: 2,
    description: "Ticks without a heartbeat before a follower campaigns (randomised up to twice " +
      "this); must exceed raft_heartbeat_tick.",
  },
  raft_heartbeat_tick: {
    scope: "cluster",
    type: "number",
    integer: true,
    default: 1,
    min: 1,
    description: "Ticks between leader heartbeats.",
  },
  max_clock_offset: {
    scope: "cluster",
    type: "duration",
    default: 500 * MILLISECOND,
    min: 0,
    max: 10 * SECOND,
    description: "Largest clock difference between nodes that leader leases tolerate; a node " +
      "whose clock is further off must not serve lease reads.",
  },
  backup_retention: {
    scope: "cluster",
    type: "duration",
    default: 7 * 24 * HOUR,
    min: HOUR,
    description: "Scheduled backups older than this are deleted (the newest full backup and the " +
      "incrementals that depend on it are always kept).",
  },
} as const satisfies Record<string, Setting>;

/** The settings table's type. */
export type Settings = typeof SETTINGS;

/** Name of any setting. */
export type SettingName = keyof Settings;

/** Names of the node-local flags. */
export type FlagName = {
  [K in SettingName]: Settings[K]["scope"] extends "flag" ? K : never;
}[SettingName];

/** Names of the cluster settings. */
export type ClusterSettingName = {
  [K in SettingName]: Settings[K]["scope"] extends "cluster" ? K : never;
}[SettingName];

/** "peer-address" → "peerAddress", "gc_ttl" → "gcTtl". */
export type CamelCase<S extends string> = S extends
  `${infer H}-${infer T}` | `${infer H}_${infer T}` ? `${H}${Capitalize<CamelCase<T>>}`
  : S;

/**
 * Converts a setting name to the property name used in typed objects.
 *
 * @param name kebab-case or snake_case
 * @returns camelCase
 */
export function camelCase<S extends string>(name: S): CamelCase<S> {
  return name.replace(/[-_]([a-z])/g, (_, c: string) => c.toUpperCase()) as CamelCase<S>;
}

/** The outcome of parsing one value: the value, or the reason it was refused. */
export type ParseOutcome<T> = { ok: true; value: T } | { ok: false; problem: string };

/**
 * Parses the text form of a setting's value and checks its bounds. The problem, when there is
 * one, completes "Cannot parse <what> as …" (for example "it is not a duration").
 *
 * @param setting the definition
 * @param raw the text
 * @returns the typed value, or the problem
 */
export function parseSettingValue<S extends Setting>(
  setting: S,
  raw: string,
): ParseOutcome<SettingValue<S>> {
  const out = parseUntyped(setting, raw);
  return out as ParseOutcome<SettingValue<S>>;
}

function parseUntyped(setting: Setting, raw: string): ParseOutcome<unknown> {
  switch (setting.type) {
    case "string":
      // Empty is refused unless it is the setting's own default (meaning "derive it").
      return raw === "" && setting.default !== "" ? fail("it is empty") : { ok: true, value: raw };
    case "boolean":
      if (raw === "true") return { ok: true, value: true };
      if (raw === "false") return { ok: true, value: false };
      return fail("it is not true or false");
    case "enum":
      return setting.values.includes(raw)
        ? { ok: true, value: raw }
        : fail(`it is not one of ${setting.values.join(", ")}`);
    case "address": {
      const addr = parseHostPort(raw);
      return addr ? { ok: true, value: formatHostPort(addr) } : fail("it is not host:port");
    }
    case "addresses": {
      if (raw === "") return { ok: true, value: [] };
      const list: string[] = [];
      for (const part of raw.split(",")) {
        const addr = parseHostPort(part.trim());
        if (addr === undefined) return fail("it is not a comma-separated list of host:port");
        list.push(formatHostPort(addr));
      }
      return { ok: true, value: list };
    }
    case "number": {
      const n = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
      if (Number.isNaN(n)) return fail("it is not a number");
      if (setting.integer && !Number.isSafeInteger(n)) return fail("it is not an integer");
      return checkBounds(setting, n);
    }
    case "duration": {
      const ms = parseDuration(raw);
      return ms === undefined
        ? fail("it is not a duration such as 25h, 30m or 500ms")
        : checkBounds(setting, ms);
    }
    case "bytes": {
      const n = parseBytes(raw);
      return n === undefined
        ? fail("it is not a byte size such as 512MiB or 4096")
        : checkBounds(setting, n);
    }
  }
}

function fail(problem: string): ParseOutcome<never> {
  return { ok: false, problem };
}

function checkBounds(
  setting: NumberSetting | DurationSetting | BytesSetting,
  n: number,
): ParseOutcome<number> {
  if (setting.min !== undefined && n < setting.min) {
    return fail(`it is below the minimum of ${formatSettingValue(setting, setting.min)}`);
  }
  if (setting.max !== undefined && n > setting.max) {
    return fail(`it is above the maximum of ${formatSettingValue(setting, setting.max)}`);
  }
  return { ok: true, value: n };
}

/**
 * Formats a typed value as text that {@linkcode parseSettingValue} reads back (durations as
 * "25h", byte sizes as "512MiB", lists comma-separated).
 *
 * @param setting the definition
 * @param value a value of the setting's type
 * @returns the text form
 */
export function formatSettingValue<S extends Setting>(setting: S, value: SettingValue<S>): string {
  switch (setting.type) {
    case "duration":
      return formatDuration(value as number);
    case "bytes":
      return formatBytes(value as number);
    case "addresses":
      return (value as readonly string[]).join(",");
    default:
      return String(value);
  }
}
