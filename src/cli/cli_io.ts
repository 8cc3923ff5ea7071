/**
 * The process surroundings of the client commands (standard streams, environment), behind an
 * interface so that the commands can run in-process in tests.
 *
 * @module
 */

/** Streams and environment of a command run. */
export interface CliIo {
  /** Writes text or raw bytes to standard output. */
  out(data: string | Uint8Array): Promise<void>;
  /** Writes text to standard error. */
  err(text: string): Promise<void>;
  /** Reads all of standard input. */
  readStdin(): Promise<Uint8Array>;
  /** Whether standard output is a terminal. */
  outIsTerminal(): boolean;
  /** Environment variables. */
  env: Readonly<Record<string, string | undefined>>;
}

const encoder = new TextEncoder();

async function writeAll(stream: WritableStream<Uint8Array>, data: Uint8Array): Promise<void> {
  const writer = stream.getWriter();
  try {
    await writer.write(data);
  } finally {
    writer.releaseLock();
  }
}

/** The real process: Deno's stdin, stdout, stderr and environment. */
export function processIo(): CliIo {
  return {
    out: (data) =>
      writeAll(Deno.stdout.writable, typeof data === "string" ? encoder.encode(data) : data),
    err: (text) => writeAll(Deno.stderr.writable, encoder.encode(text)),
    readStdin: async () => new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer()),
    outIsTerminal: () => Deno.stdout.isTerminal(),
    env: Deno.env.toObject(),
  };
}
