/**
 * The admin commands of the CLI: `admin cluster status` and `admin node list`.
 *
 * @module
 */
import type { ClientCommand } from "./client_commands.ts";
import { clusterStatusJson, clusterStatusText, nodeJson, nodesText, toJson } from "./output.ts";

const clusterStatus: ClientCommand = async (db, cmd, io) => {
  const status = await db.clusterStatus({ timeoutMs: cmd.global.timeoutMs });
  await io.out(
    (cmd.global.output === "json" ? toJson(clusterStatusJson(status)) : clusterStatusText(status)) +
      "\n",
  );
  return 0;
};

const nodeList: ClientCommand = async (db, cmd, io) => {
  const nodes = await db.listNodes({ timeoutMs: cmd.global.timeoutMs });
  await io.out(
    (cmd.global.output === "json" ? toJson(nodes.map(nodeJson)) : nodesText(nodes)) + "\n",
  );
  return 0;
};

/** The admin commands by name. */
export const ADMIN_COMMANDS: Readonly<Record<string, ClientCommand>> = {
  "admin cluster status": clusterStatus,
  "admin node list": nodeList,
};
