/**
 * Parsing of the client commands' arguments (`rangedb get|put|delete|range|batch|cas|admin …`):
 * global flags anywhere on the line, the command words, its positional arguments and its own
 * flags. Pure: the environment comes in as a parameter. Mistakes are {@linkcode UsageError}s,
 * which the CLI reports with exit code 2 and a hint.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseDuration, parseHostPort } from "../base/config_units.ts";

/** The default endpoint: a local node's default client address. */
export const DEFAULT_ENDPOINT = "127.0.0.1:7081";
/** The default call timeout. */
export const DEFAULT_CLI_TIMEOUT_MS = 5_000;

/** A mistake on the command line; `command` names the command whose help fits, if any. */
export class UsageError extends Error {
  override name = "UsageError";
  /** The command the hint points to ("get", "admin cluster status"), if known. */
  readonly command: string | undefined;

  /**
   * @param message what is wrong, in sentence case
   * @param command the command whose help to suggest
   */
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

/** The output format. */
export type OutputFormat = "text" | "json";

/** Flags every client command accepts. */
export interface GlobalFlags {
  endpoints: string[];
  output: OutputFormat;
  timeoutMs: number;
}

/** The flags a command may take besides the global ones. */
type CommandFlag =
  | "serializable"
  | "limit"
  | "reverse"
  | "keys-only"
  | "expect-absent"
  | "show-migrations"
  | "dry-run"
  | "yes";

/** Every command flag, in the order they are checked. */
const COMMAND_FLAGS: readonly CommandFlag[] = [
  "serializable",
  "limit",
  "reverse",
  "keys-only",
  "expect-absent",
  "show-migrations",
  "dry-run",
  "yes",
];

/** A command: its words, its positional arguments and the flags it accepts. */
export interface CommandSpec {
  /** Words naming it ("get", "admin cluster status"). */
  name: string;
  /** Smallest and largest number of positional arguments (after the command words). */
  minArgs: number;
  maxArgs: number;
  /** Its own flags. */
  flags: readonly CommandFlag[];
  /** The synopsis of its arguments, for help. */
  synopsis: string;
  /** One line of description, for help. */
  summary: string;
  /**
   * Whether it changes the cluster in a way a command cannot simply undo: it asks for
   * confirmation on a terminal and needs --yes otherwise (--dry-run needs neither).
   */
  destructive?: boolean;
  /** Checks the positional arguments before anything connects. @throws {UsageError} */
  check?: (args: readonly string[]) => void;
}

/**
 * Parses a RANGE_ID argument.
 *
 * @param text the argument
 * @returns the range id
 * @throws {UsageError} unless it is a positive whole number
 */
export function parseRangeId(text: string): number {
  const id = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new UsageError(
      `Cannot parse RANGE_ID as it is not a positive whole number: got '${text}'`,
      "admin partition merge",
    );
  }
  return id;
}

