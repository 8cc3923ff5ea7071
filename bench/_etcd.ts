/**
 * A local 3-member (or N-member) etcd 3.4 cluster for `bench/kv_bench.ts --compare etcd`, and
 * etcd's KV protocol for {@linkcode KvTarget}.
 *
 * Members run `/usr/bin/etcd` on free loopback ports with data directories in a fresh temp
 * directory, each under `timeout(1)`, so that a member can outlive the benchmark by at most its
 * time budget even when the benchmark itself is killed with SIGKILL. `stop()` ends every member
 * (SIGTERM, which timeout(1) forwards, then SIGKILL 5 s later) and removes the directory; the
 * benchmark calls it in a `finally`, on SIGINT/SIGTERM, and `signalStop()` on unload.
 *
 * @module
 */

import { create, toBinary } from "@bufbuild/protobuf";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type PutRequest,
  PutRequestSchema,
  type RangeRequest,
  RangeRequestSchema,
} from "../proto/gen/etcd/etcdserverpb/rpc_subset_pb.ts";
import type { KvProtocol } from "./_kv_target.ts";

/** etcd's KV API: Put, and Range of one key with serializable=false (linearizable). */
export const ETCD_PROTOCOL: KvProtocol<PutRequest, RangeRequest> = {
  name: "etcd",
  putPath: "/etcdserverpb.KV/Put",
  getPath: "/etcdserverpb.KV/Range",
  putRequest: (key, value) => create(PutRequestSchema, { key, value }),
  getRequest: (key) => create(RangeRequestSchema, { key, serializable: false }),
  encodePut: (req) => toBinary(PutRequestSchema, req),
  encodeGet: (req) => toBinary(RangeRequestSchema, req),
};

/** Options of {@linkcode startEtcdCluster}. */
export interface EtcdClusterOptions {
  /** The number of members. @default 3 */
  members?: number;
  /** The etcd binary. @default "/usr/bin/etcd" */
  etcd?: string;
  /** The etcdctl binary (health and leader queries). @default "/usr/bin/etcdctl" */
  etcdctl?: string;
  /** Parent of the temp directory holding data dirs and logs. @default os.tmpdir() */
  dataRoot?: string;
  /** Members are killed by timeout(1) after this many seconds, whatever happens. */
  maxLifetimeSeconds: number;
  /** How long to wait for a healthy cluster. @default 30000 */
  readyTimeoutMs?: number;
}

/** A running etcd cluster. */
export interface EtcdCluster {
  /** Client addresses (`127.0.0.1:port`) of the members, in member order. */
  readonly clientAddresses: readonly string[];
  /** The temp directory with `m<i>/` data dirs and `m<i>.log` logs. */
  readonly dir: string;
  /** The client address of the current leader. */
  leaderAddress(): Promise<string>;
  /** Ends every member and removes the directory; idempotent. */
  stop(): Promise<void>;
  /**
   * Sends SIGTERM to every member still running and returns at once (for unload handlers):
   * timeout(1) passes it on and sends SIGKILL 5 s later if the member is still there.
   */
  signalStop(): void;
}

/**
 * How long `stop()` waits before killing timeout(1) itself. timeout(1) forwards SIGTERM to etcd
 * and kills it after 5 s (`--kill-after`), so this only fires when timeout(1) is stuck.
 */
const STOP_GRACE_MS = 10_000;

/** Returns a free TCP port on 127.0.0.1 (bound and released, as etcd takes no port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts an etcd cluster and waits until every member reports healthy.
 *
 * @throws {Error} when etcd is missing, a member exits, or the cluster is not healthy in time
 *   (the members are stopped first; the message holds the tail of the member logs)
 */
