/**
 * Renders `docs/configuration.md` from {@linkcode SETTINGS}, so that the reference cannot drift
 * from the code: `deno run -A scripts/config_docs.ts` rewrites the file and a unit test fails
 * while it is stale.
 *
 * @module
 */

import { formatSettingValue, type Setting, SETTINGS, type SettingScope } from "./config.ts";
import { CLUSTER_CONFIG_PREFIX } from "./config_cluster.ts";

const TYPE_LABEL: Record<Setting["type"], string> = {
  number: "number",
  duration: "duration",
  bytes: "bytes",
  string: "string",
  boolean: "boolean",
  enum: "enum",
  address: "host:port",
  addresses: "host:port list",
};

/**
 * The markdown of `docs/configuration.md`.
 *
 * @returns the document, ending in a newline
 */
export function renderConfigDocs(): string {
  const lines = [
    "# Configuration",
    "",
    "<!-- Generated from src/base/config.ts by `deno run -A scripts/config_docs.ts`; do not edit. -->",
    "",
    "RangeDB has two kinds of settings, defined in one table (`SETTINGS` in `src/base/config.ts`):",
    "",
    "- **Flags** are node-local and given on the command line of `rangedb server`.",
    "- **Cluster settings** are shared by all nodes and stored through Raft under",
    `  \`${CLUSTER_CONFIG_PREFIX}<name>\`; a setting that was never set has its default. The first`,
    "  leader writes `replication_factor` when the cluster forms; changing settings (the admin",
    "  command `config set`) and applying the others from the stored keys arrive in later issues, so today",
    "  every other setting has its default.",
    "",
    "Value syntax:",
    "",
    "- durations are one or more number-unit parts with units `ms`, `s`, `m`, `h`, `d`: `25h`,",
    "  `1h30m`, `500ms`;",
    "- byte sizes are a number with an optional unit, `B`, `KB`, `MB`, `GB`, `TB` (powers of 1000)",
    "  or `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024): `512MiB`, `4096`;",
    "- addresses are `host:port`, with IPv6 hosts in brackets (`[::1]:7080`); port 0 picks a free",
    "  port;",
    "- address lists are comma-separated, and the flag may also be repeated.",
    "",
    "## Flags",
    "",
    ...table("flag"),
    "",
    "## Cluster settings",
    "",
    ...table("cluster"),
  ];
  return lines.join("\n") + "\n";
}

function table(scope: SettingScope): string[] {
  const rows = [
    "| Name | Type | Default | Allowed | Description |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const [name, setting] of Object.entries(SETTINGS) as [string, Setting][]) {
    if (setting.scope !== scope) continue;
    const label = scope === "flag" ? `\`--${name}\`` : `\`${name}\``;
    const cells = [
      label,
      TYPE_LABEL[setting.type],
      code(formatSettingValue(setting, setting.default as never)),
      allowed(setting),
      escape(setting.description),
    ];
    rows.push(`| ${cells.join(" | ")} |`);
  }
  return rows;
}

function allowed(setting: Setting): string {
  switch (setting.type) {
    case "enum":
      return setting.values.map(code).join(", ");
    case "number":
    case "duration":
    case "bytes": {
      const parts: string[] = [];
      if (setting.type === "number" && setting.integer) parts.push("integer");
      if (setting.min !== undefined) {
        parts.push(`≥ ${code(formatSettingValue(setting, setting.min))}`);
      }
      if (setting.max !== undefined) {
        parts.push(`≤ ${code(formatSettingValue(setting, setting.max))}`);
      }
      return parts.join(", ");
    }
    default:
      return "";
  }
}

function code(text: string): string {
  return text === "" ? "(none)" : "`" + text + "`";
}

function escape(text: string): string {
  return text.replaceAll("|", "\\|");
}
