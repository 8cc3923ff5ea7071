/**
 * Network partitions for real-process fault tests: one Linux network namespace per node, each
 * with a veth pair into one bridge in the root namespace, and iptables DROP rules inside the
 * namespaces. Loopback rules cannot tell nodes apart (outgoing connections take 127.0.0.1 as
 * their source); namespaces give every node its own address.
 *
 * Layout of one {@linkcode NetnsHosts} (names carry the prefix, the owner pid and a random tag,
 * so concurrent test files in one process and later runs never collide):
 * - bridge `<prefix>-<pid><tag>b` in the root namespace with address 10.X.Y.1/24, the address
 *   clients in the test process connect from (a /24 picked at random, checked against the root
 *   namespace's addresses and routes, and re-checked after it is claimed);
 * - namespace `<prefix>-<pid><tag>-<i>` per node, with `lo` up and `eth0` at 10.X.Y.(10+i),
 *   the peer of veth `<prefix>-<pid><tag>v<i>` enslaved to the bridge.
 *
 * Partitions are DROP rules in each node's own INPUT and OUTPUT chains, by peer address, with no
 * ACCEPT of established traffic before them: packets of open connections vanish too. The root
 * namespace's address is never dropped, so clients keep reaching every node. The bridge needs no
 * br_netfilter setting: bridged frames pass the root namespace's FORWARD chain only when
 * `bridge-nf-call-iptables` is 1, and {@linkcode netnsUnavailable} refuses a root FORWARD policy of
 * DROP in that case.
 *
 * Teardown: `destroy()` (also `await using`), a SIGINT/SIGTERM listener and an `unload` listener
 * while any instance lives (they tear down synchronously, then the signal is raised again so the
 * process ends as it would have), and at every `create()` the leftovers of owners that are no
 * longer running. `deno test` handles SIGINT itself without running listeners; what a Ctrl-C
 * there leaves behind is removed by the next `create()`.
 *
 * @example
 * ```ts
 * import { TestCluster } from "./cluster.ts";
 * import { NetnsHosts } from "./netns.ts";
 * await using hosts = await NetnsHosts.create(3);
 * await using cluster = await TestCluster.start({ nodes: 3, hosts });
 * await hosts.partition([[0, 1], [2]]); // node 2 alone
 * await hosts.heal();
 * ```
 *
 * @module
 */
import type { ClusterHosts } from "./cluster.ts";
import {
  type Created,
  DEFAULT_PREFIX,
  killInside,
  must,
  netnsUnavailable,
  pidTag,
  PREFIX_PATTERN,
  randomTag,
  removeLeftovers,
  rootAddresses,
  rootCidrs,
  run,
  subnetTaken,
  teardownCommands,
  teardownSync,
  tool,
} from "./netns_system.ts";
import { cutPairs, formatPartition } from "./partition_shapes.ts";

export { netnsUnavailable, removeLeftovers } from "./netns_system.ts";
export {
  cutPairs,
  formatPartition,
  type PartitionShape,
  partitionShapes,
  randomPartition,
} from "./partition_shapes.ts";

/** Options of {@linkcode NetnsHosts.create}. */
export interface NetnsOptions {
  /** Start of every name (1–4 lowercase letters or digits, a letter first). @default "rdb" */
  prefix?: string;
}

/** Keeps veth names (`<prefix>-<pid:5><tag:2>v<i>`) within Linux's 15 characters. */
const MAX_NODES = 99;
const CREATE_ATTEMPTS = 20;

/** Instances not yet destroyed in this runtime, torn down by the listeners below. */
const live = new Set<NetnsHosts>();
const SIGNALS = ["SIGINT", "SIGTERM"] as const;
const signalHandlers = new Map<Deno.Signal, () => void>();

function onUnload(): void {
  for (const hosts of live) hosts.destroySync();
}

function watch(hosts: NetnsHosts): void {
  live.add(hosts);
  if (signalHandlers.size > 0) return;
  for (const signal of SIGNALS) {
    const handler = () => {
      for (const h of live) h.destroySync();
      // The listeners are gone now, so the signal ends the process as it would have.
      Deno.kill(Deno.pid, signal);
    };
    signalHandlers.set(signal, handler);
    Deno.addSignalListener(signal, handler);
  }
  globalThis.addEventListener("unload", onUnload);
}

function unwatch(hosts: NetnsHosts): void {
  live.delete(hosts);
  if (live.size > 0) return;
  for (const [signal, handler] of signalHandlers) Deno.removeSignalListener(signal, handler);
  signalHandlers.clear();
  globalThis.removeEventListener("unload", onUnload);
}

/** One network namespace per node, with partitions; see the module doc. */
export class NetnsHosts implements ClusterHosts, AsyncDisposable {
  /** How many nodes (namespaces) there are. */
  readonly capacity: number;
  /** The bridge's address in the root namespace, the source of client traffic. */
  readonly rootIp: string;
  /** The namespaces, by node index. */
  readonly namespaces: readonly string[];
  /** The bridge and the root ends of the veth pairs. */
  readonly links: readonly string[];
  readonly #subnet: string;
  readonly #created: Created = { namespaces: [], links: [] };
  /** The rules last applied in each namespace. */
  readonly #applied: string[];
  #cuts = new Set<string>();
  #groups: number[][] | undefined;
  #extraCuts: [number, number][] = [];

