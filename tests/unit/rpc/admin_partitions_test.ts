import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, RangeDbError } from "../../../src/base/errors.ts";
import type { MigrationInfo } from "../../../src/kv/kv_store.ts";
import { ADMIN_SERVICE_DEFINITION } from "../../../src/rpc/admin_service.ts";
import { ERROR_CODE_KEY } from "../../../src/rpc/status.ts";
import {
  ListPartitionsRequestSchema,
  type ListPartitionsResponse,
  LookupRangeRequestSchema,
  type LookupRangeResponse,
  MergePartitionRequestSchema,
  type MergePartitionResponse,
  MetaGetRequestSchema,
  type MetaGetResponse,
  MetaListRequestSchema,
  type MetaListResponse,
  SplitPartitionRequestSchema,
  type SplitPartitionResponse,
} from "../../../proto/gen/rangedb/v1/admin_pb.ts";
import {
  NodeRecordSchema,
  RangeDescriptorSchema,
} from "../../../proto/gen/rangedb/v1/command_pb.ts";
import { callUnary } from "./_grpc_fixture.ts";
import { clientOf, type FixtureCluster, rangeInfo, withNodes } from "./_cluster_fixture.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Calls an Admin method on node `id` over gRPC. */
async function admin<Res>(c: FixtureCluster, id: number, method: string, req: unknown) {
  const client = clientOf(ADMIN_SERVICE_DEFINITION, c.node(id).clientAddress);
  try {
    return await callUnary<Res>(client, method, req, { deadline: Date.now() + 3_000 });
  } finally {
    client.close();
  }
}

function rangeNotFound(): RangeDbError {
  return new RangeDbError(ErrorCode.RANGE_NOT_FOUND, "Cannot read range 1 as no replica is here");
}

function migration(nodeId: number, startedAtMs: number, kind: "split" | "merge"): MigrationInfo {
  return {
    kind,
    rangeId: 5,
    otherRangeId: 6,
    key: enc.encode("/m"),
    state: kind === "split" ? "splitting" : "waiting",
    startedAtMs,
    reason: "manual",
    nodeId,
  };
}

/** Asserts that `call` fails with INVALID_ARGUMENT and a message matching `message`. */
async function refused(
  call: Promise<unknown>,
  message: RegExp,
  code = grpc.status.INVALID_ARGUMENT,
) {
  await assert.rejects(call, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, err.details);
    assert.match(err.details, message);
    return true;
  });
}

Deno.test("Admin.ListPartitions lists ranges with their leader's client address", async () => {
  const ranges = [
    rangeInfo(2, "", "_/", {
      leaderNodeId: 2,
      liveKeys: 10,
      liveBytes: 2048,
      writesPerSecond: 1.5,
    }),
    rangeInfo(1, "_/", "", { leaderNodeId: 0, local: true }),
  ];
  await withNodes({ 1: { listRanges: () => Promise.resolve(ranges) }, 2: {} }, async (c) => {
    const res = await admin<ListPartitionsResponse>(
      c,
      1,
      "ListPartitions",
      create(ListPartitionsRequestSchema),
    );
    const [r2, r1] = res.partitions;
    assert.deepEqual(
      [r2.rangeId, dec.decode(r2.end), r2.leaderNodeId, r2.leaderClientAddress],
      [2n, "_/", 2n, c.node(2).clientAddress],
    );
    assert.deepEqual([r2.liveKeys, r2.liveBytes, r2.writesPerSecond], [10n, 2048n, 1.5]);
    assert.deepEqual([r1.rangeId, r1.leaderClientAddress], [1n, ""]);
    assert.deepEqual(res.migrations, []);
  });
});

Deno.test("Admin.ListPartitions asks range 1's leader without a local replica of range 1", async () => {
  await withNodes({
    1: { leaderNodeId: () => 3, listRanges: () => Promise.reject(rangeNotFound()) },
    2: {},
    3: { listRanges: () => Promise.resolve([rangeInfo(1, "", "", { leaderNodeId: 3 })]) },
  }, async (c) => {
    const res = await admin<ListPartitionsResponse>(
      c,
      1,
      "ListPartitions",
      create(ListPartitionsRequestSchema),
    );
    assert.deepEqual(res.partitions.map((r) => r.rangeId), [1n]);
    assert.deepEqual(c.received(), ["3:ListPartitions"]);
  });
});

