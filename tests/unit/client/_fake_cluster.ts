/**
 * Fake RangeDB nodes for SDK tests: real gRPC servers on 127.0.0.1 port 0 serving the KV and
 * Admin methods from one shared in-memory map, recording every call (the partition and meta
 * methods answer UNIMPLEMENTED unless a test sets a handler). Tests script failures by
 * replacing a node's handler for a method (a handler may return a promise, e.g. one that never
 * settles to model a node that does not answer).
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  ClusterStatusResponseSchema,
  ListNodesResponseSchema,
  NodeStatusSchema,
} from "../../../proto/gen/rangedb/v1/admin_pb.ts";
import {
  BatchResponseSchema,
  CompareAndSwapResponseSchema,
  DeleteResponseSchema,
  GetResponseSchema,
  KeyValueSchema,
  PutResponseSchema,
  type RangeRequest,
  RangeResponseSchema,
} from "../../../proto/gen/rangedb/v1/kv_pb.ts";
import { RANGEDB_METHODS } from "../../../src/client/client_grpc.ts";

/** A method name of the fake. */
export type MethodName = keyof typeof RANGEDB_METHODS;

/** One recorded call. */
export interface RecordedCall {
  method: MethodName;
  // deno-lint-ignore no-explicit-any
  request: any;
}

/** Answers one unary request (or throws a status). */
// deno-lint-ignore no-explicit-any
export type Handler = (request: any) => unknown;

/** A gRPC status to throw from a handler. */
export function status(
  code: grpc.status,
  details: string,
  trailers: Record<string, string> = {},
): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(trailers)) metadata.set(k, v);
  return { code, details, metadata };
}

const dec = new TextDecoder();

function unimplemented(): never {
  throw status(grpc.status.UNIMPLEMENTED, "The method is not implemented");
}

/** One fake node. */
export interface FakeNode {
  readonly address: string;
  readonly calls: RecordedCall[];
  /** Overrides of the default handlers. */
  readonly handlers: Partial<Record<MethodName, Handler>>;
  /** Set when a Range stream was cancelled by the client. */
  rangeCancelled: boolean;
  /** Stop sending a Range stream after its first chunk (a server that hangs). */
  rangeStallAfterFirst: boolean;
}

/** Fake nodes sharing one store. */
export class FakeCluster {
  readonly nodes: FakeNode[] = [];
  readonly store = new Map<string, { value: Uint8Array; version: bigint }>();
  /** Index of the node ClusterStatus names as leader; -1: none. */
  leader = 0;
  /** The client address ClusterStatus gives the leader instead of its real one. */
  advertisedLeaderAddress: string | undefined;
  /** Pairs per Range chunk. */
  chunkSize = 2;
  #version = 100n;
  readonly #servers: grpc.Server[] = [];

  /** Starts `n` nodes. */
  static async start(n: number): Promise<FakeCluster> {
    const cluster = new FakeCluster();
    for (let i = 0; i < n; i++) await cluster.#startNode();
    return cluster;
  }

  /** The nodes' addresses. */
  addresses(): string[] {
    return this.nodes.map((n) => n.address);
  }

  /** Calls of `method` on every node, as [node index, request]. */
  // deno-lint-ignore no-explicit-any
  callsOf(method: MethodName): [number, any][] {
    return this.nodes.flatMap((n, i) =>
      n.calls.filter((c) => c.method === method).map((c) => [i, c.request] as [number, unknown])
    );
  }