/** Every client command. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: "get",
    minArgs: 1,
    maxArgs: 1,
    flags: ["serializable"],
    synopsis: "KEY [--serializable]",
    summary: "print the value of KEY (exit 1 when it does not exist)",
  },
  {
    name: "put",
    minArgs: 2,
    maxArgs: 2,
    flags: [],
    synopsis: "KEY VALUE",
    summary: "write VALUE to KEY (VALUE '-' reads standard input)",
  },
  {
    name: "delete",
    minArgs: 1,
    maxArgs: 1,
    flags: [],
    synopsis: "KEY",
    summary: "delete KEY",
  },
  {
    name: "range",
    minArgs: 1,
    maxArgs: 2,
    flags: ["serializable", "limit", "reverse", "keys-only"],
    synopsis: "START [END] [--limit N] [--reverse] [--keys-only] [--serializable]",
    summary: "list the keys of [START, END) (END omitted: to the end of the key space)",
  },
  {
    name: "batch",
    minArgs: 2,
    maxArgs: Infinity,
    flags: [],
    synopsis: "put K V [K V …] [delete K [K …]] …",
    summary: "apply puts and deletes atomically",
  },
  {
    name: "cas",
    minArgs: 2,
    maxArgs: 3,
    flags: ["expect-absent"],
    synopsis: "KEY EXPECTED VALUE | cas KEY VALUE --expect-absent",
    summary: "write VALUE only if KEY holds EXPECTED (or, with --expect-absent, does not exist)",
  },
  {
    name: "admin cluster status",
    minArgs: 0,
    maxArgs: 0,
    flags: [],
    synopsis: "",
    summary: "show the cluster's health, nodes and ranges",
  },
  {
    name: "admin node list",
    minArgs: 0,
    maxArgs: 0,
    flags: [],
    synopsis: "",
    summary: "list the nodes of the cluster",
  },
  {
    name: "admin partition list",
    minArgs: 0,
    maxArgs: 0,
    flags: ["show-migrations"],
    synopsis: "[--show-migrations]",
    summary: "list the ranges with their bounds, leader, replicas, size and load",
  },
  {
    name: "admin partition split",
    minArgs: 1,
    maxArgs: 1,
    flags: ["dry-run"],
    synopsis: "KEY [--dry-run]",
    summary: "split the range holding KEY at KEY (a new range takes the keys before it)",
  },
  {
    name: "admin partition merge",
    minArgs: 1,
    maxArgs: 1,
    flags: ["yes", "dry-run"],
    synopsis: "RANGE_ID [--yes] [--dry-run]",
    summary: "merge range RANGE_ID into its right-hand neighbour",
    destructive: true,
    check: ([id]) => void parseRangeId(id),
  },
  {
    name: "admin meta list",
    minArgs: 1,
    maxArgs: 1,
    flags: ["limit"],
    synopsis: "PREFIX [--limit N]",
    summary: "list the raw system metadata under PREFIX (starting with _/)",
  },
  {
    name: "admin meta get",
    minArgs: 1,
    maxArgs: 1,
    flags: [],
    synopsis: "KEY",
    summary: "print one raw system metadata entry (KEY starts with _/)",
  },
  {
    name: "admin config get",
    minArgs: 0,
    maxArgs: 1,
    flags: [],
    synopsis: "[NAME]",
    summary: "print a cluster setting (without NAME: every cluster setting)",
  },
  {
    name: "admin config set",
    minArgs: 2,
    maxArgs: 2,
    flags: ["yes", "dry-run"],
    synopsis: "NAME VALUE [--yes] [--dry-run]",
    summary: "change a cluster setting (lowering replication_factor asks first)",
  },
];

/** A parsed client command line. */
export interface ParsedCommand {
  /** The command, or undefined for `rangedb --help`-like lines without one. */
  spec: CommandSpec | undefined;
  /** Positional arguments after the command words. */
  args: string[];
  global: GlobalFlags;
  /** Whether --help was given. */
  help: boolean;
  /** The leading positional words when they name no command (`admin node` with --help). */
  words: string[];
  serializable: boolean;
  limit: number;
  reverse: boolean;
  keysOnly: boolean;
  expectAbsent: boolean;
  showMigrations: boolean;
  dryRun: boolean;
  /** Confirms a destructive command without asking. */
  yes: boolean;
}

const OPTIONS = {
  endpoints: { type: "string" },
  output: { type: "string", short: "o" },
  timeout: { type: "string" },
  serializable: { type: "boolean" },
  limit: { type: "string" },
  reverse: { type: "boolean" },
  "keys-only": { type: "boolean" },
  "expect-absent": { type: "boolean" },
  "show-migrations": { type: "boolean" },
  "dry-run": { type: "boolean" },
  yes: { type: "boolean", short: "y" },
  help: { type: "boolean", short: "h" },
} as const;

function findSpec(words: string[]): { spec: CommandSpec | undefined; used: number } {
  for (const spec of COMMANDS) {
    const parts = spec.name.split(" ");
    if (parts.every((p, i) => words[i] === p)) return { spec, used: parts.length };
  }
  return { spec: undefined, used: 0 };
}

/**
 * Parses the endpoints flag or variable: comma-separated host:port.
 *
 * @param text "a:1,b:2"
 * @returns the endpoints
 * @throws {UsageError} when empty or one is not host:port
 */
function parseEndpoints(text: string): string[] {
  const endpoints = text.split(",").map((e) => e.trim()).filter((e) => e !== "");
  if (endpoints.length === 0) {
    throw new UsageError("Cannot parse --endpoints as it names no endpoint: got ''");
  }
  for (const e of endpoints) {
    if (parseHostPort(e) === undefined) {
      throw new UsageError(`Cannot parse --endpoints as an endpoint is not host:port: got '${e}'`);
    }
  }
  return endpoints;
}

/**
 * Parses a client command line.
 *
 * @example
 * ```ts
 * import { parseClientArgs } from "./cli_args.ts";
 * const cmd = parseClientArgs(["range", "/a", "/b", "--limit", "5", "-o", "json"], {});
 * cmd.spec?.name; // "range"
 * cmd.limit; // 5
 * ```
 *
 * @param argv the arguments after the program name
 * @param env environment variables (RANGEDB_ENDPOINTS)
 * @returns the command, its arguments and flags
 * @throws {UsageError} for unknown commands or flags, wrong argument counts, bad values
 */