Deno.test("Admin.ListPartitions with show_migrations collects every node's migrations, best effort", async () => {
  // Node 9 accepts connections and never answers: it costs at most the 1 s of its call.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) held.push(conn);
  })();
  const silentAddress = `127.0.0.1:${(silent.addr as Deno.NetAddr).port}`;
  const node9 = {
    name: "n9",
    nodeId: 9,
    peerAddress: silentAddress,
    clientAddress: "",
    adminAddress: "",
    role: "voter" as const,
    leader: false,
    reachable: false,
    matchIndex: 0,
    updatedAtMs: 0,
  };
  try {
    await withNodes({
      1: {
        listRanges: () => Promise.resolve([]),
        migrations: () => [migration(1, 300, "split")],
      },
      2: { migrations: () => [migration(2, 100, "merge")] },
      3: {
        migrations: () => {
          throw new RangeDbError(ErrorCode.INTERNAL, "Cannot list migrations: broken");
        },
      },
    }, async (c) => {
      const node1 = c.node(1);
      const nodes = node1.store.nodes;
      node1.store.nodes = () => [...nodes(), node9];
      const started = Date.now();
      const res = await admin<ListPartitionsResponse>(
        c,
        1,
        "ListPartitions",
        create(ListPartitionsRequestSchema, { showMigrations: true }),
      );
      const took = Date.now() - started;
      assert.ok(took >= 900 && took < 1_800, `took ${took} ms`);
      assert.deepEqual(res.migrations.map((m) => [m.nodeId, m.kind, m.state]), [
        [2n, "merge", "waiting"],
        [1n, "split", "splitting"],
      ]);
      assert.deepEqual(c.received().sort(), ["2:Migrations", "3:Migrations"]);
    });
  } finally {
    silent.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});

Deno.test("Admin.SplitPartition and MergePartition pass the request to the store", async () => {
  const calls: string[] = [];
  const left = rangeInfo(7, "", "/m", { generation: 1 });
  const right = rangeInfo(2, "/m", "_/", { generation: 5 });
  await withNodes({
    1: {
      splitRange: (key, options) => {
        calls.push(`split ${dec.decode(key)} ${options?.dryRun}`);
        return Promise.resolve({ left, right, dryRun: options?.dryRun ?? false });
      },
      mergeRange: (rangeId, options) => {
        calls.push(`merge ${rangeId} ${options?.dryRun}`);
        return Promise.resolve({ merged: right, subsumedRangeId: rangeId, dryRun: true });
      },
    },
  }, async (c) => {
    const split = await admin<SplitPartitionResponse>(
      c,
      1,
      "SplitPartition",
      create(SplitPartitionRequestSchema, { key: enc.encode("/m"), dryRun: true }),
    );
    assert.deepEqual(
      [split.left?.rangeId, split.right?.rangeId, split.right?.generation, split.dryRun],
      [7n, 2n, 5n, true],
    );
    const merge = await admin<MergePartitionResponse>(
      c,
      1,
      "MergePartition",
      create(MergePartitionRequestSchema, { rangeId: 7n, dryRun: true }),
    );
    assert.deepEqual([merge.merged?.rangeId, merge.subsumedRangeId, merge.dryRun], [2n, 7n, true]);
    assert.deepEqual(calls, ["split /m true", "merge 7 true"]);
  });
});

Deno.test("Admin.SplitPartition and MergePartition refuse bad input with specific messages", async () => {
  await withNodes({
    1: {
      mergeRange: () =>
        Promise.reject(
          new RangeDbError(ErrorCode.NOT_FOUND, "Cannot merge range 9 as it does not exist"),
        ),
    },
  }, async (c) => {
    const split = (key: Uint8Array) =>
      admin(c, 1, "SplitPartition", create(SplitPartitionRequestSchema, { key }));
    await refused(split(new Uint8Array()), /^Cannot split partition as the key is empty$/);
    await refused(
      split(enc.encode("_/partitions/x")),
      /^Cannot split partition as the key lies in the system keyspace '_\/': key is _\/partitions\/x$/,
    );
    await refused(
      split(Uint8Array.of(0x61, 0xff)),
      /^Cannot split partition as the key does not start with '\/': key is a\\xff$/,
    );
    await refused(
      split(new Uint8Array(4097).fill(0x2f)),
      /^Cannot split partition as the key exceeds the maximum key size: key is 4097 bytes, limit is 4096 bytes$/,
    );
    const merge = (rangeId: bigint) =>
      admin(c, 1, "MergePartition", create(MergePartitionRequestSchema, { rangeId }));
    await refused(
      merge(0n),
      /^Cannot merge partition as the range id is 0: pass the id of a range/,
    );
    await refused(merge(9n), /^Cannot merge range 9 as it does not exist$/, grpc.status.NOT_FOUND);
  });
});

Deno.test("Admin.LookupRange answers the local view and asks a replica for an unknown leader", async () => {
  await withNodes({
    1: {
      lookupRange: (key) =>
        dec.decode(key) < "/m"
          ? rangeInfo(2, "", "/m", { leaderNodeId: 1, local: true })
          : rangeInfo(3, "/m", "_/", { voters: [2, 3] }),
    },
    2: { lookupRange: () => rangeInfo(3, "/m", "_/", { leaderNodeId: 3, local: true }) },
    3: {},
  }, async (c) => {
    const lookup = (key: string) =>
      admin<LookupRangeResponse>(
        c,
        1,
        "LookupRange",
        create(LookupRangeRequestSchema, { key: enc.encode(key) }),
      );
    const local = (await lookup("/a")).range!;
    assert.deepEqual([local.rangeId, local.leaderClientAddress], [2n, c.node(1).clientAddress]);
    assert.deepEqual(c.received(), []);
    const remote = (await lookup("/x")).range!;
    assert.deepEqual(
      [remote.rangeId, remote.leaderNodeId, remote.leaderClientAddress],
      [3n, 3n, c.node(3).clientAddress],
    );
    assert.deepEqual(c.received(), ["2:LookupRange"]);
    await refused(
      admin(c, 1, "LookupRange", create(LookupRangeRequestSchema)),
      /^Cannot look up the range as the key is empty$/,
    );
  });
});

