/**
 * Help texts of the `rangedb` command, derived from the configuration definition so that flags
 * and their documentation cannot drift apart.
 *
 * @module
 */
import { type Setting, SETTINGS } from "../base/config.ts";
import { FLAG_NAMES } from "../base/config_flags.ts";
import { COMMANDS, type CommandSpec, DEFAULT_ENDPOINT } from "./cli_args.ts";

const CLIENT_FLAGS =
  `  --endpoints=H:P,H:P   nodes to talk to (default $RANGEDB_ENDPOINTS, else ${DEFAULT_ENDPOINT})
  -o, --output=FORMAT   text or json (default text)
  --timeout=DURATION    budget of the command, retries included (default 5s)
`;

/** The text of `rangedb --help`. */
export const MAIN_HELP =
  `RangeDB: a distributed, transactional, range-partitioned key-value database

Usage:
  rangedb server [flags]     run a node (see 'rangedb server --help')
${
    COMMANDS.map((c) => `  rangedb ${`${c.name} ${c.synopsis}`.trim()}\n      ${c.summary}`).join(
      "\n",
    )
  }
  rangedb version            print the version
  rangedb help               print this help

Client flags (every client command; '--help' after a command explains it):
${CLIENT_FLAGS}
Keys start with '/'. Put '--' before arguments that start with '-' (rangedb put /n -- -5).
`;

const COMMAND_DETAILS: Readonly<Record<string, string>> = {
  get: `Prints the value as stored (raw bytes; a newline is added only on a terminal). A missing
key prints "rangedb: Key not found: KEY (NOT_FOUND)" on stderr and exits 1; with -o json it
prints {"found": false} and exits 1.
  --serializable   let any node answer from its local state (faster, may be stale)`,
  put: `Prints "OK version=N", the commit version of the write.`,
  delete: `Prints "OK deleted=true" when the key existed, "OK deleted=false" otherwise.`,
  range: `Prints one "key<TAB>value" line per key (tab, newline and backslash escaped), or a JSON
array with -o json. The scan is one consistent snapshot.
  --limit=N        at most N keys
  --reverse        descending order
  --keys-only      print keys only
  --serializable   let any node answer from its local state`,
  batch: `Applies every operation atomically at one version and prints "OK version=N".
  rangedb batch put /user/1 a /user/2 b
  rangedb batch put /a 1 put /b 2 delete /c`,
  cas: `Writes VALUE only if KEY holds EXPECTED and prints "OK version=N"; otherwise exits 1 and
says what the key holds.
  --expect-absent  require that KEY does not exist (then: rangedb cas KEY VALUE --expect-absent)`,
  "admin cluster status":
    `Prints the cluster id and health, every node (role, leader, addresses) and
every range (bounds, leader, voters, term, commit and applied index).`,
  "admin node list": `Prints every node: name, id, role, leader, reachability and addresses.`,
  "admin partition list":
    `Prints every range of the cluster in key order: id, bounds (keys as text when printable, else
escaped like \\xff; "-" is the start and "+inf" the end of the key space), leader, replicas, live
keys, size, writes per second and generation. A range frozen for a merge shows "(frozen)".
  --show-migrations  also list the splits and merges in flight on every node`,
  "admin partition split":
    `The new range holds the keys before KEY; the old range keeps KEY and the keys after it. No
data moves. KEY must be a user key (starting with /) and not already a range boundary.
  --dry-run  only check that the split is possible and print what it would do`,
  "admin partition merge":
    `Merges range RANGE_ID into its right-hand neighbour (the range starting where it ends);
both must have the same replicas. No command undoes a merge (split again to separate the keys),
so the command shows what it will do and asks for confirmation on a terminal; without a
terminal it needs --yes and otherwise exits 2.
  --yes      merge without asking
  --dry-run  only check that the merge is possible and print what it would do`,
  "admin meta list":
    `Prints "key<TAB>value" for every system metadata entry under PREFIX (which starts with _/),
values decoded: range descriptors and node records as JSON, settings as text, other values as
text or hex. "_/partitions/" lists the range descriptors and their by-end index.
  --limit=N  at most N entries (default 1000, at most 10000); a note on stderr says when more
             exist`,
  "admin meta get": `Prints the decoded value of one system metadata entry. A missing key exits 1.`,
  "admin config get":
    `Prints the value in effect of cluster setting NAME (e.g. range_max_bytes); without NAME, a table
of every cluster setting with its value, default and whether a value is stored. The settings and
their units are listed in docs/configuration.md.`,
  "admin config set":
    `Changes cluster setting NAME to VALUE (e.g. "rangedb admin config set range_max_bytes 1MiB") and
prints "OK NAME OLD -> NEW". The value is checked alone and together with the other settings
(range_min_bytes must stay below range_max_bytes) before it is written. Lowering
replication_factor removes replicas of every range: the command shows the change and asks on a
terminal; without a terminal it needs --yes and otherwise exits 2.
  --yes      change without asking
  --dry-run  only check the value and print what would change`,
};

/**
 * The text of `rangedb <command> --help`.
 *
 * @param spec the command
 * @returns usage, description and flags
 */
export function commandHelp(spec: CommandSpec): string {
  return `Usage: rangedb ${`${spec.name} ${spec.synopsis}`.trim()}

${spec.summary[0].toUpperCase()}${spec.summary.slice(1)}.
${COMMAND_DETAILS[spec.name] ?? ""}

Client flags:
${CLIENT_FLAGS}`;
}

/**
 * The help of the commands that start with `words` (`rangedb admin --help`,
 * `rangedb admin node --help`).
 *
 * @param words the words given before --help
 * @returns their synopses, or undefined when no command starts with them
 */
export function groupHelp(words: readonly string[]): string | undefined {
  if (words.length === 0) return undefined;
  const matching = COMMANDS.filter((c) => {
    const parts = c.name.split(" ");
    return words.every((w, i) => parts[i] === w);
  });
  if (matching.length === 0) return undefined;
  return `Usage:
${
    matching.map((c) => `  rangedb ${`${c.name} ${c.synopsis}`.trim()}\n      ${c.summary}`).join(
      "\n",
    )
  }

Client flags ('--help' after a command explains it):
${CLIENT_FLAGS}`;
}

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
