import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  ClusterSettingSchema,
  GetConfigResponseSchema,
  SetConfigResponseSchema,
} from "../../../proto/gen/rangedb/v1/admin_pb.ts";
import { parseClientArgs, UsageError } from "../../../src/cli/cli_args.ts";
import { type Cli, cliAgainst } from "./_memory_cli.ts";
import { isDestructiveChange } from "../../../src/cli/config_commands.ts";
import { FakeCluster } from "../client/_fake_cluster.ts";

/** A fake server holding settings: `stored` is what SetConfig wrote, `calls` every request. */
async function withConfigServer(
  fn: (cli: Cli, stored: Map<string, string>, calls: string[]) => Promise<void>,
) {
  const cluster = await FakeCluster.start(1);
  const stored = new Map<string, string>();
  const calls: string[] = [];
  const defaults: Record<string, string> = { replication_factor: "3", range_max_bytes: "64MiB" };
  const setting = (name: string, value = stored.get(name)) =>
    create(ClusterSettingSchema, {
      name,
      value: value ?? defaults[name],
      defaultValue: defaults[name],
      isSet: value !== undefined,
    });
  cluster.nodes[0].handlers.GetConfig = (r: { name: string }) => {
    calls.push(`get ${r.name}`);
    const names = r.name === "" ? Object.keys(defaults) : [r.name];
    return create(GetConfigResponseSchema, { settings: names.map((n) => setting(n)) });
  };
  cluster.nodes[0].handlers.SetConfig = (r: { name: string; value: string; dryRun: boolean }) => {
    calls.push(`set ${r.name} ${r.value}${r.dryRun ? " dry" : ""}`);
    const previous = setting(r.name);
    if (!r.dryRun) stored.set(r.name, r.value);
    return create(SetConfigResponseSchema, {
      previous,
      current: setting(r.name, r.value),
      dryRun: r.dryRun,
    });
  };
  const cli = cliAgainst(cluster.addresses()[0]);
  try {
    await fn(cli, stored, calls);
  } finally {
    cluster.stop();
  }
}

Deno.test("parseClientArgs() takes admin config get and set with their flags", () => {
  const get = parseClientArgs(["admin", "config", "get"], {});
  assert.deepEqual([get.spec?.name, get.args], ["admin config get", []]);
  const set = parseClientArgs(
    ["admin", "config", "set", "replication_factor", "1", "--yes", "--dry-run"],
    {},
  );
  assert.deepEqual([set.spec?.name, set.args, set.yes, set.dryRun], [
    "admin config set",
    ["replication_factor", "1"],
    true,
    true,
  ]);
  for (
    const [argv, message] of [
      [["admin", "config", "set", "range_max_bytes"], /takes 2 arguments: got 1$/],
      [["admin", "config", "get", "a", "--yes"], /^Cannot use --yes with 'admin config get'/],
    ] as [string[], RegExp][]
  ) {
    assert.throws(() => parseClientArgs(argv, {}), (err) => {
      assert.ok(err instanceof UsageError, argv.join(" "));
      assert.match(err.message, message);
      return true;
    });
  }
});

Deno.test("isDestructiveChange() is true only for a lower replication factor", () => {
  assert.equal(isDestructiveChange("replication_factor", "3", "1"), true);
  assert.equal(isDestructiveChange("replication_factor", "3", "5"), false);
  assert.equal(isDestructiveChange("replication_factor", "3", "3"), false);
  assert.equal(isDestructiveChange("range_max_bytes", "64MiB", "1MiB"), false);
});

Deno.test("runClientCommand() admin config get prints one value, a table or JSON", async () => {
  await withConfigServer(async (cli, stored) => {
    stored.set("range_max_bytes", "1MiB");
    assert.deepEqual(await cli(["admin", "config", "get", "range_max_bytes"]), {
      code: 0,
      stdout: "1MiB\n",
      stderr: "",
    });
    const table = await cli(["admin", "config", "get"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+VALUE\s+DEFAULT\s+SET\n/);
    assert.match(table.stdout, /\nrange_max_bytes\s+1MiB\s+64MiB\s+yes\n/);
    assert.match(table.stdout, /\nreplication_factor\s+3\s+3\s+no\n/);
    const json = await cli(["admin", "config", "get", "replication_factor", "-o", "json"]);
    assert.deepEqual(JSON.parse(json.stdout), {
      name: "replication_factor",
      value: "3",
      default: "3",
      is_set: false,
    });
  });
});

Deno.test("runClientCommand() admin config set writes at once, but lowering replication_factor needs --yes or a confirmation", async () => {
  await withConfigServer(async (cli, stored, calls) => {
    assert.deepEqual(await cli(["admin", "config", "set", "range_max_bytes", "1MiB"]), {
      code: 0,
      stdout: "OK range_max_bytes 64MiB -> 1MiB\n",
      stderr: "",
    });
    assert.equal(stored.get("range_max_bytes"), "1MiB");
    assert.deepEqual(await cli(["admin", "config", "set", "replication_factor", "5"]), {
      code: 0,
      stdout: "OK replication_factor 3 -> 5\n",
      stderr: "",
    });
    calls.length = 0;

    // Lowering without a terminal and without --yes: checked, refused, nothing written.
    const refused = await cli(["admin", "config", "set", "replication_factor", "1"]);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /^rangedb: Cannot run 'admin config set' without confirmation as standard input is not a terminal: pass --yes to confirm, or --dry-run to see what it would do; see 'rangedb admin config set --help' \(INVALID_ARGUMENT\)\n$/,
    );
    assert.equal(stored.get("replication_factor"), "5");
    assert.deepEqual(
      await cli(["admin", "config", "set", "replication_factor", "1", "--dry-run"]),
      {
        code: 0,
        stdout: "Would set replication_factor from 5 to 1\n",
        stderr: "",
      },
    );
    const declined = await cli(["admin", "config", "set", "replication_factor", "1"], ["n"]);
    assert.deepEqual([declined.code, declined.stdout], [1, ""]);
    assert.equal(
      declined.stderr,
      "Lowering replication_factor from 5 to 1 removes replicas of every range. Continue? [y/N] " +
        "rangedb: Cannot set replication_factor as it was not confirmed (CANCELLED)\n",
    );
    assert.equal(stored.get("replication_factor"), "5");
    const confirmed = await cli(["admin", "config", "set", "replication_factor", "2"], ["y"]);
    assert.equal(confirmed.code, 0, confirmed.stderr);
    assert.equal(stored.get("replication_factor"), "2");
    const json = await cli([
      "admin",
      "config",
      "set",
      "replication_factor",
      "1",
      "--yes",
      "-o",
      "json",
    ]);
    assert.deepEqual(JSON.parse(json.stdout), {
      dry_run: false,
      previous: { name: "replication_factor", value: "2", default: "3", is_set: true },
      current: { name: "replication_factor", value: "1", default: "3", is_set: true },
    });
    assert.deepEqual(calls, [
      "set replication_factor 1 dry",
      "set replication_factor 1 dry",
      "set replication_factor 1 dry",
      "set replication_factor 2 dry",
      "set replication_factor 2",
      "set replication_factor 1 dry",
      "set replication_factor 1",
    ]);
  });
});
