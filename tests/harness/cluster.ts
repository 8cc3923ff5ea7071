/**
 * A cluster of real `rangedb server` processes on loopback for end-to-end tests and benchmarks.
 * Ports are chosen up front (every initial member needs the same `--peers` list), nodes can be
 * started in any order, killed, restarted with the same flags and data directory, and joined;
 * the leader is found through the admin HTTP API. Every process is always ended by `stop()`
 * (also through `await using`), and every node's stderr is kept across restarts for failure
 * messages.
 *
 * @example
 * ```ts
 * import { TestCluster } from "./cluster.ts";
 * await using cluster = await TestCluster.start({ nodes: 3 });
 * await cluster.waitAllReady();
 * const leader = await cluster.leaderIndex();
 * await cluster.kill(leader);
 * ```
 *
 * @module
 */
export type { ClusterMember, ClusterView } from "./cluster_support.ts";
import { Admin, NodeGrpc } from "./cluster_grpc.ts";
import {
  asNumber,
  type ClusterView,
  freePorts,
  getJson,
  parseMembers,
  sleep,
  tail,
} from "./cluster_support.ts";
import { runCli, type ServerExit, type ServerProcess, spawnServer } from "./node_process.ts";
import { type ClusterNodeInfo, type ClusterOptions, HOST_PORTS } from "./cluster_options.ts";
export type { ClusterHosts, ClusterNodeInfo, ClusterOptions } from "./cluster_options.ts";

/** How long a stopped node may take to hand leadership off and exit before SIGKILL. */
const SIGTERM_GRACE_MS = 15_000;
const BANNER_TIMEOUT_MS = 30_000;
const POLL_MS = 100;

/** A cluster of `rangedb server` processes; see the module doc. */
export class TestCluster implements AsyncDisposable {
  readonly #nodes: ClusterNodeInfo[] = [];
  readonly #procs: (ServerProcess | undefined)[] = [];
  /** stderr of earlier incarnations, per node. */
  readonly #history: string[] = [];
  readonly #paused = new Set<number>();
  readonly #ports = new Set<number>();
  readonly #options: ClusterOptions;
  readonly #root: string;
  readonly #ownsRoot: boolean;
  #stopped = false;

  private constructor(options: ClusterOptions, root: string, ownsRoot: boolean) {
    this.#options = options;
    this.#root = root;
    this.#ownsRoot = ownsRoot;
  }

  /**
   * Creates the cluster's nodes and, unless `start: "none"`, starts them in `order` (each after
   * the previous one printed its addresses) and waits until a majority answers `/readyz`.
   *
   * @param options size, order and flags
   * @returns the cluster; stop it with `stop()` or `await using`
   * @throws {Error} with every node's stderr when a node fails to start or no majority is ready
   */
  static async start(options: ClusterOptions): Promise<TestCluster> {
    const root = options.dataRoot ?? await Deno.makeTempDir({ prefix: "rangedb-cluster-" });
    const cluster = new TestCluster(options, root, options.dataRoot === undefined);
    try {
      const endpoints = [...Array(options.nodes).keys()].map((i) => cluster.#endpoints(i));
      const peers = endpoints.map((e) => e.peer);
      const membership = options.nodes === 1
        ? ["--cluster-init"]
        : ["--cluster-init", `--peers=${peers.join(",")}`];
      for (const e of endpoints) cluster.#add(e, membership);
      if ((options.start ?? "all") === "all") {
        const order = options.order ?? [...Array(options.nodes).keys()];
        for (const i of order) await cluster.startNode(i);
        const majority = Math.floor(options.nodes / 2) + 1;
        if (order.length >= majority) {
          await cluster.#waitReadyCount(majority, options.readyTimeoutMs ?? 60_000);
        }
      }
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw cluster.#withDiagnostics(err);
    }
  }

  /** The addresses of the node that will get index `i`. */
  #endpoints(i: number): { peer: string; client: string; admin: string } {
    const hosts = this.#options.hosts;
    if (hosts !== undefined) {
      if (i >= hosts.capacity) {
        throw new Error(`Cannot place node ${i} as the cluster's hosts hold ${hosts.capacity}`);
      }
      const ip = hosts.ip(i);
      return {
        peer: `${ip}:${HOST_PORTS.peer}`,
        client: `${ip}:${HOST_PORTS.client}`,
        admin: `${ip}:${HOST_PORTS.admin}`,
      };
    }
    const [peer, client, admin] = freePorts(3, this.#ports);
    return {
      peer: `127.0.0.1:${peer}`,
      client: `127.0.0.1:${client}`,
      admin: `127.0.0.1:${admin}`,
    };
  }

  #add(
    endpoints: { peer: string; client: string; admin: string },
    membership: string[],
  ): ClusterNodeInfo {
    const index = this.#nodes.length;
    const { peer: peerAddress, client, admin } = endpoints;
    const info: ClusterNodeInfo = {
      index,
      name: this.#options.names === false
        ? peerAddress.replaceAll(/[.:]/g, "-")
        : `node-${index + 1}`,
      peer: peerAddress,
      client,
      admin,
      adminUrl: `http://${admin}`,
      dataDir: `${this.#root}/node-${index + 1}`,
      membership,
    };
    this.#nodes.push(info);
    this.#procs.push(undefined);
    this.#history.push("");
    return info;
  }

