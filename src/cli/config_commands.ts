/**
 * The cluster settings commands of the CLI: `admin config get [NAME]` and
 * `admin config set NAME VALUE [--yes] [--dry-run]`. Lowering `replication_factor` takes replicas
 * away from every range, so that one change asks for confirmation on a terminal (after showing it)
 * and needs `--yes` otherwise; every other change is applied at once.
 *
 * @module
 */
import type { ClusterSetting, SetConfigResponse } from "../../proto/gen/rangedb/v1/admin_pb.ts";
import type { ClientCommand } from "./client_commands.ts";
import { errorText, formatTable, toJson } from "./output.ts";
import { notConfirmable } from "./partition_commands.ts";

/** The JSON form of one setting. */
export function settingJson(s: ClusterSetting): Record<string, unknown> {
  return { name: s.name, value: s.value, default: s.defaultValue, is_set: s.isSet };
}

/** The table of settings: name, value, default, and whether a value is stored. */
export function settingsText(settings: readonly ClusterSetting[]): string {
  return formatTable(
    ["NAME", "VALUE", "DEFAULT", "SET"],
    settings.map((s) => [s.name, s.value, s.defaultValue, s.isSet ? "yes" : "no"]),
  );
}

/** The line `admin config set` prints. */
export function setConfigText(res: SetConfigResponse): string {
  const before = res.previous!;
  const after = res.current!;
  return res.dryRun
    ? `Would set ${after.name} from ${before.value} to ${after.value}`
    : `OK ${after.name} ${before.value} -> ${after.value}`;
}

/**
 * Whether changing `name` from `before` to `after` removes replicas (a lower replication factor).
 *
 * @param name the setting
 * @param before its value in effect (text)
 * @param after the new value (text)
 * @returns true only for a lower replication_factor
 */
export function isDestructiveChange(name: string, before: string, after: string): boolean {
  return name === "replication_factor" && Number(after) < Number(before);
}

const configGet: ClientCommand = async (db, cmd, io) => {
  const [name] = cmd.args;
  const settings = await db.admin.getConfig(name, { timeoutMs: cmd.global.timeoutMs });
  if (cmd.global.output === "json") {
    await io.out(
      toJson(
        name === undefined ? { settings: settings.map(settingJson) } : settingJson(
          settings[0],
        ),
      ) + "\n",
    );
  } else if (name === undefined) {
    await io.out(settingsText(settings) + "\n");
  } else {
    await io.out(settings[0].value + "\n");
  }
  return 0;
};

const configSet: ClientCommand = async (db, cmd, io) => {
  const [name, value] = cmd.args;
  const options = { timeoutMs: cmd.global.timeoutMs };
  const print = async (res: SetConfigResponse) => {
    await io.out(
      (cmd.global.output === "json"
        ? toJson({
          dry_run: res.dryRun,
          previous: settingJson(res.previous!),
          current: settingJson(res.current!),
        })
        : setConfigText(res)) + "\n",
    );
  };
  // The dry run validates the value and tells whether the change is destructive.
  const plan = await db.admin.setConfig(name, value, { ...options, dryRun: true });
  if (cmd.dryRun) {
    await print(plan);
    return 0;
  }
  if (!cmd.yes && isDestructiveChange(name, plan.previous!.value, plan.current!.value)) {
    if (!io.inIsTerminal()) throw notConfirmable("admin config set");
    await io.err(
      `Lowering ${name} from ${plan.previous!.value} to ${
        plan.current!.value
      } removes replicas of every range. Continue? [y/N] `,
    );
    const answer = (await io.readLine()).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") {
      await io.err(
        errorText(`Cannot set ${name} as it was not confirmed`, "CANCELLED", false) + "\n",
      );
      return 1;
    }
  }
  await print(await db.admin.setConfig(name, value, options));
  return 0;
};

/** The config commands by name. */
export const CONFIG_COMMANDS: Readonly<Record<string, ClientCommand>> = {
  "admin config get": configGet,
  "admin config set": configSet,
};