  private constructor(base: string, subnet: string, count: number) {
    this.capacity = count;
    this.#subnet = subnet;
    this.rootIp = `${subnet}.1`;
    this.namespaces = Array.from({ length: count }, (_, i) => `${base}-${i}`);
    this.links = [`${base}b`, ...Array.from({ length: count }, (_, i) => `${base}v${i}`)];
    this.#applied = Array(count).fill("");
  }

  /**
   * Creates `count` namespaces, each with a veth pair into one bridge in the root namespace and
   * an address in a /24 of its own, `lo` up; the root namespace gets the bridge's address so the
   * test process reaches every node. First removes leftovers of earlier runs under the same
   * prefix whose owner process is dead.
   *
   * @param count the number of nodes (1–99)
   * @param options the name prefix
   * @returns the hosts; destroy them with `destroy()` or `await using`
   * @throws {Error} when namespaces are unavailable ({@linkcode netnsUnavailable}) or a command
   *   fails (what was created is removed first)
   */
  static async create(count: number, options: NetnsOptions = {}): Promise<NetnsHosts> {
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    if (!Number.isInteger(count) || count < 1 || count > MAX_NODES) {
      throw new RangeError(
        `Cannot create network namespaces as count must be 1..${MAX_NODES}: it is ${count}`,
      );
    }
    if (!PREFIX_PATTERN.test(prefix)) {
      throw new RangeError(
        `Cannot create network namespaces as the prefix must match ${PREFIX_PATTERN}: ` +
          `it is ${JSON.stringify(prefix)}`,
      );
    }
    const why = await netnsUnavailable();
    if (why !== undefined) throw new Error(`Cannot create network namespaces as ${why}`);
    await removeLeftovers(prefix);
    for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
      const subnet = await NetnsHosts.#freeSubnet();
      const hosts = new NetnsHosts(`${prefix}-${pidTag(Deno.pid)}${randomTag()}`, subnet, count);
      try {
        if (await hosts.#build()) return hosts;
      } catch (err) {
        await hosts.destroy();
        throw err;
      }
      await hosts.destroy();
    }
    throw new Error(
      `Cannot create network namespaces as no free name and subnet was found in ` +
        `${CREATE_ATTEMPTS} attempts`,
    );
  }