  /** Every node ever created (joined ones too), by index. */
  get nodes(): readonly ClusterNodeInfo[] {
    return this.#nodes;
  }

  /** Client addresses of every node (running or not), by index. */
  clientAddresses(): string[] {
    return this.#nodes.map((n) => n.client);
  }

  /** Whether node `i` has a live process. */
  isRunning(i: number): boolean {
    const proc = this.#procs[i];
    return proc !== undefined && !proc.exited();
  }

  /** Indexes of the nodes with a live process. */
  runningIndexes(): number[] {
    return this.#nodes.map((n) => n.index).filter((i) => this.isRunning(i));
  }

  /** The full command-line flags of node `i`. */
  flagsOf(i: number): string[] {
    const n = this.#node(i);
    const flags = [
      `--peer-address=${n.peer}`,
      `--client-address=${n.client}`,
      `--admin-address=${n.admin}`,
      `--data-dir=${n.dataDir}`,
      ...(this.#options.names === false ? [] : [`--node-id=${n.name}`]),
      `--log-level=${this.#options.logLevel ?? "info"}`,
      ...n.membership,
      ...(this.#options.extraFlags ?? []),
    ];
    return flags;
  }

  #node(i: number): ClusterNodeInfo {
    const n = this.#nodes[i];
    if (n === undefined) {
      throw new Error(`Cannot find node ${i}: the cluster has ${this.#nodes.length}`);
    }
    return n;
  }

  /**
   * Starts node `i` with its flags and waits until it prints its addresses (not until ready: a
   * lone member of a 3-node cluster is never ready).
   *
   * @param i the node
   * @param options environment variables of this process only (over the cluster's `env`)
   * @throws {Error} with the node's output when it is running already, exits or prints nothing
   */
  async startNode(i: number, options: { env?: Record<string, string> } = {}): Promise<void> {
    this.#node(i);
    if (this.#stopped) throw new Error(`Cannot start node ${i} as the cluster was stopped`);
    if (this.isRunning(i)) throw new Error(`Cannot start node ${i} as it is running`);
    this.#retire(i);
    const proc = spawnServer(this.flagsOf(i), {
      env: { ...this.#options.env, ...options.env },
      prefix: this.#options.hosts?.prefix(i),
    });
    this.#procs[i] = proc;
    await proc.waitForBanner(BANNER_TIMEOUT_MS);
  }

  /** Moves a finished process's stderr into the history. */
  #retire(i: number): void {
    const proc = this.#procs[i];
    if (proc === undefined) return;
    this.#history[i] += `${proc.stderr()}--- process ${
      proc.exited() ? "ended" : "abandoned"
    } ---\n`;
    this.#procs[i] = undefined;
  }

  /**
   * Ends node `i`: SIGKILL at once, or SIGTERM (graceful, leadership handed off) with a grace
   * period before SIGKILL. Does nothing for a node that is not running.
   *
   * @returns how the process ended (undefined when it was not running)
   */
  async kill(
    i: number,
    signal: "SIGKILL" | "SIGTERM" = "SIGKILL",
  ): Promise<ServerExit | undefined> {
    const proc = this.#procs[this.#node(i).index];
    if (proc === undefined) return undefined;
    // A stopped process would hold SIGTERM until it is continued; SIGKILL ends it stopped, so
    // that it runs not one more instruction.
    if (this.#paused.delete(i) && signal !== "SIGKILL") proc.signal("SIGCONT");
    const exit = await proc.stop(signal, SIGTERM_GRACE_MS);
    this.#retire(i);
    return exit;
  }

  /**
   * Freezes node `i` with SIGSTOP (its connections stay open, it answers nothing) until
   * {@linkcode resume}. Does nothing for a node that is not running or already paused.
   */
  pause(i: number): void {
    const proc = this.#procs[this.#node(i).index];
    if (proc === undefined || proc.exited() || this.#paused.has(i)) return;
    proc.signal("SIGSTOP");
    this.#paused.add(i);
  }

  /** Continues a node frozen by {@linkcode pause} (SIGCONT). */
  resume(i: number): void {
    if (!this.#paused.delete(i)) return;
    this.#procs[this.#node(i).index]?.signal("SIGCONT");
  }

  /** Whether node `i` is frozen by {@linkcode pause}. */
  isPaused(i: number): boolean {
    return this.#paused.has(i);
  }

  /**
   * Restarts node `i` with the same flags and data directory (stopping it with SIGTERM first
   * if it runs), and waits until it is ready when a majority of the members is running.
   */
  async restart(i: number): Promise<void> {
    if (this.isRunning(i)) await this.kill(i, "SIGTERM");
    await this.startNode(i);
    if (this.runningIndexes().length > this.#nodes.length / 2) await this.waitReady(i);
  }

  /**
   * Adds a node that joins through every running member (`--join=…`), and waits until it is
   * ready.
   *
   * @returns the new node's index
   */
  async join(timeoutMs = 90_000): Promise<number> {
    const via = this.runningIndexes().map((j) => this.#nodes[j].peer);
    if (via.length === 0) throw new Error("Cannot join a node as no member is running");
    const { index } = this.#add(this.#endpoints(this.#nodes.length), [
      `--join=${via.join(",")}`,
    ]);
    await this.startNode(index);
    await this.waitReady(index, timeoutMs);
    return index;
  }

  /**
   * Waits until node `i` answers `/readyz` with 200.
   *
   * @throws {Error} with the node's stderr when it exits or is not ready in time
   */
  async waitReady(i: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.isRunning(i)) break;
      if (await this.#isReady(i)) return;
      await sleep(POLL_MS);
    }
    const why = this.isRunning(i) ? `is not ready after ${timeoutMs} ms` : "is not running";
    throw new Error(`Cannot use node ${i} as it ${why}:\n${this.#describe(i)}`);
  }

  /** Waits until every running node answers `/readyz` with 200. */
  async waitAllReady(timeoutMs = 60_000): Promise<void> {
    await Promise.all(this.runningIndexes().map((i) => this.waitReady(i, timeoutMs)));
  }

  async #isReady(i: number): Promise<boolean> {
    const res = await getJson(`${this.#nodes[i].adminUrl}/readyz`).catch(() => undefined);
    return res?.status === 200;
  }

  async #waitReadyCount(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const ready = await Promise.all(this.runningIndexes().map((i) => this.#isReady(i)));
      if (ready.filter(Boolean).length >= count) return;
      await sleep(POLL_MS);
    }
    throw new Error(
      `Cannot use the cluster as fewer than ${count} nodes are ready after ${timeoutMs} ms`,
    );
  }

  /**
   * The cluster as node `i` sees it: `GET /api/v1/cluster` on its admin port, or, where that
   * endpoint does not exist, `Admin.ClusterStatus` on its client port.
   *
   * @returns the view, or undefined when the node does not answer or is in no cluster yet
   */
  async clusterView(i: number): Promise<ClusterView | undefined> {
    const n = this.#node(i);
    const res = await getJson(`${n.adminUrl}/api/v1/cluster`).catch(() => undefined);
    if (res?.status === 200 && typeof res.body === "object" && res.body !== null) {
      const body = res.body as Record<string, unknown>;
      return {
        selfNodeId: asNumber(body.nodeId),
        leaderNodeId: asNumber(body.leaderNodeId),
        nodes: parseMembers(body.nodes),
      };
    }
    if (res?.status !== 404) return undefined;
    const self = await getJson(`${n.adminUrl}/api/v1/node`).catch(() => undefined);
    const grpcClient = new NodeGrpc(n.client);
    try {
      const status = await grpcClient.unary(Admin.method.clusterStatus, {}, 3_000);
      const nodes = status.nodes.map((m) => ({
        name: m.name,
        nodeId: Number(m.nodeId),
        peerAddress: m.peerAddress,
        role: m.role,
        leader: m.leader,
      }));
      return {
        selfNodeId: asNumber((self?.body as Record<string, unknown> | undefined)?.nodeId),
        leaderNodeId: nodes.find((m) => m.leader)?.nodeId ?? 0,
        nodes,
      };
    } catch {
      return undefined;
    } finally {
      grpcClient.close();
    }
  }

  /**
   * Finds the index of range 1's leader: a running node that names itself leader, confirmed by
   * most running nodes that know a leader (a killed leader is never returned).
   *
   * @throws {Error} with every node's stderr when no leader is agreed on in time
   */
  async leaderIndex(timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const running = this.runningIndexes();
      const views = await Promise.all(running.map((i) => this.clusterView(i)));
      const claims = running.filter((_, k) =>
        views[k] !== undefined && views[k]!.leaderNodeId !== 0 &&
        views[k]!.leaderNodeId === views[k]!.selfNodeId
      );
      const votes = (i: number) => {
        const id = views[running.indexOf(i)]!.selfNodeId;
        return views.filter((v) => v?.leaderNodeId === id).length;
      };
      const best = claims.sort((a, b) => votes(b) - votes(a));
      if (best.length === 1 || (best.length > 1 && votes(best[0]) > votes(best[1]))) {
        return best[0];
      }
      await sleep(POLL_MS);
    }
    throw new Error(
      `Cannot find the leader as no running node leads after ${timeoutMs} ms:\n` +
        this.diagnostics(),
    );
  }

  /**
   * Runs the CLI (`deno run -A main.ts <args>`) with `RANGEDB_ENDPOINTS` set to the given
   * endpoints (every node's client address by default).
   */
  cli(
    args: string[],
    options: { endpoints?: string[]; timeoutMs?: number } = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const endpoints = (options.endpoints ?? this.clientAddresses()).join(",");
    return runCli(args, options.timeoutMs ?? 30_000, { env: { RANGEDB_ENDPOINTS: endpoints } });
  }

  /** Everything node `i` wrote to stderr, every incarnation. */
  stderrOf(i: number): string {
    return this.#history[i] + (this.#procs[i]?.stderr() ?? "");
  }

  #describe(i: number): string {
    const n = this.#nodes[i];
    const state = this.isRunning(i) ? "running" : "not running";
    const stdout = this.#procs[i]?.stdout() ?? "";
    return `--- node ${i} (${n.name}, peer ${n.peer}, client ${n.client}, ${state}) ---\n` +
      (stdout ? `stdout:\n${tail(stdout, 10)}\n` : "") +
      `stderr:\n${tail(this.stderrOf(i))}`;
  }

  /** The tail of every node's output, for failure messages. */
  diagnostics(): string {
    return this.#nodes.map((n) => this.#describe(n.index)).join("\n");
  }

  #withDiagnostics(err: unknown): Error {
    const message = err instanceof Error ? err.message : String(err);
    if (message.includes("--- node ")) return err instanceof Error ? err : new Error(message);
    return new Error(`${message}\n${this.diagnostics()}`, { cause: err });
  }

  /**
   * Ends every node (SIGTERM, SIGKILL after a grace period) and removes the temp data root.
   * Idempotent; never throws, so it is safe in `finally`.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    const exits = await Promise.all(
      this.#nodes.map(async (n) => ({ index: n.index, exit: await this.kill(n.index, "SIGTERM") })),
    );
    for (const { index, exit } of exits) {
      if (exit?.forced) console.error(`node ${index} ignored SIGTERM and was killed`);
    }
    if (this.#ownsRoot) {
      await Deno.remove(this.#root, { recursive: true }).catch(() => undefined);
    }
  }

  /** Same as {@linkcode stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /**
   * Runs `fn` on the cluster; a failure is rethrown with every node's output appended, so the
   * test log shows what the servers saw.
   */
  async check<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.#withDiagnostics(err);
    }
  }
}

/** Options of {@linkcode withCluster}. */
export interface WithClusterOptions extends ClusterOptions {
  /** Overall limit of the test body. @default 120000 */
  timeoutMs?: number;
}

/**
 * Starts a cluster, runs `fn` on it within `timeoutMs`, and always stops it. A failure (or the
 * timeout) is reported with every node's output.
 *
 * @param options the cluster and the time limit
 * @param fn the test body; `signal` aborts when the time limit passes
 * @returns what `fn` returned
 */
export async function withCluster<T>(
  options: WithClusterOptions,
  fn: (cluster: TestCluster, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const cluster = await TestCluster.start(options);
  const controller = new AbortController();
  const timeoutMs = options.timeoutMs ?? 120_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`Cannot finish the test as it ran over ${timeoutMs} ms`));
    }, timeoutMs);
  });
  const body = fn(cluster, controller.signal);
  // After a timeout the body may still fail while the cluster stops; that is already reported.
  body.catch(() => undefined);
  try {
    return await cluster.check(() => Promise.race([body, timeout]));
  } finally {
    clearTimeout(timer);
    controller.abort();
    await cluster.stop();
  }
}