export function parseClientArgs(
  argv: string[],
  env: Readonly<Record<string, string | undefined>>,
): ParsedCommand {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`Cannot parse the command line: ${(err as Error).message}`);
  }
  const { values, positionals } = parsed;
  const { spec, used } = findSpec(positionals);
  const help = values.help ?? false;
  const name = spec?.name;
  if (!spec && positionals.length > 0 && !help) {
    const words = positionals.slice(0, positionals[0] === "admin" ? 3 : 1).join(" ");
    throw new UsageError(`Cannot run '${words}' as it is not a command`);
  }
  const args = positionals.slice(used);
  if (spec && !help) {
    for (const flag of COMMAND_FLAGS) {
      if (values[flag] !== undefined && !spec.flags.includes(flag)) {
        throw new UsageError(`Cannot use --${flag} with '${name}' as it does not take it`, name);
      }
    }
    if (args.length < spec.minArgs || args.length > spec.maxArgs) {
      throw new UsageError(
        `Cannot run '${name}' as it takes ${describeCount(spec)}: got ${args.length}`,
        name,
      );
    }
    spec.check?.(args);
  }
  // `-o=json` reaches parseArgs as the short option with the value "=json".
  const output = (values.output ?? "text").replace(/^=/, "");
  if (output !== "text" && output !== "json") {
    throw new UsageError(`Cannot parse -o as it is neither text nor json: got '${output}'`, name);
  }
  const timeoutMs = values.timeout === undefined
    ? DEFAULT_CLI_TIMEOUT_MS
    : parseDuration(values.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) {
    throw new UsageError(
      `Cannot parse --timeout as it is not a positive duration: got '${values.timeout}'`,
      name,
    );
  }
  const limit = values.limit === undefined ? 0 : Number(values.limit);
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > 0xffffffff) {
    throw new UsageError(
      `Cannot parse --limit as it is not a whole number: got '${values.limit}'`,
      name,
    );
  }
  const endpoints = parseEndpoints(values.endpoints ?? env.RANGEDB_ENDPOINTS ?? DEFAULT_ENDPOINT);
  return {
    spec,
    args,
    global: { endpoints, output, timeoutMs },
    help,
    words: spec ? [] : positionals,
    serializable: values.serializable ?? false,
    limit,
    reverse: values.reverse ?? false,
    keysOnly: values["keys-only"] ?? false,
    expectAbsent: values["expect-absent"] ?? false,
    showMigrations: values["show-migrations"] ?? false,
    dryRun: values["dry-run"] ?? false,
    yes: values.yes ?? false,
  };
}

function describeCount(spec: CommandSpec): string {
  if (spec.maxArgs === 0) return "no arguments";
  if (spec.maxArgs === Infinity) return `at least ${spec.minArgs} arguments`;
  if (spec.minArgs === spec.maxArgs) {
    return `${spec.minArgs} argument${spec.minArgs === 1 ? "" : "s"}`;
  }
  return `${spec.minArgs} to ${spec.maxArgs} arguments`;
}

/** One write of a `batch` command. */
export type BatchCommandOp = { kind: "put"; key: string; value: string } | {
  kind: "delete";
  key: string;
};

/**
 * Parses the arguments of `batch`: a sequence of `put K V [K V …]` and `delete K [K …]` groups.
 * A key position holding the word `put` or `delete` starts a new group (keys start with `/`, so
 * the words cannot be keys); a value position takes any word.
 *
 * @example
 * ```ts
 * import { parseBatchOps } from "./cli_args.ts";
 * parseBatchOps(["put", "/a", "1", "/b", "2", "delete", "/c"]).length; // 3
 * ```
 *
 * @param args the arguments after `batch`
 * @returns the operations in order
 * @throws {UsageError} when a group is missing, empty, or a put lacks its value
 */
export function parseBatchOps(args: string[]): BatchCommandOp[] {
  const ops: BatchCommandOp[] = [];
  let kind: "put" | "delete" | undefined;
  let inGroup = 0;
  for (let i = 0; i < args.length; i++) {
    const word = args[i];
    if (word === "put" || word === "delete") {
      if (kind !== undefined && inGroup === 0) {
        throw new UsageError(
          `Cannot parse batch as '${kind}' has no key before '${word}'`,
          "batch",
        );
      }
      kind = word;
      inGroup = 0;
      continue;
    }
    if (kind === undefined) {
      throw new UsageError(
        `Cannot parse batch as it must start with put or delete: got '${word}'`,
        "batch",
      );
    }
    if (kind === "delete") {
      ops.push({ kind, key: word });
    } else {
      if (i + 1 >= args.length) {
        throw new UsageError(`Cannot parse batch as put of ${word} has no value`, "batch");
      }
      ops.push({ kind, key: word, value: args[++i] });
    }
    inGroup++;
  }
  if (kind !== undefined && inGroup === 0) {
    throw new UsageError(`Cannot parse batch as '${kind}' has no key`, "batch");
  }
  if (ops.length === 0) throw new UsageError("Cannot parse batch as it has no operations", "batch");
  return ops;
}