Deno.test("Admin.MetaList renders descriptors, node records, settings and binary values", async () => {
  const descriptor = toBinary(
    RangeDescriptorSchema,
    create(RangeDescriptorSchema, {
      rangeId: 2n,
      start: new Uint8Array(),
      end: enc.encode("_/"),
      generation: 3n,
      replicas: [{ nodeId: 1n, replicaId: 1n }],
    }),
  );
  const node = toBinary(
    NodeRecordSchema,
    create(NodeRecordSchema, { name: "n1", nodeId: 1n, clientAddress: "c:1" }),
  );
  const entries = [
    { key: enc.encode("_/cluster/config/gc_ttl"), value: enc.encode("25h"), version: 5n },
    { key: enc.encode("_/cluster/nodes/n1"), value: node, version: 6n },
    { key: enc.encode("_/partitions/by-end/\xff"), value: descriptor, version: 7n },
    { key: enc.encode("_/tso"), value: Uint8Array.of(0xff, 0x00), version: 8n },
  ];
  let asked: [string, number] | undefined;
  await withNodes({
    1: {
      metaScan: (prefix, limit) => {
        asked = [dec.decode(prefix), limit];
        return Promise.resolve({ entries, more: true });
      },
    },
  }, async (c) => {
    const res = await admin<MetaListResponse>(
      c,
      1,
      "MetaList",
      create(MetaListRequestSchema, { prefix: enc.encode("_/") }),
    );
    assert.deepEqual(asked, ["_/", 1000]);
    assert.equal(res.more, true);
    assert.deepEqual(res.entries.map((e) => [e.version, e.decoded]), [
      [5n, "25h"],
      [
        6n,
        '{"name":"n1","node_id":1,"peer_address":"","client_address":"c:1","admin_address":"",' +
        '"updated_at_ms":0,"incarnation":""}',
      ],
      [
        7n,
        '{"range_id":2,"start":"","end":"_/","generation":3,' +
        '"replicas":[{"node_id":1,"replica_id":1,"learner":false}]}',
      ],
      [8n, "0xff00"],
    ]);
  });
});

Deno.test("Admin.MetaList and MetaGet refuse keys outside the system keyspace", async () => {
  await withNodes({ 1: {} }, async (c) => {
    const list = (prefix: string, limit = 0) =>
      admin(c, 1, "MetaList", create(MetaListRequestSchema, { prefix: enc.encode(prefix), limit }));
    await refused(
      list("/user"),
      /^Cannot list meta entries as the prefix does not start with '_\/': prefix is '\/user'$/,
    );
    await refused(list(""), /prefix does not start with '_\/': prefix is ''$/);
    await refused(
      list("_/", 10_001),
      /^Cannot list meta entries as the limit exceeds the maximum: limit is 10001, maximum is 10000$/,
    );
    const get = (key: string) =>
      admin(c, 1, "MetaGet", create(MetaGetRequestSchema, { key: enc.encode(key) }));
    await refused(get(""), /^Cannot get the meta entry as the key is empty$/);
    await refused(
      get("/a"),
      /^Cannot get the meta entry as the key does not start with '_\/': key is \/a$/,
    );
  });
});

Deno.test("Admin.MetaGet reads range 1 here or on range 1's nodes", async () => {
  await withNodes({
    1: { metaGet: () => Promise.reject(rangeNotFound()), leaderNodeId: () => 0 },
    2: {
      metaGet: (key) =>
        Promise.resolve(
          dec.decode(key) === "_/cluster/config/replication_factor"
            ? { key, value: enc.encode("3"), version: 9n }
            : undefined,
        ),
    },
  }, async (c) => {
    const get = (key: string) =>
      admin<MetaGetResponse>(
        c,
        1,
        "MetaGet",
        create(MetaGetRequestSchema, { key: enc.encode(key) }),
      );
    const found = await get("_/cluster/config/replication_factor");
    assert.deepEqual([found.found, found.entry?.decoded, found.entry?.version], [true, "3", 9n]);
    assert.equal((await get("_/cluster/config/nothing")).found, false);
    assert.deepEqual(c.received(), ["2:MetaGet", "2:MetaGet"]);
  });
});

Deno.test("Admin methods answer UNAVAILABLE with the reason when range 1 cannot be reached", async () => {
  await withNodes({ 1: { metaGet: () => Promise.reject(rangeNotFound()) } }, async (c) => {
    await assert.rejects(
      admin(c, 1, "MetaGet", create(MetaGetRequestSchema, { key: enc.encode("_/x") })),
      (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.UNAVAILABLE);
        assert.deepEqual(err.metadata.get(ERROR_CODE_KEY), ["UNAVAILABLE"]);
        assert.match(
          err.details,
          /^Cannot get the meta entry as this node holds no replica of range 1 and none of its nodes answered: /,
        );
        return true;
      },
    );
  });
});
