/**
 * Help texts of the `rangedb` command, derived from the configuration definition so that flags
 * and their documentation cannot drift apart.
 *
 * @module
 */
import { type Setting, SETTINGS } from "../base/config.ts";
import { FLAG_NAMES } from "../base/config_flags.ts";

/** The text of `rangedb --help`. */
export const MAIN_HELP =
  `RangeDB: a distributed, transactional, range-partitioned key-value database

Usage:
  rangedb server [flags]     run a node (see 'rangedb server --help')
  rangedb version            print the version
  rangedb help               print this help

Client commands (get, put, delete, range, batch, txn, admin, repl) arrive with the client API.
`;

function flagDefault(setting: Setting): string {
  if (setting.type === "boolean") return "";
  if (setting.type === "addresses") {
    return setting.default.length ? ` (default ${setting.default.join(",")})` : "";
  }
  return ` (default ${String(setting.default)})`;
}

/**
 * The text of `rangedb server --help`.
 *
 * @returns the flags with their descriptions and defaults
 */
export function serverHelp(): string {
  const lines = FLAG_NAMES.map((name) => {
    const setting: Setting = SETTINGS[name];
    const value = setting.type === "boolean" ? "" : "=VALUE";
    return `  --${name}${value}\n      ${setting.description}${flagDefault(setting)}`;
  });
  return `Usage: rangedb server [flags]

Runs a RangeDB node. Restarting with the same flags resumes from the data directory.

Flags:
${lines.join("\n")}
`;
}
