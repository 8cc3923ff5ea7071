/**
 * The operator's view of a real node: Prometheus metrics on the admin port and gRPC server
 * reflection on the client port (what grpcurl uses), on a single-node cluster.
 */
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { GrpcReflection } from "grpc-js-reflection-client";
import { connect } from "../../src/client/mod.ts";
import { withCluster } from "../harness/cluster.ts";

/** The value of the first sample of `family` whose labels contain every `labels` pair. */
function sample(text: string, family: string, labels: string[] = []): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(family + "{") && !line.startsWith(family + " ")) continue;
    if (labels.every((l) => line.includes(l))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

Deno.test("rangedb server exports request, raft and fsync metrics and answers reflection", async () => {
  await withCluster({ nodes: 1 }, async (cluster) => {
    await cluster.waitAllReady();
    const node = cluster.nodes[0];
    const db = await connect({ endpoints: [node.client] });
    try {
      for (let i = 0; i < 5; i++) await db.put(`/metrics/${i}`, "v");
      assert.equal(await db.getText("/metrics/4"), "v");
    } finally {
      db.close();
    }
    const res = await fetch(`${node.adminUrl}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
    const text = await res.text();
    assert.ok(
      (sample(text, "rangedb_grpc_requests_total", ['method="Put"', 'code="OK"']) ?? 0) >= 5,
      "put requests counted",
    );
    assert.ok((sample(text, "rangedb_grpc_request_seconds_count", ['method="Get"']) ?? 0) >= 1);
    assert.ok((sample(text, "rangedb_raft_proposals_total") ?? 0) >= 5, "proposals counted");
    assert.ok((sample(text, "rangedb_raft_term") ?? 0) >= 1, "raft term exported");
    assert.ok((sample(text, "rangedb_raft_leader_changes_total") ?? 0) >= 1);
    assert.equal(sample(text, "rangedb_raft_is_leader"), 1);
    assert.ok(sample(text, "rangedb_raft_apply_lag_entries") !== undefined, "apply lag exported");
    assert.ok(
      (sample(text, "rangedb_storage_batch_write_seconds_count") ?? 0) >= 5,
      "fsyncs timed",
    );

    const reflection = new GrpcReflection(node.client, grpc.credentials.createInsecure());
    try {
      const services = await reflection.listServices();
      for (const s of ["rangedb.v1.KV", "rangedb.v1.Admin", "grpc.health.v1.Health"]) {
        assert.ok(services.includes(s), `${s} listed: ${services}`);
      }
      const methods = (await reflection.listMethods("rangedb.v1.KV")).map((m) => m.name).sort();
      assert.deepEqual(methods, ["Batch", "CompareAndSwap", "Delete", "Get", "Put", "Range"]);
    } finally {
      (reflection as unknown as { client: grpc.Client }).client.close();
    }
  });
});
