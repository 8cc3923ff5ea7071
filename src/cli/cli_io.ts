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
  /** Whether standard input is a terminal (a person can answer a confirmation). */
  inIsTerminal(): boolean;
  /** Reads one line of standard input, without its line break ("" at the end of input). */
  readLine(): Promise<string>;
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

/**
 * Reads up to the first line break of `stream` (a terminal hands over whole lines), then lets go
 * of the stream.
 */
async function readLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let line = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return line;
      line += decoder.decode(value, { stream: true });
      const end = line.indexOf("\n");
      if (end >= 0) return line.slice(0, end).replace(/\r$/, "");
    }
  } finally {
    reader.releaseLock();
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
    inIsTerminal: () => Deno.stdin.isTerminal(),
    readLine: () => readLine(Deno.stdin.readable),
    env: Deno.env.toObject(),
  };
}
