import assert from "node:assert/strict";
import {
  camelCase,
  formatSettingValue,
  parseSettingValue,
  type Setting,
  SETTINGS,
} from "../../../src/base/config.ts";
import { DEFAULT_KEY_LIMITS } from "../../../src/base/key_limits.ts";

Deno.test("SETTINGS defaults are valid values of their own settings", () => {
  for (const [name, setting] of Object.entries(SETTINGS) as [string, Setting][]) {
    const text = formatSettingValue(setting, setting.default as never);
    const parsed = parseSettingValue(setting, text);
    if (setting.type === "addresses" && text === "") {
      assert.deepEqual(parsed, { ok: true, value: [] }, name);
      continue;
    }
    assert.deepEqual(parsed, { ok: true, value: setting.default }, name);
  }
});

Deno.test("SETTINGS names follow the scope's convention and are unique in camelCase", () => {
  const camel = new Set<string>();
  for (const [name, setting] of Object.entries(SETTINGS) as [string, Setting][]) {
    assert.match(name, setting.scope === "flag" ? /^[a-z]+(-[a-z]+)*$/ : /^[a-z]+(_[a-z]+)*$/);
    camel.add(camelCase(name));
  }
  assert.equal(camel.size, Object.keys(SETTINGS).length);
});

Deno.test("SETTINGS key size defaults come from DEFAULT_KEY_LIMITS", () => {
  assert.equal(SETTINGS.max_key_bytes.default, DEFAULT_KEY_LIMITS.maxKeyBytes);
  assert.equal(SETTINGS.max_value_bytes.default, DEFAULT_KEY_LIMITS.maxValueBytes);
});

Deno.test("camelCase() converts kebab-case and snake_case", () => {
  assert.equal(camelCase("peer-address"), "peerAddress");
  assert.equal(camelCase("raft_election_tick"), "raftElectionTick");
  assert.equal(camelCase("join"), "join");
});

Deno.test("parseSettingValue() parses each type and reports the problem", () => {
  const s = SETTINGS;
  const table: [Setting, string, unknown][] = [
    [s.replication_factor, "5", 5],
    [s.replication_factor, "0", "it is below the minimum of 1"],
    [s.replication_factor, "2.5", "it is not an integer"],
    [s.replication_factor, "three", "it is not a number"],
    [s.replication_factor, "", "it is not a number"],
    [s.gc_ttl, "30m", 1_800_000],
    [s.gc_ttl, "30s", "it is below the minimum of 1m"],
    [s.gc_ttl, "soon", "it is not a duration such as 25h, 30m or 500ms"],
    [s.raft_tick_interval, "11s", "it is above the maximum of 10s"],
    [s.range_max_bytes, "1GiB", 1024 ** 3],
    [s.range_max_bytes, "1KiB", "it is below the minimum of 64KiB"],
    [s.range_max_bytes, "big", "it is not a byte size such as 512MiB or 4096"],
    [s["log-level"], "debug", "debug"],
    [s["log-level"], "trace", "it is not one of debug, info, warn, error"],
    [s["cluster-init"], "true", true],
    [s["cluster-init"], "false", false],
    [s["cluster-init"], "yes", "it is not true or false"],
    [s["data-dir"], "/var/lib/rangedb", "/var/lib/rangedb"],
    [s["data-dir"], "", "it is empty"],
    [s["admin-address"], "[::1]:80", "[::1]:80"],
    [s["admin-address"], "x", "it is not host:port"],
    [s.join, "a:1, b:2", ["a:1", "b:2"]],
    [s.join, "", []],
    [s.join, "a:1,", "it is not a comma-separated list of host:port"],
  ];
  for (const [setting, raw, want] of table) {
    const got = parseSettingValue(setting, raw);
    const expected = typeof want === "string" && want.startsWith("it is")
      ? { ok: false, problem: want }
      : { ok: true, value: want };
    assert.deepEqual(got, expected, `${setting.type} ${JSON.stringify(raw)}`);
  }
});
