import assert from "node:assert/strict";
import {
  CLUSTER_SETTING_NAMES,
  clusterConfigFrom,
  clusterConfigKey,
  clusterSettingFromKey,
  defaultClusterConfig,
  formatClusterSetting,
  parseClusterSetting,
  withClusterSetting,
} from "../../../src/base/config_cluster.ts";
import { isRangeDbError, RangeDbError } from "../../../src/base/errors.ts";

function invalid(message: string) {
  return (e: unknown) => {
    assert.ok(isRangeDbError(e, "INVALID_ARGUMENT"), String(e));
    assert.equal((e as RangeDbError).message, message);
    return true;
  };
}

Deno.test("defaultClusterConfig() holds the documented defaults", () => {
  const config = defaultClusterConfig();
  assert.equal(config.replicationFactor, 3);
  assert.equal(config.gcTtl, 25 * 3_600_000);
  assert.equal(config.rangeMaxBytes, 64 * 1024 * 1024);
  assert.equal(config.maxKeyBytes, 4096);
  assert.equal(config.maxValueBytes, 8 * 1024 * 1024);
  assert.equal(Object.keys(config).length, CLUSTER_SETTING_NAMES.length);
});

Deno.test("clusterConfigKey() and clusterSettingFromKey() map names and keys both ways", () => {
  assert.equal(clusterConfigKey("gc_ttl"), "_/cluster/config/gc_ttl");
  for (const name of CLUSTER_SETTING_NAMES) {
    assert.equal(clusterSettingFromKey(clusterConfigKey(name)), name);
  }
  assert.equal(clusterSettingFromKey("_/cluster/config/unknown"), undefined);
  assert.equal(clusterSettingFromKey("_/partitions/gc_ttl"), undefined);
  assert.equal(clusterSettingFromKey("_/cluster/config/peer-address"), undefined);
});

Deno.test("parseClusterSetting() parses stored text and names bad values", () => {
  assert.equal(parseClusterSetting("gc_ttl", "30m"), 1_800_000);
  assert.equal(parseClusterSetting("range_max_bytes", "1GiB"), 1024 ** 3);
  assert.throws(
    () => parseClusterSetting("replication_factor", "0"),
    invalid(
      "Cannot parse cluster setting replication_factor as it is below the minimum of 1: got '0'",
    ),
  );
  assert.throws(
    () => parseClusterSetting("log-level", "info"),
    (e) => isRangeDbError(e, "INVALID_ARGUMENT") && /no such setting exists/.test(e.message),
  );
});

Deno.test("formatClusterSetting() writes text that parses back", () => {
  assert.equal(formatClusterSetting("gc_ttl", 25 * 3_600_000), "25h");
  assert.equal(formatClusterSetting("range_max_bytes", 512 * 1024 * 1024), "512MiB");
  assert.equal(parseClusterSetting("gc_ttl", formatClusterSetting("gc_ttl", 90_000)), 90_000);
});

Deno.test("clusterConfigFrom() applies stored values over defaults and skips unknown names", () => {
  const config = clusterConfigFrom([
    ["replication_factor", "5"],
    ["gc_ttl", "1h"],
    ["from_a_newer_version", "whatever"],
  ]);
  assert.deepEqual(config, { ...defaultClusterConfig(), replicationFactor: 5, gcTtl: 3_600_000 });
  assert.deepEqual(clusterConfigFrom(new Map()), defaultClusterConfig());
});

Deno.test("clusterConfigFrom() refuses an invalid stored value", () => {
  assert.throws(
    () => clusterConfigFrom([["gc_ttl", "forever"]]),
    (e) => isRangeDbError(e, "INVALID_ARGUMENT") && e.message.includes("gc_ttl"),
  );
});

Deno.test("withClusterSetting() checks combinations of settings", () => {
  const base = defaultClusterConfig();
  assert.equal(withClusterSetting(base, "range_min_bytes", "1MiB").rangeMinBytes, 1024 * 1024);
  assert.throws(
    () => withClusterSetting(base, "range_min_bytes", "64MiB"),
    invalid(
      "Cannot use cluster config as range_min_bytes is not below range_max_bytes: " +
        "range_min_bytes is 64MiB, range_max_bytes is 64MiB",
    ),
  );
  assert.throws(
    () => withClusterSetting(base, "raft_heartbeat_tick", "10"),
    invalid(
      "Cannot use cluster config as raft_election_tick is not above raft_heartbeat_tick: " +
        "raft_election_tick is 10, raft_heartbeat_tick is 10",
    ),
  );
  assert.equal(base.rangeMinBytes, 16 * 1024 * 1024, "the input is not modified");
});
