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
  /** The peer address to listen on. @default "127.0.0.1:0" */
  peerAddress?: string;
}

/** How long a process may ignore SIGTERM before it is killed. */
const STOP_GRACE_MS = 5_000;

/** The addresses a node prints in its start banner. */
export interface BannerAddresses {
  client: string;
  /** `http://host:port` without a trailing slash. */
  adminUrl: string;
  peer: string;
}

/** How a server process ended. */
export interface ServerExit {
  /** The exit code (128 + n when a signal ended it). */
  code: number;
  /** The signal that ended it, if any. */
  signal: Deno.Signal | null;
  /** Whether the harness had to SIGKILL it after the grace period. */
  forced: boolean;
}

/** A `rangedb server` process, from spawn to exit; it does not wait for anything itself. */
export interface ServerProcess {
  /** The arguments after `main.ts`. */
  readonly args: readonly string[];
  /** Whether the process has exited. */
  exited(): boolean;
  /** Everything the process wrote to stdout so far. */
  stdout(): string;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /**
   * Waits until the start banner names the node's addresses.
   *
   * @throws {Error} with stdout and stderr when the process exits first or `timeoutMs` passes
   */
  waitForBanner(timeoutMs: number): Promise<BannerAddresses>;
  /** Sends `signal` unless the process has exited. */
  signal(signal: Deno.Signal): void;
  /**
   * Sends `signal` and waits for the exit; SIGKILLs after `graceMs`. Never throws; see `forced`.
   */
  stop(signal?: Deno.Signal, graceMs?: number): Promise<ServerExit>;
}

/** Options of {@linkcode spawnServer}. */
export interface SpawnOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /**
   * A command the server runs under, e.g. `["ip", "netns", "exec", "rdb-1"]`; it must exec the
   * server in place (so signals reach the server itself).
   */
  prefix?: readonly string[];
}

/**
 * Runs the CLI to completion and returns its exit code and output. A run that does not finish
 * in time is killed, so a regression that starts a server where a refusal was expected fails
 * the test instead of hanging the suite.
 *
 * @param args arguments after `main.ts`
 * @param timeoutMs how long the command may run
 * @param options extra environment variables
 * @returns exit code, stdout and stderr
 * @throws {Error} when the command did not finish within `timeoutMs`
 */
export async function runCli(
  args: string[],
  timeoutMs = 20_000,
  options: SpawnOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_TS, ...args],
    env: options.env,
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
 * Reads the addresses from a start banner (`client  H:P`, `admin   http://H:P/`, `peer    H:P`).
 *
 * @param stdout what the node printed
 * @returns the addresses, or undefined while the banner is incomplete
 */
export function parseBanner(stdout: string): BannerAddresses | undefined {
  const client = /^\s*client\s+(\S+)/m.exec(stdout);
  const admin = /^\s*admin\s+(http:\/\/[^\s/]+)/m.exec(stdout);
  const peer = /^\s*peer\s+(\S+)/m.exec(stdout);
  if (!client || !admin || !peer) return undefined;
  return { client: client[1], adminUrl: admin[1], peer: peer[1] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Spawns `deno run -A main.ts server <flags>` with stdout and stderr collected.
 *
 * @param flags the arguments after `server`
 * @param options extra environment variables
 * @returns the process
 */
export function spawnServer(flags: string[], options: SpawnOptions = {}): ServerProcess {
  const args = [MAIN_TS, "server", ...flags];
  const argv = [...(options.prefix ?? []), Deno.execPath(), "run", "-A", ...args];
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = { text: "" };
  const err = { text: "" };
  const pumps = Promise.all([collect(child.stdout, out), collect(child.stderr, err)]);
  let exited = false;
  const status = child.status.then(async (s) => {
    exited = true;
    await pumps;
    return s;
  });
  const signal = (sig: Deno.Signal) => {
    if (exited) return;
    try {
      child.kill(sig);
    } catch { /* exited between the check and the kill */ }
  };
  const stop = async (sig: Deno.Signal = "SIGTERM", graceMs = STOP_GRACE_MS) => {
    signal(sig);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
    });
    const first = await Promise.race([status, graceOver]);
    clearTimeout(timer);
    const forced = first === "timeout";
    if (forced) signal("SIGKILL");
    const s = await status;
    return { code: s.code, signal: s.signal, forced };
  };
  const waitForBanner = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const banner = parseBanner(out.text);
      if (banner) return banner;
      if (exited || Date.now() >= deadline) break;
      await sleep(25);
    }
    const why = exited ? "it exited" : `it printed no addresses within ${timeoutMs} ms`;
    throw new Error(
      `Cannot start 'rangedb server ${flags.join(" ")}' as ${why}:\n` +
        `stdout:\n${out.text}\nstderr:\n${err.text}`,
    );
  };
  return {
    args,
    exited: () => exited,
    stdout: () => out.text,
    stderr: () => err.text,
    waitForBanner,
    signal,
    stop,
  };
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
  const proc = spawnServer([
    `--peer-address=${options.peerAddress ?? "127.0.0.1:0"}`,
    "--client-address=127.0.0.1:0",
    "--admin-address=127.0.0.1:0",
    `--data-dir=${dataDir}`,
    ...(options.flags ?? ["--cluster-init"]),
  ]);
  // Always ends the process: after STOP_GRACE_MS it is killed, and that is reported.
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    const exit = await proc.stop(signal);
    if (exit.forced) {
      throw new Error(`Cannot stop node as it ignored ${signal}:\nstderr:\n${proc.stderr()}`);
    }
    return exit.code;
  };
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  try {
    const banner = await proc.waitForBanner(timeoutMs);
    while (Date.now() < deadline && !proc.exited()) {
      const res = await fetch(`${banner.adminUrl}/readyz`).catch(() => undefined);
      const ok = res?.status === 200;
      await res?.body?.cancel();
      if (ok) {
        return {
          dataDir,
          clientAddress: banner.client,
          adminUrl: banner.adminUrl,
          peerAddress: banner.peer,
          stderr: () => proc.stderr(),
          stop,
        };
      }
      await sleep(50);
    }
  } catch {
    // Reported below with the process's output.
  }
  const wasExited = proc.exited();
  const exit = await proc.stop("SIGKILL");
  throw new Error(
    `Cannot start node as it ${
      wasExited ? `exited with code ${exit.code}` : "did not become ready"
    }:\nstdout:\n${proc.stdout()}\nstderr:\n${proc.stderr()}`,
  );
}
