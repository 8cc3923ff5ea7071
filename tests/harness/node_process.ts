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

/** How long a process may ignore SIGTERM before it is killed. */
const STOP_GRACE_MS = 5_000;

/**
 * Runs the CLI to completion and returns its exit code and output. A run that does not finish
 * in time is killed, so a regression that starts a server where a refusal was expected fails
 * the test instead of hanging the suite.
 *
 * @param args arguments after `main.ts`
 * @param timeoutMs how long the command may run
 * @returns exit code, stdout and stderr
 * @throws {Error} when the command did not finish within `timeoutMs`
 */
export async function runCli(
  args: string[],
  timeoutMs = 20_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_TS, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const out = await child.output().finally(() => clearTimeout(timer));
  const dec = new TextDecoder();
  const result = { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  if (out.signal === "SIGKILL") {
    throw new Error(
      `Cannot finish 'rangedb ${args.join(" ")}' as it ran over ${timeoutMs} ms:\n` +
        `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
  return result;
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
  const kill = (signal: Deno.Signal) => {
    if (exited) return;
    try {
      child.kill(signal);
    } catch { /* already gone */ }
  };
  // Always ends the process: after STOP_GRACE_MS it is killed, and that is reported.
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    kill(signal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), STOP_GRACE_MS);
    });
    const first = await Promise.race([status, graceOver]);
    clearTimeout(timer);
    if (first === "timeout") {
      kill("SIGKILL");
      await status;
      await pumps;
      throw new Error(`Cannot stop node as it ignored ${signal}:\nstderr:\n${err.text}`);
    }
    await pumps;
    return first.code;
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
