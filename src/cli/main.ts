/**
 * The `rangedb` command line: dispatches the first argument to a command. `rangedb` alone or
 * `--help` prints help; the server never starts by accident.
 *
 * @module
 */
import { parseNodeFlags } from "../base/config_flags.ts";
import { ErrorCode, isRangeDbError } from "../base/errors.ts";
import { createLogger } from "../base/logger.ts";
import { startServer } from "../server/server.ts";
import { CLIENT_COMMAND_WORDS, runClientCommand } from "./client_main.ts";
import { MAIN_HELP, serverHelp } from "./help.ts";

/** The version printed by `rangedb version`. */
export const VERSION = "0.1.0";

function fail(message: string, exitCode: number): number {
  console.error(`rangedb: ${message}`);
  return exitCode;
}

async function runServer(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(serverHelp());
    return 0;
  }
  let flags;
  try {
    flags = parseNodeFlags(args);
  } catch (err) {
    return fail(isRangeDbError(err) ? err.message : String(err), 2);
  }
  const logger = createLogger({ level: flags.logLevel });
  let server;
  try {
    server = await startServer(flags, logger);
  } catch (err) {
    // A flag that is well-formed but unusable (a bad --node-id) is a usage error too.
    const usage = isRangeDbError(err, ErrorCode.INVALID_ARGUMENT);
    return fail(isRangeDbError(err) ? `${err.message} (${err.code})` : String(err), usage ? 2 : 1);
  }
  const { addresses, identity, how } = server;
  console.log(
    [
      `RangeDB node ${identity.name} (id ${identity.nodeId}) of cluster ${identity.clusterId} ` +
      `is serving (${how})`,
      `  client  ${addresses.client}  (gRPC: KV, Admin, Health, reflection)`,
      `  admin   http://${addresses.admin}/  (/healthz, /readyz, /metrics, /api/v1/cluster)`,
      `  peer    ${addresses.peer}`,
      `  data    ${flags.dataDir}`,
    ].join("\n"),
  );
  const { promise: stopped, resolve } = Promise.withResolvers<string>();
  let signalled = false;
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) {
    Deno.addSignalListener(signal, () => {
      // A second signal while the graceful stop runs ends the process at once.
      if (signalled) Deno.exit(130);
      signalled = true;
      resolve(signal);
    });
  }
  // A node that failed for good (a write to its data directory failed) exits non-zero, so that
  // a supervisor restarts it from what is on disk.
  server.failed.then(() => resolve("failure"));
  const signal = await stopped;
  logger.info("node stopping", signal === "failure" ? { reason: "write failure" } : { signal });
  // The process exits right after, closing its sockets without HTTP/2 GOAWAY frames (see
  // RunningServer.stop).
  const stopping = server.stop({ graceful: true, keepNetwork: true });
  if (signal === "failure") {
    // A stalled disk may never finish the write the engine waits for on close: exit regardless.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = await Promise.race([
      stopping.then(() => false),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), FAILED_STOP_MS)),
    ]);
    clearTimeout(timer);
    if (gaveUp) {
      logger.warn("node stop did not finish; exiting anyway", { waitedMs: FAILED_STOP_MS });
    }
  } else {
    await stopping;
  }
  logger.info("node stopped", {});
  const failure = server.failure();
  return failure === undefined ? 0 : fail(`${failure.message} (${failure.code})`, 1);
}

/** How long a failed node waits for its stop (the engine's close) before it exits anyway. */
const FAILED_STOP_MS = 5_000;

/**
 * Runs the command line.
 *
 * @param args the arguments after the program name
 * @returns the process exit code
 */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(MAIN_HELP);
      return 0;
    case "version":
    case "--version":
      console.log(`rangedb ${VERSION}`);
      return 0;
    case "server":
      return await runServer(rest);
    default:
      // Client commands; global flags may also come first (rangedb -o json get /k).
      if (CLIENT_COMMAND_WORDS.includes(command) || command.startsWith("-")) {
        return await runClientCommand(args);
      }
      return fail(`Cannot run '${command}' as it is not a command: see 'rangedb --help'`, 2);
  }
}
