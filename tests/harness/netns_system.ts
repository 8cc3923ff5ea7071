/**
 * The system side of `NetnsHosts` (`netns.ts`): running `ip` and `iptables`, the names
 * it gives out, free subnets, teardown (asynchronous and synchronous), removing the leftovers of
 * dead owners, and the probe that tells whether namespaces can be used here.
 *
 * @module
 */

/** The name prefix of `NetnsHosts` by default. */
export const DEFAULT_PREFIX = "rdb";
/** Prefixes short enough for Linux's 15-character interface names. */
export const PREFIX_PATTERN = /^[a-z][a-z0-9]{0,3}$/;

/** How a command ended: success, stdout, and stderr without surrounding blanks. */
export interface CommandResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

const decoder = new TextDecoder();

/** Where root's tools live when a user's PATH lacks them. */
const SYSTEM_DIRS = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];
const toolPaths = new Map<string, string>();

/** The path of a program: from PATH, else from the system directories, else the bare name. */
export function tool(name: string): string {
  if (name.includes("/")) return name;
  let path = toolPaths.get(name);
  if (path === undefined) {
    const dirs = [
      ...(Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== ""),
      ...SYSTEM_DIRS,
    ];
    path = dirs.map((d) => `${d}/${name}`).find((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    }) ?? name;
    toolPaths.set(name, path);
  }
  return path;
}

/** Runs a command (never throws: a spawn failure is a failed result). */
export async function run(argv: readonly string[], stdin?: string): Promise<CommandResult> {
  try {
    const child = new Deno.Command(tool(argv[0]), {
      args: argv.slice(1),
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(stdin));
      await writer.close();
    }
    const out = await child.output();
    return {
      ok: out.success,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr).trim(),
    };
  } catch (err) {
    return { ok: false, stdout: "", stderr: err instanceof Error ? err.message : String(err) };
  }
}