export async function startEtcdCluster(options: EtcdClusterOptions): Promise<EtcdCluster> {
  const etcd = options.etcd ?? "/usr/bin/etcd";
  const etcdctl = options.etcdctl ?? "/usr/bin/etcdctl";
  const members = options.members ?? 3;
  for (const bin of [etcd, etcdctl]) {
    if (!existsSync(bin)) {
      throw new Error(
        `Cannot start etcd as the binary is missing: ${bin} (apt package etcd-server)`,
      );
    }
  }
  const dir = mkdtempSync(join(options.dataRoot ?? tmpdir(), "rangedb_bench_etcd_"));
  const peerPorts: number[] = [];
  const clientPorts: number[] = [];
  for (let i = 0; i < members; i++) {
    peerPorts.push(await freePort());
    clientPorts.push(await freePort());
  }
  const initialCluster = peerPorts.map((p, i) => `m${i}=http://127.0.0.1:${p}`).join(",");
  const token = `rangedb-bench-${Date.now()}`;
  const children: Deno.ChildProcess[] = [];
  const exited: boolean[] = [];
  for (let i = 0; i < members; i++) {
    const client = `http://127.0.0.1:${clientPorts[i]}`;
    const peer = `http://127.0.0.1:${peerPorts[i]}`;
    const child = new Deno.Command("timeout", {
      args: [
        "--kill-after=5s",
        `${options.maxLifetimeSeconds}s`,
        etcd,
        `--name=m${i}`,
        `--data-dir=${join(dir, `m${i}`)}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=${initialCluster}`,
        "--initial-cluster-state=new",
        `--initial-cluster-token=${token}`,
        "--logger=zap",
        `--log-outputs=${join(dir, `m${i}.log`)}`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    exited.push(false);
    child.status.then(() => exited[i] = true);
    children.push(child);
  }
  const clientAddresses = clientPorts.map((p) => `127.0.0.1:${p}`);
  let stopped: Promise<void> | undefined;
  const cluster: EtcdCluster = {
    clientAddresses,
    dir,
    leaderAddress: () => leaderAddress(etcdctl, clientAddresses),
    stop() {
      stopped ??= stopAll(children, exited, dir);
      return stopped;
    },
    signalStop() {
      children.forEach((c, i) => {
        if (!exited[i]) killQuietly(c, "SIGTERM");
      });
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    const dead = exited.findIndex((e) => e);
    const problem = dead >= 0
      ? `member m${dead} exited`
      : Date.now() > deadline
      ? "the cluster was not healthy in time"
      : undefined;
    if (problem !== undefined) {
      const logs = logTails(dir, members);
      await cluster.stop();
      throw new Error(`Cannot start etcd as ${problem}: dir is ${dir}\n${logs}`);
    }
    const health = await new Deno.Command(etcdctl, {
      args: [`--endpoints=${clientAddresses.join(",")}`, "endpoint", "health"],
      env: { ETCDCTL_API: "3" },
      stdout: "null",
      stderr: "null",
    }).output();
    if (health.success) return cluster;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Asks every member for its status (`etcdctl endpoint status -w json`) and returns the client
 * address of the member whose id is the reported leader.
 */
async function leaderAddress(etcdctl: string, endpoints: readonly string[]): Promise<string> {
  const out = await new Deno.Command(etcdctl, {
    args: [`--endpoints=${endpoints.join(",")}`, "endpoint", "status", "-w", "json"],
    env: { ETCDCTL_API: "3" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `Cannot find the etcd leader as etcdctl failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  // Member ids are uint64 and lose precision as JSON numbers: read them as strings.
  const statuses = JSON.parse(text.replace(/:\s*(\d{16,})/g, ':"$1"')) as {
    Endpoint: string;
    Status: { header: { member_id: string | number }; leader: string | number };
  }[];
  const leader = statuses.find((s) =>
    String(s.Status.header.member_id) === String(s.Status.leader)
  );
  if (leader === undefined) throw new Error(`Cannot find the etcd leader in: ${text}`);
  return leader.Endpoint.replace(/^https?:\/\//, "");
}

async function stopAll(children: Deno.ChildProcess[], exited: boolean[], dir: string) {
  children.forEach((c, i) => {
    if (!exited[i]) killQuietly(c, "SIGTERM");
  });
  const timer = setTimeout(() => {
    children.forEach((c, i) => {
      if (!exited[i]) killQuietly(c, "SIGKILL");
    });
  }, STOP_GRACE_MS);
  await Promise.all(children.map((c) => c.status));
  clearTimeout(timer);
  rmSync(dir, { recursive: true, force: true });
}

function killQuietly(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // Already exited between the check and the kill.
  }
}

function logTails(dir: string, members: number): string {
  const parts: string[] = [];
  for (let i = 0; i < members; i++) {
    try {
      const lines = readFileSync(join(dir, `m${i}.log`), "utf8").trimEnd().split("\n");
      parts.push(`--- m${i}.log (last lines)\n${lines.slice(-5).join("\n")}`);
    } catch {
      parts.push(`--- m${i}.log: none`);
    }
  }
  return parts.join("\n");
}
