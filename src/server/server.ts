/**
 * The composition root of a node: locks and opens the data directory, binds its listeners (peer
 * and client gRPC, admin HTTP), finds its place in a cluster (resume, form or join; see
 * `cluster_formation.ts`), and opens the multi-raft store behind the services.
 *
 * Listeners bind before the store opens: a joining node must know its real peer address before
 * it asks to be admitted. Requests that arrive earlier get UNAVAILABLE ("still starting").
 *
 * A disk too full to start on is refused before the engine opens (`data_dir_space.ts`). A batch
 * that cannot be written later (a full disk, an I/O error) fails the node for good: the store
 * stops, every caller gets one UNAVAILABLE error that names the data directory and, when it is
 * one, the full disk, `/readyz` and `/healthz` answer 503 with it, and {@linkcode
 * RunningServer.failed} tells the process to exit non-zero ({@linkcode FAILED_LINGER_MS} later),
 * so that a supervisor restarts it once space is freed. The node does not retry in place: after a
 * failed write (or fsync) the state in memory and in the page cache is unknown, so, as
 * PostgreSQL, etcd and CockroachDB do, it restarts from what is on disk, and the other replicas
 * serve meanwhile.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { existsSync, rmSync } from "node:fs";
import { type Clock, SystemClock } from "../base/clock.ts";
import type { NodeFlags } from "../base/config_flags.ts";
import { formatHostPort, parseHostPort } from "../base/config_units.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { Logger } from "../base/logger.ts";
import {
  bootstrapCluster,
  Store,
  type TransportHandler,
  validatePlantedBugEnv,
} from "../kv/mod.ts";
import { create } from "@bufbuild/protobuf";
import type { ClusterRouter } from "../kv/cluster_router.ts";
import { AdminConfig } from "../rpc/admin_config.ts";
import { AdminPartitions } from "../rpc/admin_partitions.ts";
import { addAdminService } from "../rpc/admin_service.ts";
import { GrpcClusterRouter } from "../rpc/cluster_router.ts";
import { batchCommitter } from "../txn/batch_committer.ts";
import { Forwarder } from "../rpc/forwarder.ts";
import { createForwardedRunner } from "../rpc/forwarded_requests.ts";
import { SERVER_OPTIONS } from "../rpc/grpc_definition.ts";
import { addHealthService, HealthStatus } from "../rpc/health_service.ts";
import { createJoinHandler } from "../rpc/join_handler.ts";
import { KvHandlers } from "../rpc/kv_handlers.ts";
import { addKvService } from "../rpc/kv_service.ts";
import { addPeerService } from "../rpc/peer_service.ts";
import { GrpcPeerTransport } from "../rpc/peer_transport.ts";
import { partitionsJson } from "../rpc/range_codec.ts";
import { type GrpcListener, listenGrpc } from "../rpc/grpc_listener.ts";
import { addReflection } from "../rpc/reflection.ts";
import { openLmdbEngine, validateCrashPointEnv } from "../storage/mod.ts";
import { ListPartitionsRequestSchema } from "../../proto/gen/rangedb/v1/admin_pb.ts";
import { type AdminServer, startAdminServer } from "./admin_http.ts";
import { clusterInfo } from "./cluster_info.ts";
import { checkFormationFlags, establishIdentity } from "./cluster_formation.ts";
import { checkStartSpace, writeFailureError } from "./data_dir_space.ts";
import { lockDataDir } from "./data_dir_lock.ts";
import { createCheckCall, createJoinCall } from "./join_client.ts";
import { lateStore } from "./late_store.ts";
import { createNodeMetrics } from "./metrics.ts";
import type { NodeIdentity } from "./node_identity.ts";

/**
 * How long a failed node keeps answering (with its failure) before {@linkcode
 * RunningServer.failed} resolves: time for the callers that were waiting, and for clients that
 * retry at once, to get the error that says why, rather than a refused connection.
 */
export const FAILED_LINGER_MS = 2_000;

/** The budget of the admin HTTP port's reads through the store (`/api/v1/partitions`). */
const ADMIN_HTTP_DEADLINE_MS = 5_000;

