/**
 * Helpers of {@linkcode TestCluster} (tests/harness/cluster.ts): free ports, admin HTTP reads and
 * the cluster view parsed from `/api/v1/cluster`.
 *
 * @module
 */

/** One member as a node's `/api/v1/cluster` describes it. */
export interface ClusterMember {
  name: string;
  nodeId: number;
  peerAddress: string;
  role: string;
  leader: boolean;
}

/** The cluster as one node sees it. */
export interface ClusterView {
  /** The answering node's numeric id. */
  selfNodeId: number;
  /** Range 1's leader as the node knows it; 0 when unknown. */
  leaderNodeId: number;
  nodes: ClusterMember[];
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GETs `url` with a timeout; the body is always consumed. */
export async function getJson(
  url: string,
  timeoutMs = 3_000,
): Promise<{ status: number; body: unknown }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const res = await fetch(url, { signal: controller.signal });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch { /* not JSON: keep the text */ }
    return { status: res.status, body };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Picks `count` distinct free loopback ports (all held open until every one is picked), at random
 * below the kernel's ephemeral range (32768 and up on Linux): a port the kernel hands to another
 * process's outgoing connection or `:0` listener in the moment between picking and the server's
 * bind would make that server fail with EADDRINUSE, and parallel test files do exactly that.
 */
export function freePorts(count: number, taken: Set<number>): number[] {
  const listeners: Deno.TcpListener[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      const port = 10_000 + Math.floor(Math.random() * 22_000);
      if (taken.has(port)) continue;
      let listener: Deno.TcpListener;
      try {
        listener = Deno.listen({ hostname: "127.0.0.1", port });
      } catch {
        continue;
      }
      listeners.push(listener);
      taken.add(port);
      ports.push(port);
    }
  } finally {
    for (const listener of listeners) listener.close();
  }
  return ports;
}

export function tail(text: string, lines = 40): string {
  const all = text.trimEnd().split("\n");
  return all.length <= lines ? all.join("\n") : `… (${all.length - lines} lines before)\n` +
    all.slice(-lines).join("\n");
}

export function asNumber(value: unknown): number {
  const n = typeof value === "string" || typeof value === "bigint" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) ? n : 0;
}

export function parseMembers(nodes: unknown): ClusterMember[] {
  if (!Array.isArray(nodes)) return [];
  return nodes.map((n: Record<string, unknown>) => ({
    name: String(n.name ?? ""),
    nodeId: asNumber(n.nodeId),
    peerAddress: String(n.peerAddress ?? ""),
    role: String(n.role ?? ""),
    leader: n.leader === true,
  }));
}

/** Sleeps `ms`, or less: resolves as soon as `signal` aborts (at once when it already has). */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}
