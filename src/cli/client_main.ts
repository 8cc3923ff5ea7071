/**
 * Runs a client command (`rangedb get|put|delete|range|batch|cas|admin …`): parses the line,
 * prints help when asked, refuses a destructive command that cannot be confirmed (no --yes and
 * no terminal), connects to the endpoints, runs the command and reports failures as
 * one line on stderr (`rangedb: <message> (<CODE>)`, exit 1; usage mistakes are one such line
 * with a hint and the code INVALID_ARGUMENT, exit 2). `--help` anywhere prints help: of the
 * command, of the commands a partial line names (`rangedb admin node --help`), or the main help.
 *
 * @module
 */
import { connect, RangeDbClientError } from "../client/mod.ts";
import { ADMIN_COMMANDS } from "./admin_commands.ts";
import { parseClientArgs, type ParsedCommand, UsageError } from "./cli_args.ts";
import { type CliIo, processIo } from "./cli_io.ts";
import { CLIENT_COMMANDS } from "./client_commands.ts";
import { CONFIG_COMMANDS } from "./config_commands.ts";
import { commandHelp, groupHelp, MAIN_HELP } from "./help.ts";
import { errorText } from "./output.ts";
import { notConfirmable, PARTITION_COMMANDS } from "./partition_commands.ts";

/** The words that start a client command, for the top-level dispatch. */
export const CLIENT_COMMAND_WORDS: readonly string[] = [
  "get",
  "put",
  "delete",
  "range",
  "batch",
  "cas",
  "admin",
];

async function run(cmd: ParsedCommand, io: CliIo): Promise<number> {
  const spec = cmd.spec!;
  const command = CLIENT_COMMANDS[spec.name] ?? ADMIN_COMMANDS[spec.name] ??
    PARTITION_COMMANDS[spec.name] ?? CONFIG_COMMANDS[spec.name];
  const db = await connect({ endpoints: cmd.global.endpoints, timeoutMs: cmd.global.timeoutMs });
  try {
    return await command(db, cmd, io);
  } finally {
    db.close();
  }
}

/**
 * Runs one client command line.
 *
 * @param argv the arguments after the program name (the command words included)
 * @param io standard streams and environment
 * @returns the exit code: 0 done, 1 failed (or key not found, swap refused), 2 usage error
 */
export async function runClientCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  const json = argv.some((a, i) =>
    a === "-o=json" || a === "--output=json" ||
    ((a === "-o" || a === "--output") && argv[i + 1] === "json")
  );
  const usage = async (err: UsageError) => {
    const hint = err.command ? `rangedb ${err.command} --help` : "rangedb --help";
    await io.err(errorText(`${err.message}; see '${hint}'`, "INVALID_ARGUMENT", json) + "\n");
    return 2;
  };
  let cmd: ParsedCommand;
  try {
    cmd = parseClientArgs(argv, io.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return await usage(err);
  }
  if (cmd.help || cmd.spec === undefined) {
    await io.out((cmd.spec ? commandHelp(cmd.spec) : groupHelp(cmd.words) ?? MAIN_HELP) + "\n");
    return 0;
  }
  // A destructive command that nobody can confirm is refused before anything connects.
  if (cmd.spec.destructive && !cmd.yes && !cmd.dryRun && !io.inIsTerminal()) {
    return await usage(notConfirmable(cmd.spec.name));
  }
  try {
    return await run(cmd, io);
  } catch (err) {
    if (err instanceof UsageError) {
      return await usage(new UsageError(err.message, err.command ?? cmd.spec.name));
    }
    const message = err instanceof Error ? err.message : String(err);
    const code = err instanceof RangeDbClientError ? err.code : undefined;
    await io.err(errorText(message, code, json) + "\n");
    return 1;
  }
}
