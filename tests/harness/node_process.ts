/**
 * Launches real `deno run -A main.ts server` processes for end-to-end tests: ephemeral ports read
 * back from the node's start banner, a readiness poll on `/readyz`, stderr kept for failure
 * messages, and a `stop()` that always ends the process.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

const MAIN_TS = fileURLToPath(new URL("../../main.ts", import.meta.url));

/** A running node process. */
export interface NodeProcess {
  readonly dataDir: string;
  readonly clientAddress: string;
  readonly adminUrl: string;
  readonly peerAddress: string;
  /** Everything the process wrote to stderr so far (JSON log lines). */
  stderr(): string;
  /** Sends `signal` and waits for the exit; returns the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/** Options of {@linkcode startNode}. */
export interface StartNodeOptions {
  /** Extra flags after the address and data-dir flags. @default ["--cluster-init"] */
  flags?: string[];
  /** How long to wait for the node to report ready. @default 20000 */
  timeoutMs?: number;
}

/**
 * Runs the CLI to completion and returns its exit code and output.
 *
 * @param args arguments after `main.ts`
 * @returns exit code, stdout and stderr
 */
export async function runCli(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_TS, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function collect(stream: ReadableStream<Uint8Array>, sink: { text: string }): Promise<void> {
  const dec = new TextDecoder();
  for await (const chunk of stream) sink.text += dec.decode(chunk, { stream: true });
}

/**
 * Starts a node on ephemeral loopback ports with its data in `dataDir` and waits until it
 * answers `/readyz` with 200.
 *
 * @param dataDir the node's data directory
 * @param options extra flags and a timeout
 * @returns the running node
 * @throws {Error} with the node's stderr when it exits or does not become ready in time
 */
export async function startNode(
  dataDir: string,
  options: StartNodeOptions = {},
): Promise<NodeProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN_TS,
      "server",
      "--peer-address=127.0.0.1:0",
      "--client-address=127.0.0.1:0",
      "--admin-address=127.0.0.1:0",
      `--data-dir=${dataDir}`,
      ...(options.flags ?? ["--cluster-init"]),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = { text: "" };
  const err = { text: "" };
  const pumps = Promise.all([collect(child.stdout, out), collect(child.stderr, err)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    if (!exited) {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    }
    const s = await status;
    await pumps;
    return s.code;
  };

  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  while (Date.now() < deadline) {
    const client = /client\s+(\S+)/.exec(out.text);
    const admin = /admin\s+(http:\/\/\S+?)\/?\s/.exec(out.text);
    const peer = /peer\s+(\S+)/.exec(out.text);
    if (client && admin && peer) {
      const res = await fetch(`${admin[1]}/readyz`).catch(() => undefined);
      const ok = res?.status === 200;
      await res?.body?.cancel();
      if (ok) {
        return {
          dataDir,
          clientAddress: client[1],
          adminUrl: admin[1],
          peerAddress: peer[1],
          stderr: () => err.text,
          stop,
        };
      }
    }
    if (exited) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const code = await stop("SIGKILL");
  throw new Error(
    `Cannot start node as it ${exited ? `exited with code ${code}` : "did not become ready"}:\n` +
      `stdout:\n${out.text}\nstderr:\n${err.text}`,
  );
}
