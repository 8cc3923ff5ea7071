/**
 * The key-value commands of the CLI: get, put, delete, range, batch and cas, each a function
 * from parsed arguments and a connected client to printed output and an exit code.
 *
 * @module
 */
import type { RangeDbClient } from "../client/mod.ts";
import type { ParsedCommand } from "./cli_args.ts";
import { parseBatchOps } from "./cli_args.ts";
import type { CliIo } from "./cli_io.ts";
import { bytesField, errorText, pairJson, rangeLine, toJson } from "./output.ts";

/** A client command: prints its result and returns the exit code. */
export type ClientCommand = (db: RangeDbClient, cmd: ParsedCommand, io: CliIo) => Promise<number>;

const encoder = new TextEncoder();

function options(cmd: ParsedCommand) {
  return { timeoutMs: cmd.global.timeoutMs, serializable: cmd.serializable };
}

function json(cmd: ParsedCommand): boolean {
  return cmd.global.output === "json";
}

const get: ClientCommand = async (db, cmd, io) => {
  const [key] = cmd.args;
  const found = await db.getWithVersion(key, options(cmd));
  if (json(cmd)) {
    await io.out(
      toJson(
        found
          ? { found: true, key, ...bytesField("value", found.value), version: found.version }
          : { found: false, key },
      ) + "\n",
    );
  } else if (found) {
    // Raw bytes, so that `rangedb get /k > file` round-trips; a newline only for a terminal.
    await io.out(found.value);
    if (io.outIsTerminal()) await io.out("\n");
  } else {
    await io.err(errorText(`Key not found: ${key}`, "NOT_FOUND", false) + "\n");
  }
  return found ? 0 : 1;
};

const put: ClientCommand = async (db, cmd, io) => {
  const [key, value] = cmd.args;
  const bytes = value === "-" ? await io.readStdin() : encoder.encode(value);
  const { version } = await db.put(key, bytes, options(cmd));
  await io.out(json(cmd) ? toJson({ version }) + "\n" : `OK version=${version}\n`);
  return 0;
};

const del: ClientCommand = async (db, cmd, io) => {
  const deleted = await db.delete(cmd.args[0], options(cmd));
  await io.out(json(cmd) ? toJson({ deleted }) + "\n" : `OK deleted=${deleted}\n`);
  return 0;
};

const range: ClientCommand = async (db, cmd, io) => {
  const [start, end] = cmd.args;
  const pairs = db.range(start, end ?? null, {
    ...options(cmd),
    limit: cmd.limit,
    reverse: cmd.reverse,
    keysOnly: cmd.keysOnly,
  });
  if (json(cmd)) {
    const all = [];
    for await (const pair of pairs) all.push(pairJson(pair, cmd.keysOnly));
    await io.out(toJson(all) + "\n");
    return 0;
  }
  let lines: string[] = [];
  for await (const pair of pairs) {
    lines.push(rangeLine(pair, cmd.keysOnly));
    if (lines.length === 1000) {
      await io.out(lines.join("\n") + "\n");
      lines = [];
    }
  }
  if (lines.length > 0) await io.out(lines.join("\n") + "\n");
  return 0;
};

const batch: ClientCommand = async (db, cmd, io) => {
  const b = db.batch();
  for (const op of parseBatchOps(cmd.args)) {
    if (op.kind === "put") b.put(op.key, op.value);
    else b.delete(op.key);
  }
  const { version } = await b.commit(options(cmd));
  await io.out(json(cmd) ? toJson({ version }) + "\n" : `OK version=${version}\n`);
  return 0;
};

const cas: ClientCommand = async (db, cmd, io) => {
  const [key, ...rest] = cmd.args;
  if (cmd.expectAbsent !== (rest.length === 1)) {
    await io.err(
      errorText(
        "Cannot run 'cas' as it takes KEY EXPECTED VALUE, or KEY VALUE with --expect-absent: " +
          `got ${cmd.args.length} arguments; see 'rangedb cas --help'`,
        "INVALID_ARGUMENT",
        false,
      ) + "\n",
    );
    return 2;
  }
  const expected = cmd.expectAbsent ? null : rest[0];
  const value = rest[rest.length - 1];
  const outcome = await db.compareAndSwapDetailed(key, expected, value, options(cmd));
  if (json(cmd)) {
    await io.out(
      toJson({
        succeeded: outcome.succeeded,
        found: outcome.found,
        ...(outcome.actual ? bytesField("actual", outcome.actual) : {}),
        ...(outcome.succeeded ? { version: outcome.version } : {}),
      }) + "\n",
    );
  } else if (outcome.succeeded) {
    await io.out(`OK version=${outcome.version}\n`);
  } else {
    const why = !outcome.found
      ? "it does not exist"
      : expected === null
      ? "it exists"
      : `its value differs: value is '${new TextDecoder().decode(outcome.actual ?? undefined)}'`;
    await io.err(errorText(`Cannot swap ${key} as ${why}`, "FAILED_PRECONDITION", false) + "\n");
  }
  return outcome.succeeded ? 0 : 1;
};

/** The key-value commands by name. */
export const CLIENT_COMMANDS: Readonly<Record<string, ClientCommand>> = {
  get,
  put,
  delete: del,
  range,
  batch,
  cas,
};