  #next(): bigint {
    return ++this.#version;
  }

  #defaults(): Record<MethodName, Handler> {
    const s = this.store;
    return {
      Get: (r) => {
        const found = s.get(dec.decode(r.key));
        return create(GetResponseSchema, { found: !!found, ...found });
      },
      Put: (r) => {
        const version = this.#next();
        s.set(dec.decode(r.key), { value: r.value, version });
        return create(PutResponseSchema, { version });
      },
      Delete: (r) => {
        const deleted = s.delete(dec.decode(r.key));
        return create(DeleteResponseSchema, { deleted, version: this.#next() });
      },
      Batch: (r) => {
        const version = this.#next();
        for (const op of r.ops) {
          if (op.op.case === "put") s.set(dec.decode(op.op.value.key), { ...op.op.value, version });
          else s.delete(dec.decode(op.op.value.key));
        }
        return create(BatchResponseSchema, { version });
      },
      CompareAndSwap: (r) => {
        const cur = s.get(dec.decode(r.key));
        const ok = r.expectAbsent
          ? !cur
          : !!cur && dec.decode(cur.value) === dec.decode(r.expected);
        if (!ok) {
          return create(CompareAndSwapResponseSchema, { found: !!cur, actual: cur?.value });
        }
        const version = this.#next();
        s.set(dec.decode(r.key), { value: r.value, version });
        return create(CompareAndSwapResponseSchema, { succeeded: true, found: !!cur, version });
      },
      ClusterStatus: () =>
        create(ClusterStatusResponseSchema, {
          clusterId: "fake",
          healthy: this.leader >= 0,
          nodes: this.#nodeStatuses(),
        }),
      ListNodes: () => create(ListNodesResponseSchema, { nodes: this.#nodeStatuses() }),
      Range: () => undefined,
      // Partition and meta methods: a server of before issue 7 (tests set handlers to answer).
      ListPartitions: unimplemented,
      SplitPartition: unimplemented,
      MergePartition: unimplemented,
      MetaList: unimplemented,
      MetaGet: unimplemented,
      LookupRange: unimplemented,
      GetConfig: unimplemented,
      SetConfig: unimplemented,
    };
  }

  #nodeStatuses() {
    return this.nodes.map((n, i) =>
      create(NodeStatusSchema, {
        name: `node${i + 1}`,
        nodeId: BigInt(i + 1),
        clientAddress: i === this.leader && this.advertisedLeaderAddress !== undefined
          ? this.advertisedLeaderAddress
          : n.address,
        role: "voter",
        leader: i === this.leader,
        reachable: true,
      })
    );
  }

  #rangeChunks(r: RangeRequest) {
    const start = dec.decode(r.start);
    const end = dec.decode(r.end);
    let keys = [...this.store.keys()].filter((k) => k >= start && (end === "" || k < end)).sort();
    if (r.reverse) keys.reverse();
    if (r.limit > 0) keys = keys.slice(0, r.limit);
    const chunks = [];
    for (let i = 0; i < keys.length; i += this.chunkSize) {
      chunks.push(create(RangeResponseSchema, {
        kvs: keys.slice(i, i + this.chunkSize).map((k) =>
          create(KeyValueSchema, {
            key: new TextEncoder().encode(k),
            value: r.keysOnly ? new Uint8Array() : this.store.get(k)!.value,
            version: this.store.get(k)!.version,
          })
        ),
      }));
    }
    return chunks;
  }

  async #startNode(): Promise<void> {
    const server = new grpc.Server();
    const node: FakeNode = {
      address: "",
      calls: [],
      handlers: {},
      rangeCancelled: false,
      rangeStallAfterFirst: false,
    };
    const defaults = this.#defaults();
    const impl: grpc.UntypedServiceImplementation = {};
    for (const name of Object.keys(RANGEDB_METHODS) as MethodName[]) {
      if (name === "Range") continue;
      impl[name] = (
        call: grpc.ServerUnaryCall<unknown, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        node.calls.push({ method: name, request: call.request });
        Promise.resolve()
          .then(() => (node.handlers[name] ?? defaults[name])(call.request))
          .then((res) => callback(null, res), (err) => callback(err as grpc.ServiceError));
      };
    }
    impl.Range = async (call: grpc.ServerWritableStream<RangeRequest, unknown>) => {
      node.calls.push({ method: "Range", request: call.request });
      call.on("cancelled", () => (node.rangeCancelled = true));
      try {
        node.handlers.Range?.(call.request);
      } catch (err) {
        call.emit("error", err);
        return;
      }
      for (const chunk of this.#rangeChunks(call.request)) {
        if (call.cancelled) return;
        if (!call.write(chunk)) await new Promise((r) => call.once("drain", r));
        if (node.rangeStallAfterFirst) {
          await new Promise((r) => call.once("cancelled", r));
          return;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      call.end();
    };
    server.addService(RANGEDB_METHODS, impl);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        "127.0.0.1:0",
        grpc.ServerCredentials.createInsecure(),
        (err, p) => err ? reject(err) : resolve(p),
      )
    );
    (node as { address: string }).address = `127.0.0.1:${port}`;
    this.nodes.push(node);
    this.#servers.push(server);
  }

  /** Stops node `i` now (its address then refuses connections). */
  stopNode(i: number): void {
    this.#servers[i].forceShutdown();
  }

  /** Stops every node. */
  stop(): void {
    for (const server of this.#servers) server.forceShutdown();
  }
}
