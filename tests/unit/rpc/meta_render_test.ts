import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { renderMetaValue, textOrHex } from "../../../src/rpc/meta_render.ts";
import { RangeDescriptorSchema } from "../../../proto/gen/rangedb/v1/command_pb.ts";

const enc = new TextEncoder();

Deno.test("renderMetaValue() decodes by key and falls back to text or hex", () => {
  const descriptor = toBinary(
    RangeDescriptorSchema,
    create(RangeDescriptorSchema, {
      rangeId: 9n,
      start: Uint8Array.of(0x2f, 0x61, 0x5c),
      end: Uint8Array.of(0xff),
      generation: 2n,
      replicas: [{ nodeId: 2n, replicaId: 2n, learner: true }],
    }),
  );
  const cases: [string, Uint8Array, string][] = [
    [
      "_/raft/groups/00000000000000000009",
      descriptor,
      '{"range_id":9,"start":"/a\\\\\\\\","end":"\\\\xff","generation":2,' +
      '"replicas":[{"node_id":2,"replica_id":2,"learner":true}]}',
    ],
    // Not a descriptor although its key promises one: shown as bytes.
    ["_/partitions/00000000000000000009", Uint8Array.of(0xff, 0xff, 0xff), "0xffffff"],
    ["_/cluster/config/range_max_bytes", enc.encode("64MiB"), "64MiB"],
    ["_/other", enc.encode("héllo"), "héllo"],
    ["_/other", new Uint8Array(), ""],
  ];
  for (const [key, value, want] of cases) {
    assert.equal(renderMetaValue(enc.encode(key), value), want, key);
  }
  assert.equal(textOrHex(Uint8Array.of(0xc3)), "0xc3");
});
