/**
 * The CLI's streams in memory, and a CLI bound to one fake server, for the admin command tests.
 *
 * @module
 */
import type { CliIo } from "../../../src/cli/cli_io.ts";
import { runClientCommand } from "../../../src/cli/client_main.ts";

const dec = new TextDecoder();

/** Streams in memory; `answers` are the lines a person types at a terminal (none: no terminal). */
export function memoryIo(answers?: string[]) {
  let out = "";
  let err = "";
  const io: CliIo = {
    out: (data) => {
      out += typeof data === "string" ? data : dec.decode(data);
      return Promise.resolve();
    },
    err: (text) => {
      err += text;
      return Promise.resolve();
    },
    readStdin: () => Promise.resolve(new Uint8Array()),
    outIsTerminal: () => false,
    inIsTerminal: () => answers !== undefined,
    readLine: () => Promise.resolve(answers?.shift() ?? ""),
    env: {},
  };
  return { io, stdout: () => out, stderr: () => err };
}

/** Runs one CLI command; `answers` as for {@linkcode memoryIo}. */
export type Cli = (
  argv: string[],
  answers?: string[],
) => Promise<{ code: number; stdout: string; stderr: string }>;

/** A CLI whose commands go to `endpoint` (appended as `--endpoints`). */
export function cliAgainst(endpoint: string): Cli {
  return async (argv, answers) => {
    const m = memoryIo(answers);
    const code = await runClientCommand([...argv, "--endpoints", endpoint], m.io);
    return { code, stdout: m.stdout(), stderr: m.stderr() };
  };
}
