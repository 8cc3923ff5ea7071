/**
 * The composition root of a node: opens the data directory, establishes the node's identity,
 * and starts its listeners (peer and client gRPC, admin HTTP).
 *
 * What runs today is the foundation: a single node that owns its LMDB data directory and answers
 * health checks on every port. Replication (multi-raft), the KV API and joining arrive in later
 * issues; flags that need them are refused with a clear error instead of being ignored.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import type { NodeFlags } from "../base/config_flags.ts";
import { formatHostPort, parseHostPort } from "../base/config_units.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { randomClusterId } from "../base/ids.ts";
import type { Logger } from "../base/logger.ts";
import { addHealthService, HealthStatus, ServingStatus } from "../rpc/health_service.ts";
import type { Engine } from "../storage/engine.ts";
import { openLmdbEngine } from "../storage/mod.ts";
import { type AdminServer, startAdminServer } from "./admin_http.ts";
import { type NodeIdentity, readNodeIdentity, writeNodeIdentity } from "./node_identity.ts";

/** A running node. */
export interface RunningServer {
  readonly identity: NodeIdentity;
  /** Addresses actually listened on (real ports when 0 was asked for). */
  readonly addresses: { peer: string; client: string; admin: string };
  /** Stops every listener and closes the data directory. */
  stop(): Promise<void>;
}

/** Binds `server` to `address` (validated host:port from the flags); returns the real address. */
async function bindGrpc(server: grpc.Server, address: string, flag: string): Promise<string> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      address,
      grpc.ServerCredentials.createInsecure(),
      (err, p) => err ? reject(err) : resolve(p),
    )
  ).catch((cause) => {
    throw new RangeDbError(
      ErrorCode.UNAVAILABLE,
      `Cannot listen on --${flag} ${address}: ${cause instanceof Error ? cause.message : cause}`,
      { cause },
    );
  });
  return formatHostPort({ host: parseHostPort(address)!.host, port });
}

/**
 * Refuses flags whose features do not exist yet, on every start (a restart too), so that they
 * are never silently ignored.
 */
function refuseUnbuiltFlags(flags: NodeFlags): void {
  if (flags.join.length > 0) {
    throw new RangeDbError(
      ErrorCode.FAILED_PRECONDITION,
      "Cannot join a cluster as joining is not built yet: start a single-node cluster with " +
        "--cluster-init",
    );
  }
  if (flags.peers.length > 0) {
    throw new RangeDbError(
      ErrorCode.FAILED_PRECONDITION,
      "Cannot run a multi-node cluster as replication is not built yet: omit --peers to run a " +
        "single-node cluster",
    );
  }
}

async function establishIdentity(engine: Engine, flags: NodeFlags): Promise<NodeIdentity> {
  const existing = readNodeIdentity(engine);
  if (existing !== undefined) return existing;
  if (!flags.clusterInit) {
    throw new RangeDbError(
      ErrorCode.FAILED_PRECONDITION,
      `Cannot start the node as ${flags.dataDir} holds no cluster: pass --cluster-init to create one`,
    );
  }
  const identity = { clusterId: randomClusterId(), nodeId: 1, createdAt: Date.now() };
  await writeNodeIdentity(engine, identity);
  return identity;
}

/**
 * Starts a node from its flags.
 *
 * @param flags the parsed node flags
 * @param logger the node's logger
 * @returns the running node
 * @throws {RangeDbError} FAILED_PRECONDITION for --join or --peers (not built yet, refused on
 * every start), when the data directory holds no cluster and --cluster-init is absent, or
 * cannot be opened (also UNSUPPORTED_FORMAT, CORRUPTION); UNAVAILABLE when a listener cannot
 * bind
 */
export async function startServer(flags: NodeFlags, logger: Logger): Promise<RunningServer> {
  refuseUnbuiltFlags(flags);
  const engine = await openLmdbEngine(flags.dataDir);
  const cleanups: (() => Promise<void> | void)[] = [() => engine.close()];
  // Idempotent: each cleanup runs once, newest first.
  const stop = async () => {
    for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) await cleanup();
  };
  try {
    const identity = await establishIdentity(engine, flags);
    const log = logger.with({ node_id: identity.nodeId, cluster_id: identity.clusterId });
    const health = new HealthStatus();

    const peerServer = new grpc.Server();
    addHealthService(peerServer, health);
    cleanups.push(() => peerServer.forceShutdown());
    const peer = await bindGrpc(peerServer, flags.peerAddress, "peer-address");

    const clientServer = new grpc.Server();
    addHealthService(clientServer, health);
    cleanups.push(() => clientServer.forceShutdown());
    const client = await bindGrpc(clientServer, flags.clientAddress, "client-address");

    const adminHp = parseHostPort(flags.adminAddress)!;
    const addresses = { peer, client, admin: "" };
    const ready = () => health.get("") === ServingStatus.SERVING;
    const admin: AdminServer = await startAdminServer(adminHp.host, adminHp.port, {
      ready,
      nodeInfo: () => ({ ...identity, addresses, dataDir: flags.dataDir, ready: ready() }),
    });
    cleanups.push(() => admin.close());
    addresses.admin = formatHostPort({ host: adminHp.host, port: admin.address.port });

    health.set("", true);
    // Runs first on stop: probes report not-ready while the node shuts down.
    cleanups.push(() => health.set("", false));
    log.info("node started", { ...addresses, data_dir: flags.dataDir });
    return { identity, addresses, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