/** A running node. */
export interface RunningServer {
  readonly identity: NodeIdentity;
  /** Addresses actually listened on (real ports when 0 was asked for). */
  readonly addresses: { peer: string; client: string; admin: string };
  /** How the node found its cluster. */
  readonly how: "resumed" | "formed" | "joined";
  /**
   * Resolves {@linkcode FAILED_LINGER_MS} after the node failed for good (a batch could not be
   * written), with the error it fails every request with; never resolves while it serves. The
   * process should then `stop()` it and exit non-zero.
   */
  readonly failed: Promise<RangeDbError>;
  /** The error the node failed with, once it has. */
  failure(): RangeDbError | undefined;
  /**
   * Stops the node: hands leadership away (graceful only), then stops the store and closes the
   * data directory, and closes its gRPC servers and clients unless `keepNetwork` is set.
   * Idempotent.
   *
   * `keepNetwork` is for a process that exits right after: Deno 2.9 can abort inside nghttp2
   * when an HTTP/2 session receives a GOAWAY (denoland/deno#36788), and closing a gRPC server or
   * client sends one to every peer. A process that exits instead closes its sockets without a
   * GOAWAY, which peers see as a dropped connection and survive.
   */
  stop(options?: { graceful?: boolean; keepNetwork?: boolean }): Promise<void>;
}

/** Options of {@linkcode startServer} beyond the flags. */
export interface StartServerOptions {
  clock?: Clock;
}

/**
 * Serves `server` on `address` (validated host:port from the flags) through the GOAWAY-filtering
 * listener; returns the real address and the listener.
 */
async function bindGrpc(
  server: grpc.Server,
  address: string,
  flag: string,
): Promise<{ address: string; listener: GrpcListener }> {
  const { host, port } = parseHostPort(address)!;
  const listener = await listenGrpc(server, host, port).catch((cause) => {
    throw new RangeDbError(
      ErrorCode.UNAVAILABLE,
      `Cannot listen on --${flag} ${address}: ${cause instanceof Error ? cause.message : cause}`,
      { cause },
    );
  });
  return { address: formatHostPort({ host, port: listener.port }), listener };
}

/**
 * Starts a node from its flags.
 *
 * @param flags the parsed node flags
 * @param logger the node's logger
 * @param options the clock
 * @returns the running node
 * @throws {RangeDbError} FAILED_PRECONDITION when the data directory is locked by another
 * process, holds no cluster and neither --cluster-init nor --join is given, belongs to another
 * cluster, or --peers lacks this node; UNAVAILABLE when a listener cannot bind or no member
 * admits a join; UNSUPPORTED_FORMAT / CORRUPTION for an unreadable data directory
 */
