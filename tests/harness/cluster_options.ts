/**
 * The options and node descriptions of a `TestCluster` (`cluster.ts`).
 *
 * @module
 */
/** Options of {@linkcode TestCluster.start}. */
export interface ClusterOptions {
  /** Number of initial members. */
  nodes: number;
  /** Start every node now, or none (start them with `startNode`). @default "all" */
  start?: "all" | "none";
  /** Start order of the node indexes (a subset starts only those). @default 0, 1, … */
  order?: number[];
  /** Flags added to every node's command line. */
  extraFlags?: string[];
  /** Directory for the nodes' data directories; a temp dir (removed on stop) by default. */
  dataRoot?: string;
  /** `--log-level` of every node. @default "info" */
  logLevel?: string;
  /** Pass `--node-id=node-<n>`; false keeps the default name derived from the peer address. */
  names?: boolean;
  /** How long `start` waits for a majority to be ready. @default 60000 */
  readyTimeoutMs?: number;
  /** Environment variables of every node process. */
  env?: Record<string, string>;
  /**
   * Where the nodes run: by default on 127.0.0.1 with ports picked at random; with `hosts`
   * (e.g. one network namespace per node, `netns.ts`) node `i` binds `hosts.ip(i)` on fixed
   * ports and is started under `hosts.prefix(i)`.
   */
  hosts?: ClusterHosts;
}

/** Per-node hosts of a cluster, such as network namespaces. */
export interface ClusterHosts {
  /** How many nodes can be placed (initial members and joined nodes together). */
  readonly capacity: number;
  /** The address node `i` binds and advertises. */
  ip(i: number): string;
  /** The command node `i`'s server runs under (it must exec the server in place). */
  prefix(i: number): readonly string[];
}

/** Ports a node uses on its own host when the cluster has `hosts`. */
export const HOST_PORTS = { peer: 7100, client: 7101, admin: 7102 } as const;

/** One node of a `TestCluster`, running or not. */
export interface ClusterNodeInfo {
  readonly index: number;
  /** The node's name (`--node-id`, or the default derived from the peer address). */
  readonly name: string;
  /** Peer, client and admin addresses (host:port). */
  readonly peer: string;
  readonly client: string;
  readonly admin: string;
  /** `http://` + admin. */
  readonly adminUrl: string;
  readonly dataDir: string;
  /** The membership flags it starts with (`--cluster-init --peers=…` or `--join=…`). */
  readonly membership: readonly string[];
}