  /** A random 10.X.Y prefix that no root address or route overlaps. */
  static async #freeSubnet(): Promise<string> {
    const taken = await rootCidrs();
    for (;;) {
      const subnet = `10.${16 + Math.floor(Math.random() * 239)}.${
        Math.floor(Math.random() * 256)
      }`;
      if (!subnetTaken(subnet, taken)) return subnet;
    }
  }

  /**
   * Creates the bridge (the claim on the name), checks the subnet is ours alone, then the
   * namespaces.
   *
   * @returns false on a name or subnet collision (the caller destroys and retries)
   */
  async #build(): Promise<boolean> {
    const [bridge, ...veths] = this.links;
    const add = await run(["ip", "link", "add", bridge, "type", "bridge"]);
    if (!add.ok) {
      if (add.stderr.includes("File exists")) return false;
      throw new Error(`Cannot create the bridge ${bridge} as 'ip link add' failed: ${add.stderr}`);
    }
    this.#created.links.push(bridge);
    watch(this);
    await must(["ip", "addr", "add", `${this.rootIp}/24`, "dev", bridge], "address the bridge");
    // Another process may have picked the same /24 at the same moment: both back off.
    const claims = (await rootAddresses()).filter((c) => c.startsWith(`${this.#subnet}.`));
    if (claims.length > 1) return false;
    await must(["ip", "link", "set", bridge, "up"], "start the bridge");
    for (let i = 0; i < this.capacity; i++) {
      const ns = this.namespaces[i];
      const add = await run(["ip", "netns", "add", ns]);
      if (!add.ok) {
        if (add.stderr.includes("File exists")) return false;
        throw new Error(`Cannot create namespace ${ns} as 'ip netns add' failed: ${add.stderr}`);
      }
      this.#created.namespaces.push(ns);
      const what = `connect namespace ${ns}`;
      const pair = ["type", "veth", "peer", "name", "eth0", "netns", ns];
      await must(["ip", "link", "add", veths[i], ...pair], what);
      this.#created.links.push(veths[i]);
      await must(["ip", "link", "set", veths[i], "master", bridge, "up"], what);
      await must(["ip", "-n", ns, "addr", "add", `${this.ip(i)}/24`, "dev", "eth0"], what);
      await must(["ip", "-n", ns, "link", "set", "eth0", "up"], what);
      await must(["ip", "-n", ns, "link", "set", "lo", "up"], what);
    }
    return true;
  }

  #check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.capacity) {
      throw new RangeError(
        `Cannot find node ${i} as the hosts hold nodes 0..${this.capacity - 1}`,
      );
    }
  }

  /** Node `i`'s address. */
  ip(i: number): string {
    this.#check(i);
    return `${this.#subnet}.${10 + i}`;
  }

  /**
   * The command that runs a program in node `i`'s namespace: `ip netns exec <name>` (`ip` by its
   * full path when PATH lacks it), which execs the program in place.
   */
  prefix(i: number): readonly string[] {
    this.#check(i);
    return [tool("ip"), "netns", "exec", this.namespaces[i]];
  }

  /**
   * Makes `groups` the partition: nodes i and j can talk iff some group holds both; a node in no
   * group is cut from every other node; overlapping groups make a bridge node. Replaces the
   * previous partition and cuts. Client traffic from the root namespace is never cut. Open TCP
   * connections are cut too. Resolves once the rules are in force in every namespace.
   *
   * @param groups the partition
   * @throws {RangeError} when a group names a node outside 0..capacity-1
   * @throws {Error} when iptables fails
   */
  async partition(groups: number[][]): Promise<void> {
    const pairs = cutPairs(groups, this.capacity);
    this.#groups = groups.map((g) => [...g]);
    this.#extraCuts = [];
    this.#cuts = new Set(pairs.map(([i, j]) => `${i}-${j}`));
    await this.#apply();
  }

  /**
   * Drops the traffic between each given pair (both directions), on top of the current rules.
   *
   * @param pairs node pairs
   * @throws {RangeError} when a pair names a node outside 0..capacity-1
   * @throws {Error} when iptables fails
   */
  async cut(pairs: [number, number][]): Promise<void> {
    for (const [i, j] of pairs) {
      this.#check(i);
      this.#check(j);
    }
    for (const [i, j] of pairs) {
      if (i === j) continue;
      const [lo, hi] = i < j ? [i, j] : [j, i];
      if (this.#cuts.has(`${lo}-${hi}`)) continue;
      this.#cuts.add(`${lo}-${hi}`);
      this.#extraCuts.push([lo, hi]);
    }
    await this.#apply();
  }

  /** Removes every rule: all nodes talk again. */
  async heal(): Promise<void> {
    this.#groups = undefined;
    this.#extraCuts = [];
    this.#cuts = new Set();
    await this.#apply();
  }

  /** The current cuts, for logs: e.g. `{0,1} | {2}`, `{0,1} | {2} + 0-1`, `0-2` or `none`. */
  describe(): string {
    const base = this.#groups === undefined ? "none" : formatPartition(this.#groups, this.capacity);
    if (this.#extraCuts.length === 0) return base;
    const extra = this.#extraCuts.map(([i, j]) => `${i}-${j}`).join(", ");
    return base === "none" ? extra : `${base} + ${extra}`;
  }

  /** The iptables-restore input for node `i`: DROP to and from every peer it is cut from. */
  #rulesOf(i: number): string {
    const lines = [
      "*filter",
      ":INPUT ACCEPT [0:0]",
      ":FORWARD ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
    ];
    for (const pair of this.#cuts) {
      const [a, b] = pair.split("-").map(Number);
      if (a !== i && b !== i) continue;
      const peer = this.ip(a === i ? b : a);
      lines.push(`-A INPUT -s ${peer}/32 -j DROP`, `-A OUTPUT -d ${peer}/32 -j DROP`);
    }
    return [...lines, "COMMIT", ""].join("\n");
  }

  async #apply(): Promise<void> {
    if (this.#created.namespaces.length < this.capacity) {
      throw new Error("Cannot change the partition as the namespaces were destroyed");
    }
    await Promise.all(this.namespaces.map(async (ns, i) => {
      const rules = this.#rulesOf(i);
      if (rules === this.#applied[i]) return;
      this.#applied[i] = "";
      await must(
        ["ip", "netns", "exec", ns, tool("iptables-restore"), "-w"],
        `apply the partition in ${ns}`,
        rules,
      );
      this.#applied[i] = rules;
    }));
  }

  /**
   * Removes every namespace, veth and the bridge this instance created, first killing any
   * process still inside a namespace. Idempotent; never throws.
   */
  async destroy(): Promise<void> {
    try {
      const namespaces = [...this.#created.namespaces];
      const pids = await Promise.all(
        namespaces.map(async (ns) => (await run(["ip", "netns", "pids", ns])).stdout),
      );
      killInside(namespaces, (ns) => pids[namespaces.indexOf(ns)]);
      for (const argv of teardownCommands(this.#created)) await run(argv);
      this.#created.links.length = 0;
      this.#created.namespaces.length = 0;
    } catch { /* never throws; leftovers are removed by a later create() */ }
    unwatch(this);
  }

  /**
   * {@linkcode destroy} without awaiting, for signal and `unload` listeners, which cannot
   * wait for promises.
   */
  destroySync(): void {
    try {
      teardownSync(this.#created);
    } catch { /* as destroy() */ }
    unwatch(this);
  }

  /** Same as {@linkcode destroy}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }
}
