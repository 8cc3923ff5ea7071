/**
 * Helpers of the rpc tests: grpc-js servers on 127.0.0.1:0, a quiet logger, a recording
 * transport handler, a fake KvStore for request logic, and waiting for a condition.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { createLogger, type Logger } from "../../../src/base/logger.ts";
import { ErrorCode, RangeDbError } from "../../../src/base/errors.ts";
import type { KvStore } from "../../../src/kv/kv_store.ts";
import type {
  IncomingSnapshot,
  RangeMessage,
  TransportHandler,
} from "../../../src/kv/transport.ts";
import { SERVER_OPTIONS } from "../../../src/rpc/grpc_definition.ts";

/** A logger whose lines are kept in `lines` instead of printed. */
export function quietLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(createLogger({ level: "debug", sink: (l) => lines.push(l) }), { lines });
}

/** A running test server. */
export interface TestServer {
  server: grpc.Server;
  port: number;
  address: string;
  stop(): Promise<void>;
}

/** Starts a grpc-js server on `127.0.0.1:<port>` (0: any free port) with `register` applied. */
export function startServer(
  register: (server: grpc.Server) => void,
  port = 0,
): Promise<TestServer> {
  const server = new grpc.Server(SERVER_OPTIONS);
  register(server);
  return new Promise((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err !== null) {
        reject(err);
        return;
      }
      resolve({
        server,
        port: bound,
        address: `127.0.0.1:${bound}`,
        stop: () => {
          server.forceShutdown();
          return Promise.resolve();
        },
      });
    });
  });
}

/** Waits until `check()` is true, polling every 10 ms; throws after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = "condition") {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A transport handler that records what it is given. */
export class RecordingHandler implements TransportHandler {
  batches: { from: number; messages: RangeMessage[] }[] = [];
  snapshots: IncomingSnapshot[] = [];
  unreachable: number[] = [];
  accept = true;

  receive(fromNodeId: number, messages: RangeMessage[]): void {
    this.batches.push({ from: fromNodeId, messages });
  }

  receiveSnapshot(snapshot: IncomingSnapshot): Promise<boolean> {
    this.snapshots.push(snapshot);
    return Promise.resolve(this.accept);
  }

  reportUnreachable(nodeId: number): void {
    this.unreachable.push(nodeId);
  }
}

function unsupported(): never {
  throw new RangeDbError(
    ErrorCode.INTERNAL,
    "Cannot call fake store method as the test did not set it",
  );
}

/** A KvStore whose methods throw unless the test overrides them. */
export function fakeStore(overrides: Partial<KvStore> & { nodeId?: number } = {}): KvStore {
  const base: KvStore = {
    nodeId: 1,
    clusterId: "c1",
    get: unsupported,
    scan: unsupported,
    put: unsupported,
    delete: unsupported,
    batch: unsupported,
    compareAndSwap: unsupported,
    join: unsupported,
    checkMember: unsupported,
    incarnationMatches: () => true,
    leaderNodeId: () => 0,
    isReady: () => true,
    nodes: () => [],
    ranges: () => [],
    replicationFactor: () => 3,
    peerAddressOf: () => undefined,
    clientAddressOf: () => undefined,
    lookupRange: unsupported,
    listRanges: unsupported,
    metaScan: unsupported,
    metaGet: unsupported,
    clusterSettings: unsupported,
    setClusterSetting: unsupported,
    proposeCommand: unsupported,
    waitApplied: unsupported,
    splitRange: unsupported,
    mergeRange: unsupported,
    migrations: () => [],
    allocateTimestamps: unsupported,
    transferLeadershipAway: () => Promise.resolve(),
    stop: () => Promise.resolve(),
  };
  return { ...base, ...overrides };
}

/** A NOT_LEADER error naming `leaderNodeId`. */
export function notLeader(leaderNodeId: number): RangeDbError {
  return new RangeDbError(ErrorCode.NOT_LEADER, "Cannot propose as this node is not the leader", {
    details: { leaderNodeId },
  });
}

/** Calls a unary method of a generic client as a promise. */
export function callUnary<Res>(
  client: grpc.Client,
  method: string,
  request: unknown,
  options: grpc.CallOptions = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<
      string,
      (r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: Res) => void) => void
    >)[method].call(client, request, options, (err, value) => {
      if (err !== null) reject(err);
      else resolve(value!);
    });
  });
}