export async function startServer(
  flags: NodeFlags,
  logger: Logger,
  options: StartServerOptions = {},
): Promise<RunningServer> {
  const clock = options.clock ?? new SystemClock();
  validateCrashPointEnv();
  validatePlantedBugEnv();
  checkFormationFlags(flags);
  // Nothing is written before the listeners are bound and the directory is locked, and a
  // directory this start created is removed again if the start fails.
  const createdDir = !existsSync(flags.dataDir);
  if (createdDir && !flags.clusterInit && flags.join.length === 0) {
    throw new RangeDbError(
      ErrorCode.FAILED_PRECONDITION,
      `Cannot start the node as ${flags.dataDir} holds no cluster: pass --cluster-init to form ` +
        "one (with --peers for several nodes) or --join to join a running one",
    );
  }
  type Cleanup = (() => Promise<void> | void) & { network?: boolean };
  const cleanups: Cleanup[] = [];
  const network = (fn: () => Promise<void> | void): Cleanup => Object.assign(fn, { network: true });
  // Idempotent: each cleanup runs once, newest first.
  const runCleanups = async (keepNetwork = false) => {
    for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) {
      if (keepNetwork && cleanup.network) continue;
      try {
        await cleanup();
      } catch (err) {
        logger.error("stop step failed", { error: String(err) });
      }
    }
  };
  let started = false;
  // A directory holding a join attempt keeps its pending incarnation for the retry.
  let joinAttempted = false;
  try {
    const late = lateStore();
    let store: Store | undefined = undefined;
    const health = new HealthStatus();
    let clusterId = "";
    let nodeName = flags.nodeId || flags.peerAddress;
    const metrics = createNodeMetrics({ node: nodeName });
    const forwarder = new Forwarder(() => clusterId);
    cleanups.push(network(() => forwarder.close()));
    const partitions = new AdminPartitions({ store: late.store, peers: forwarder, clock, logger });
    const config = new AdminConfig({ store: late.store, peers: forwarder, clock, logger });
    // The store's coordinators reach other nodes' ranges through the router (late-bound: it
    // exists before the store opens).
    const router: ClusterRouter = new GrpcClusterRouter({
      store: late.store,
      peers: forwarder,
      clock,
      logger,
    });
    const handlers = new KvHandlers({
      store: late.store,
      peers: forwarder,
      clock,
      logger,
      observe: metrics.observeRequest,
      crossRangeBatch: batchCommitter({ router, store: late.store, clock, logger }),
    });
    // Raft traffic that arrives before the store is open is dropped; Raft resends.
    const handler: TransportHandler = {
      receive: (from, messages) => store?.receive(from, messages),
      receiveSnapshot: (snapshot) =>
        store === undefined ? Promise.resolve(false) : store.receiveSnapshot(snapshot),
      reportUnreachable: (nodeId) => store?.reportUnreachable(nodeId),
    };

    // RaftMessages streams dialled by lower-id nodes are refused until the transport exists.
    let raftStreams: GrpcPeerTransport | undefined = undefined;
    const peerServer = new grpc.Server(SERVER_OPTIONS);
    addHealthService(peerServer, health);
    addPeerService(peerServer, {
      clusterId: () => clusterId,
      handler,
      raftStreams: () => raftStreams,
      incarnationMatches: (nodeId, incarnation) =>
        store === undefined || store.incarnationMatches(nodeId, incarnation),
      forward: createForwardedRunner({
        store: late.store,
        kv: handlers,
        admin: partitions,
        config,
        clock,
        observe: metrics.observeRequest,
      }),
      join: createJoinHandler({ store: late.store, peers: forwarder, logger }),
      logger,
      clock,
    });
    const peerBound = await bindGrpc(peerServer, flags.peerAddress, "peer-address");
    cleanups.push(network(() => peerBound.listener.close()));
    const peer = peerBound.address;

    const clientServer = new grpc.Server(SERVER_OPTIONS);
    addHealthService(clientServer, health);
    addKvService(clientServer, {
      handlers,
      store: late.store,
      clock,
      logger,
      observe: metrics.observeRequest,
    });
    addAdminService(clientServer, {
      store: late.store,
      partitions,
      config,
      nodeName: () => nodeName,
      clock,
      logger,
    });
    addReflection(clientServer, ["rangedb.v1.KV", "rangedb.v1.Admin", "grpc.health.v1.Health"]);
    const clientBound = await bindGrpc(clientServer, flags.clientAddress, "client-address");
    cleanups.push(network(() => clientBound.listener.close()));
    const client = clientBound.address;

    const adminHp = parseHostPort(flags.adminAddress)!;
    const addresses = { peer, client, admin: "" };
    let identity: NodeIdentity | undefined = undefined;
    const ready = () => store !== undefined && store.isReady();
    let failure: RangeDbError | undefined = undefined;
    const failureInfo = () =>
      failure === undefined ? {} : { failure: { code: failure.code, message: failure.message } };
    const admin: AdminServer = await startAdminServer(adminHp.host, adminHp.port, {
      ready,
      failure: () => failure?.message,
      nodeInfo: () => ({
        ...identity,
        addresses,
        dataDir: flags.dataDir,
        ready: ready(),
        ...failureInfo(),
      }),
      clusterInfo: () => store === undefined ? undefined : clusterInfo(store),
      partitions: async (showMigrations) =>
        partitionsJson(
          await partitions.listPartitions(
            create(ListPartitionsRequestSchema, { showMigrations }),
            { deadline: clock.now() + ADMIN_HTTP_DEADLINE_MS, forwarded: false },
          ),
        ),
      metrics: async () => ({ contentType: metrics.contentType, body: await metrics.render() }),
    }).catch((cause) => {
      throw new RangeDbError(
        ErrorCode.UNAVAILABLE,
        `Cannot listen on --admin-address ${flags.adminAddress}: ${
          cause instanceof Error ? cause.message : cause
        }`,
        { cause },
      );
    });
    cleanups.push(network(() => admin.close()));
    addresses.admin = formatHostPort({ host: adminHp.host, port: admin.address.port });

    checkStartSpace(flags.dataDir);
    const lock = await lockDataDir(flags.dataDir);
    cleanups.push(() => lock.release());
    const engine = await openLmdbEngine(flags.dataDir);
    cleanups.push(() => engine.close());

    const joinCall = createJoinCall({ peers: forwarder, clock, logger });
    const placement = await establishIdentity(
      engine,
      flags,
      peer,
      { client, admin: addresses.admin },
      {
        join: (members, record) => {
          joinAttempted = true;
          return joinCall(members, record);
        },
        check: createCheckCall(forwarder, clock, logger),
      },
    );
    identity = placement.identity;
    clusterId = identity.clusterId;
    nodeName = identity.name;
    metrics.setLocalNodeId(identity.nodeId);
    const log = logger.with({ node_id: identity.nodeId, cluster_id: identity.clusterId });
    if (identity.bootstrapVoters.length > 0) {
      await bootstrapCluster(engine, { voters: identity.bootstrapVoters });
    }
    const transport = new GrpcPeerTransport({
      clusterId,
      nodeId: identity.nodeId,
      resolve: (nodeId: number) =>
        store?.peerAddressOf(nodeId) ?? placement.initialPeers.get(nodeId),
      peers: () => store?.nodes().map((n) => n.nodeId) ?? placement.initialPeers.keys(),
      incarnation: identity.incarnation,
      incarnationMatches: (nodeId, incarnation) =>
        store === undefined || store.incarnationMatches(nodeId, incarnation),
      logger: log,
      clock,
    });
    cleanups.push(network(() => transport.close()));
    const failed = Promise.withResolvers<RangeDbError>();
    let cancelLinger: (() => void) | undefined;
    cleanups.push(() => cancelLinger?.());
    const onWriteFailure = (cause: unknown, inWrite: boolean): RangeDbError => {
      const err = inWrite ? writeFailureError(flags.dataDir, cause) : new RangeDbError(
        ErrorCode.INTERNAL,
        `Cannot continue as a raft turn failed before its write (a bug; nothing of the turn ` +
          `was written): ${cause instanceof Error ? cause.message : cause}`,
        { cause, details: { ambiguous: true } },
      );
      if (failure !== undefined) return err;
      failure = err;
      health.set("", false);
      cancelLinger = clock.after(FAILED_LINGER_MS, () => failed.resolve(err));
      return err;
    };
    const storeOptions: Parameters<typeof Store.open>[0] = {
      engine,
      identity: {
        clusterId,
        nodeId: identity.nodeId,
        name: identity.name,
        incarnation: identity.incarnation,
      },
      self: { peerAddress: peer, clientAddress: client, adminAddress: addresses.admin },
      initialPeers: placement.initialPeers,
      transport,
      clock,
      logger: log,
      metrics: metrics.storeMetrics,
      onWriteFailure,
      maxSyncMs: flags.maxSyncDuration,
      router,
    };
    store = await Store.open(storeOptions);
    const opened = store;
    metrics.watchScheduler(() => ({
      replicas: opened.replicas.size,
      awake: opened.scheduler.awakeCount,
      turns: opened.scheduler.counters.turns,
      replicaTicks: opened.scheduler.counters.replicaTicks,
      leaderQuiesces: opened.scheduler.counters.leaderQuiesces,
      messagesSent: opened.scheduler.counters.messagesSent,
    }));
    transport.setHandler(handler);
    raftStreams = transport;
    late.set(opened);
    cleanups.push(() => opened.stop());

    health.set("", true);
    // Runs first on stop: probes report not serving while the node shuts down.
    cleanups.push(() => health.set("", false));
    log.info("node started", { ...addresses, data_dir: flags.dataDir, how: placement.how });
    started = true;
    let graceful = false;
    return {
      identity,
      addresses,
      how: placement.how,
      failed: failed.promise,
      failure: () => failure,
      async stop(options = {}) {
        // A failed store cannot hand leadership off: it writes nothing any more.
        if (options.graceful && !graceful && failure === undefined) {
          graceful = true;
          await opened.transferLeadershipAway(3_000).catch((err) =>
            log.warn("leadership hand-off failed", { error: String(err) })
          );
        }
        await runCleanups(options.keepNetwork);
      },
    };
  } catch (err) {
    await runCleanups();
    if (createdDir && !started && !joinAttempted) {
      rmSync(flags.dataDir, { recursive: true, force: true });
    }
    throw err;
  }
}
