import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  ClusterStatusResponseSchema,
  NodeStatusSchema,
  RangeStatusSchema,
} from "../../../proto/gen/rangedb/v1/admin_pb.ts";
import {
  bytesField,
  clusterStatusJson,
  clusterStatusText,
  errorText,
  formatTable,
  pairJson,
  rangeLine,
  toJson,
} from "../../../src/cli/output.ts";

const enc = new TextEncoder();

Deno.test("bytesField() gives UTF-8 as text and other bytes as base64", () => {
  assert.deepEqual(bytesField("value", enc.encode("héllo")), { value: "héllo" });
  assert.deepEqual(bytesField("value", new Uint8Array([0xff, 0x00])), { value_base64: "/wA=" });
});

Deno.test("rangeLine() escapes separators so each pair stays on one line", () => {
  const pair = { key: enc.encode("/a\tb"), value: enc.encode("x\ny\\z\r"), version: 1n };
  assert.equal(rangeLine(pair, false), "/a\\tb\tx\\ny\\\\z\\r");
  assert.equal(rangeLine(pair, true), "/a\\tb");
  assert.deepEqual(pairJson(pair, true), { key: "/a\tb", version: "1" });
  assert.deepEqual(pairJson({ ...pair, version: 2n ** 60n }, false), {
    key: "/a\tb",
    value: "x\ny\\z\r",
    version: "1152921504606846976",
  });
});

Deno.test("toJson() writes bigints as decimal strings", () => {
  assert.equal(toJson({ version: 2n ** 64n - 1n }), '{\n  "version": "18446744073709551615"\n}');
});

Deno.test("formatTable() pads columns to their widest cell", () => {
  assert.equal(
    formatTable(["NAME", "ID", "ROLE"], [["node-1", "1", "voter"], ["n2", "22", ""]]),
    "NAME    ID  ROLE\nnode-1  1   voter\nn2      22  ",
  );
});

Deno.test("errorText() prints one line with the code, or a JSON error", () => {
  assert.equal(
    errorText("Cannot write key", "INVALID_ARGUMENT", false),
    "rangedb: Cannot write key (INVALID_ARGUMENT)",
  );
  assert.equal(errorText("Bad", undefined, false), "rangedb: Bad");
  assert.deepEqual(JSON.parse(errorText("Bad", "UNAVAILABLE", true)), {
    error: { code: "UNAVAILABLE", message: "Bad" },
  });
});

Deno.test("clusterStatusText() and clusterStatusJson() show health, nodes and ranges", () => {
  const status = create(ClusterStatusResponseSchema, {
    clusterId: "c0ffee",
    answeredBy: "node-1",
    healthy: true,
    replicationFactor: 3n,
    nodes: [
      create(NodeStatusSchema, {
        name: "node-1",
        nodeId: 1n,
        role: "voter",
        leader: true,
        reachable: true,
        clientAddress: "127.0.0.1:7081",
      }),
    ],
    ranges: [
      create(RangeStatusSchema, { rangeId: 1n, voters: [1n, 2n, 3n], leaderNodeId: 1n, term: 4n }),
    ],
  });
  const text = clusterStatusText(status);
  assert.match(
    text,
    /^Cluster c0ffee: healthy, 1 node, replication factor 3 \(answered by node-1\)/,
  );
  assert.match(text, /node-1\s+1\s+voter\s+yes\s+yes\s+127\.0\.0\.1:7081/);
  assert.match(text, /\n1\s+-\s+\+inf\s+1\s+1,2,3\s+4/);
  const json = clusterStatusJson(status);
  assert.equal(json.healthy, true);
  assert.deepEqual((json.nodes as { node_id: number }[])[0].node_id, 1);
  assert.deepEqual((json.ranges as { voters: number[] }[])[0].voters, [1, 2, 3]);
});
