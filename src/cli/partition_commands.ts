/**
 * The partition and meta commands of the CLI: `admin partition list|split|merge` and
 * `admin meta list|get`. A merge cannot be undone by a command of its own, so it asks for
 * confirmation on a terminal (after showing what it would do) and needs `--yes` otherwise;
 * `client_main.ts` refuses it before connecting when neither is possible.
 *
 * @module
 */
import { parseRangeId, UsageError } from "./cli_args.ts";
import type { ClientCommand } from "./client_commands.ts";
import { errorText, toJson } from "./output.ts";
import {
  mergeText,
  metaEntryJson,
  metaLine,
  migrationsText,
  partitionsJson,
  partitionsText,
  rangeJson,
  spanText,
  splitText,
} from "./partition_output.ts";

function json(output: string): boolean {
  return output === "json";
}

const partitionList: ClientCommand = async (db, cmd, io) => {
  const res = await db.admin.listPartitions({
    timeoutMs: cmd.global.timeoutMs,
    showMigrations: cmd.showMigrations,
  });
  if (json(cmd.global.output)) {
    await io.out(toJson(partitionsJson(res, cmd.showMigrations)) + "\n");
    return 0;
  }
  let text = partitionsText(res.partitions) + "\n";
  if (cmd.showMigrations) text += `\n${migrationsText(res.migrations, Date.now())}\n`;
  await io.out(text);
  return 0;
};

const partitionSplit: ClientCommand = async (db, cmd, io) => {
  const [key] = cmd.args;
  const res = await db.admin.splitPartition(key, {
    timeoutMs: cmd.global.timeoutMs,
    dryRun: cmd.dryRun,
  });
  await io.out(
    (json(cmd.global.output)
      ? toJson({ dry_run: res.dryRun, left: rangeJson(res.left!), right: rangeJson(res.right!) })
      : splitText(res, key)) + "\n",
  );
  return 0;
};

const partitionMerge: ClientCommand = async (db, cmd, io) => {
  const rangeId = parseRangeId(cmd.args[0]);
  const options = { timeoutMs: cmd.global.timeoutMs };
  const print = async (res: Awaited<ReturnType<typeof db.admin.mergePartition>>) => {
    await io.out(
      (json(cmd.global.output)
        ? toJson({
          dry_run: res.dryRun,
          subsumed_range_id: Number(res.subsumedRangeId),
          merged: rangeJson(res.merged!),
        })
        : mergeText(res)) + "\n",
    );
  };
  if (cmd.dryRun) {
    await print(await db.admin.mergePartition(rangeId, { ...options, dryRun: true }));
    return 0;
  }
  if (!cmd.yes) {
    if (!io.inIsTerminal()) throw notConfirmable("admin partition merge");
    const plan = await db.admin.mergePartition(rangeId, { ...options, dryRun: true });
    await io.err(
      `Range ${rangeId} will be merged into range ${plan.merged!.rangeId}, which will then cover ${
        spanText(plan.merged!)
      }. Continue? [y/N] `,
    );
    const answer = (await io.readLine()).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") {
      await io.err(
        errorText(`Cannot merge range ${rangeId} as it was not confirmed`, "CANCELLED", false) +
          "\n",
      );
      return 1;
    }
  }
  await print(await db.admin.mergePartition(rangeId, options));
  return 0;
};

/**
 * The usage error of a destructive command that can neither ask nor was confirmed.
 *
 * @param name the command
 * @returns the error (exit code 2)
 */
export function notConfirmable(name: string): UsageError {
  return new UsageError(
    `Cannot run '${name}' without confirmation as standard input is not a terminal: ` +
      "pass --yes to confirm, or --dry-run to see what it would do",
    name,
  );
}

const metaList: ClientCommand = async (db, cmd, io) => {
  const [prefix] = cmd.args;
  const res = await db.admin.metaList(prefix, {
    timeoutMs: cmd.global.timeoutMs,
    limit: cmd.limit,
  });
  if (json(cmd.global.output)) {
    await io.out(toJson({ entries: res.entries.map(metaEntryJson), more: res.more }) + "\n");
    return 0;
  }
  if (res.entries.length > 0) await io.out(res.entries.map(metaLine).join("\n") + "\n");
  if (res.more) {
    await io.err(
      `rangedb: showing the first ${res.entries.length} entries; more exist (raise --limit)\n`,
    );
  }
  return 0;
};

const metaGet: ClientCommand = async (db, cmd, io) => {
  const [key] = cmd.args;
  const entry = await db.admin.metaGet(key, { timeoutMs: cmd.global.timeoutMs });
  if (json(cmd.global.output)) {
    await io.out(
      toJson(entry === null ? { found: false, key } : { found: true, ...metaEntryJson(entry) }) +
        "\n",
    );
  } else if (entry !== null) {
    await io.out(entry.decoded + "\n");
  } else {
    await io.err(errorText(`Key not found: ${key}`, "NOT_FOUND", false) + "\n");
  }
  return entry === null ? 1 : 0;
};

/** The partition and meta commands by name. */
export const PARTITION_COMMANDS: Readonly<Record<string, ClientCommand>> = {
  "admin partition list": partitionList,
  "admin partition split": partitionSplit,
  "admin partition merge": partitionMerge,
  "admin meta list": metaList,
  "admin meta get": metaGet,
};
