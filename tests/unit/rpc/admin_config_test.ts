import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, RangeDbError } from "../../../src/base/errors.ts";
import { clusterSettingOf } from "../../../src/rpc/admin_config.ts";
import { ADMIN_SERVICE_DEFINITION } from "../../../src/rpc/admin_service.ts";
import {
  GetConfigRequestSchema,
  type GetConfigResponse,
  SetConfigRequestSchema,
  type SetConfigResponse,
} from "../../../proto/gen/rangedb/v1/admin_pb.ts";
import { callUnary } from "./_grpc_fixture.ts";
import { clientOf, type FixtureCluster, withNodes } from "./_cluster_fixture.ts";

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

Deno.test("clusterSettingOf() shows the stored value normalized, else the default", () => {
  const stored = new Map([["range_max_bytes", "1048576"], ["gc_ttl", "nonsense"]]);
  assert.deepEqual(
    [clusterSettingOf("range_max_bytes", stored)].map((s) => [s.value, s.defaultValue, s.isSet]),
    [["1MiB", "64MiB", true]],
  );
  const unset = clusterSettingOf("replication_factor", stored);
  assert.deepEqual([unset.value, unset.defaultValue, unset.isSet], ["3", "3", false]);
  assert.equal(clusterSettingOf("gc_ttl", stored).value, "nonsense", "unparsable: as stored");
});

Deno.test("Admin.GetConfig and SetConfig read and write range 1 here or on range 1's nodes", async () => {
  const stored = new Map<string, string>([["range_max_bytes", "1MiB"]]);
  const writes: string[] = [];
  await withNodes({
    1: {
      clusterSettings: () => Promise.reject(rangeNotFound()),
      setClusterSetting: () => Promise.reject(rangeNotFound()),
      leaderNodeId: () => 0,
    },
    2: {
      clusterSettings: () => Promise.resolve(new Map(stored)),
      setClusterSetting: (name, value, options) => {
        writes.push(`${name}=${value}${options?.dryRun ? " (dry run)" : ""}`);
        if (!options?.dryRun) stored.set(name, value);
        return Promise.resolve();
      },
    },
  }, async (c) => {
    const all = await admin<GetConfigResponse>(
      c,
      1,
      "GetConfig",
      create(GetConfigRequestSchema),
    );
    const max = all.settings.find((s) => s.name === "range_max_bytes");
    assert.deepEqual([max?.value, max?.isSet], ["1MiB", true]);
    assert.ok(all.settings.some((s) => s.name === "range_merge_delay" && !s.isSet));
    const dry = await admin<SetConfigResponse>(
      c,
      1,
      "SetConfig",
      create(SetConfigRequestSchema, { name: "range_merge_delay", value: "1s", dryRun: true }),
    );
    assert.deepEqual(
      [dry.previous?.value, dry.current?.value, dry.dryRun],
      ["5m", "1s", true],
    );
    const set = await admin<SetConfigResponse>(
      c,
      1,
      "SetConfig",
      create(SetConfigRequestSchema, { name: "range_merge_delay", value: "1000ms" }),
    );
    assert.deepEqual([set.previous?.isSet, set.current?.value], [false, "1s"]);
    assert.deepEqual(writes, ["range_merge_delay=1s (dry run)", "range_merge_delay=1000ms"]);
    const one = await admin<GetConfigResponse>(
      c,
      1,
      "GetConfig",
      create(GetConfigRequestSchema, { name: "range_merge_delay" }),
    );
    assert.deepEqual(one.settings.map((s) => [s.name, s.value]), [["range_merge_delay", "1s"]]);
    assert.deepEqual(c.received(), ["2:GetConfig", "2:SetConfig", "2:SetConfig", "2:GetConfig"]);
  });
});

Deno.test("Admin.SetConfig refuses unknown settings and bad values before reaching the store", async () => {
  await withNodes({ 1: {} }, async (c) => {
    const cases: [string, string, RegExp][] = [
      ["no_such", "1", /^Cannot use setting "no_such" as no such cluster setting exists/],
      ["range_max_bytes", "", /^Cannot set cluster setting range_max_bytes as the value is empty$/],
      ["range_max_bytes", "1KiB", /^Cannot parse cluster setting range_max_bytes as it is below/],
      ["replication_factor", "three", /^Cannot parse cluster setting replication_factor as /],
    ];
    for (const [name, value, message] of cases) {
      await assert.rejects(
        admin(c, 1, "SetConfig", create(SetConfigRequestSchema, { name, value })),
        (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.INVALID_ARGUMENT, err.details);
          assert.match(err.details, message);
          return true;
        },
      );
    }
    await assert.rejects(
      admin(c, 1, "GetConfig", create(GetConfigRequestSchema, { name: "nope" })),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT,
    );
  });
});