/** {@linkcode run} for listeners that cannot await. */
export function runSync(argv: readonly string[]): CommandResult {
  try {
    const out = new Deno.Command(tool(argv[0]), {
      args: argv.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    return {
      ok: out.success,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr).trim(),
    };
  } catch (err) {
    return { ok: false, stdout: "", stderr: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Runs a command that must succeed.
 *
 * @param argv the command
 * @param what what it does, for the error ("Cannot <what> as …")
 * @param stdin text for its standard input
 * @returns its stdout
 * @throws {Error} with the command and its stderr when it fails
 */
export async function must(argv: readonly string[], what: string, stdin?: string): Promise<string> {
  const res = await run(argv, stdin);
  if (!res.ok) {
    throw new Error(`Cannot ${what} as '${argv.join(" ")}' failed: ${res.stderr || "no output"}`);
  }
  return res.stdout;
}

/** Names in `ip netns list` output (`name (id: N)` lines). */
function listNamespaces(stdout: string): string[] {
  return stdout.split("\n").map((l) => l.split(" ")[0]).filter((n) => n !== "");
}

/** Names in `ip -o link show` output (`N: name[@peer]: <…>` lines). */
function listLinks(stdout: string): string[] {
  return stdout.split("\n").map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
}

/** Whether a process with this pid runs (in this pid namespace). */
function processRuns(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** A pid as five base-36 digits (enough for any Linux pid_max). */
export function pidTag(pid: number): string {
  return pid.toString(36).padStart(5, "0");
}

/** Two random base-36 digits that tell apart instances of one process. */
export function randomTag(): string {
  return Math.floor(Math.random() * 36 ** 2).toString(36).padStart(2, "0");
}

/** Matches every name `NetnsHosts` gives out under `prefix`; group 1 is the pid. */
function ownedName(prefix: string): RegExp {
  return new RegExp(`^${prefix}-([0-9a-z]{5})[0-9a-z]{2}(?:b|v\\d{1,2}|-\\d{1,2}|-probe)$`);
}

/** An IPv4 address or prefix as an unsigned 32-bit number. */
function ipv4(address: string): number {
  return address.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

/** Whether 10.a.b.0/24 overlaps any of the root namespace's IPv4 addresses or routes. */
export function subnetTaken(subnet: string, cidrs: readonly string[]): boolean {
  const base = ipv4(`${subnet}.0`);
  return cidrs.some((cidr) => {
    const [addr, lenText] = cidr.split("/");
    const len = Math.min(Number(lenText ?? "32"), 24);
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    return ((ipv4(addr) & mask) >>> 0) === ((base & mask) >>> 0);
  });
}

/** The root namespace's IPv4 addresses, as `a.b.c.d/len`. */
export async function rootAddresses(): Promise<string[]> {
  const addrs = await must(["ip", "-o", "-4", "addr", "show"], "list the root addresses");
  return [...addrs.matchAll(/\binet (\d+\.\d+\.\d+\.\d+\/\d+)/g)].map((m) => m[1]);
}

/** The root namespace's IPv4 addresses and route destinations (every table). */
export async function rootCidrs(): Promise<string[]> {
  const routes = await must(["ip", "-4", "route", "show", "table", "all"], "list the routes");
  const fromRoutes = routes.split("\n").map((l) => l.split(" ")[0])
    .filter((t) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(t));
  return [...await rootAddresses(), ...fromRoutes];
}

/** Everything one instance created, in creation order, for teardown. */
export interface Created {
  namespaces: string[];
  links: string[];
}

/** Commands that remove what `created` lists (links first: a veth goes with its peer). */
export function teardownCommands(created: Created): string[][] {
  return [
    ...created.links.toReversed().map((l) => ["ip", "link", "del", l]),
    ...created.namespaces.map((n) => ["ip", "netns", "del", n]),
  ];
}

/** SIGKILLs every process left in the namespaces (the servers of an interrupted test). */
export function killInside(namespaces: readonly string[], pidsOf: (ns: string) => string): void {
  for (const ns of namespaces) {
    for (const pid of pidsOf(ns).split(/\s+/).filter((p) => /^\d+$/.test(p))) {
      try {
        Deno.kill(Number(pid), "SIGKILL");
      } catch { /* already gone */ }
    }
  }
}

/** Removes what `created` lists, synchronously (for signal and unload listeners). */
export function teardownSync(created: Created): void {
  killInside(created.namespaces, (ns) => runSync(["ip", "netns", "pids", ns]).stdout);
  for (const argv of teardownCommands(created)) runSync(argv);
  created.links.length = 0;
  created.namespaces.length = 0;
}

/**
 * Removes the namespaces and links under `prefix` whose owner process no longer runs.
 *
 * @param prefix the name prefix
 * @returns the names removed
 * @throws {RangeError} when the prefix does not match {@linkcode PREFIX_PATTERN}
 */
export async function removeLeftovers(prefix = DEFAULT_PREFIX): Promise<string[]> {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new RangeError(
      `Cannot remove leftovers as the prefix must match ${PREFIX_PATTERN}: it is ` +
        JSON.stringify(prefix),
    );
  }
  const pattern = ownedName(prefix);
  const dead = (name: string) => {
    const m = pattern.exec(name);
    return m !== null && !processRuns(parseInt(m[1], 36));
  };
  const namespaces = listNamespaces((await run(["ip", "netns", "list"])).stdout).filter(dead);
  const links = listLinks((await run(["ip", "-o", "link", "show"])).stdout).filter(dead);
  const created = { namespaces, links };
  const removed = [...namespaces, ...links];
  killInside(namespaces, (ns) => runSync(["ip", "netns", "pids", ns]).stdout);
  for (const argv of teardownCommands(created)) await run(argv);
  return removed;
}

let availability: Promise<string | undefined> | undefined;

/**
 * Why network namespaces cannot be used here (not Linux, not root, no `ip`, no `iptables`, no
 * permission to create a namespace, or a root firewall that would drop bridged traffic), or
 * undefined when they can. Probes once per runtime by creating and removing a namespace.
 *
 * @returns the reason, or undefined
 */
export function netnsUnavailable(): Promise<string | undefined> {
  availability ??= probe();
  return availability;
}

async function probe(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return `network namespaces need Linux, this is ${Deno.build.os}`;
  if (Deno.uid() !== 0) return `network namespaces need root, uid is ${Deno.uid()}`;
  if (!(await run(["ip", "-V"])).ok) return "`ip` (Debian package iproute2) is not installed";
  if (!(await run(["iptables-restore", "--version"])).ok) {
    return "`iptables` (Debian package iptables) is not installed";
  }
  const name = `${DEFAULT_PREFIX}-${pidTag(Deno.pid)}${randomTag()}-probe`;
  const add = await run(["ip", "netns", "add", name]);
  if (!add.ok) return `'ip netns add' failed: ${add.stderr}`;
  try {
    const rules = await run(["ip", "netns", "exec", name, tool("iptables"), "-w", "-S", "INPUT"]);
    if (!rules.ok) return `iptables does not work in a network namespace: ${rules.stderr}`;
  } finally {
    await run(["ip", "netns", "del", name]);
  }
  const bridgeNf = await Deno.readTextFile("/proc/sys/net/bridge/bridge-nf-call-iptables")
    .catch(() => "0");
  if (bridgeNf.trim() === "1") {
    const forward = await run(["iptables", "-w", "-S", "FORWARD"]);
    if (forward.stdout.includes("-P FORWARD DROP")) {
      return "the root namespace's FORWARD policy is DROP and bridge-nf-call-iptables is 1, " +
        "so traffic between the namespaces would be dropped";
    }
  }
  return undefined;
}
