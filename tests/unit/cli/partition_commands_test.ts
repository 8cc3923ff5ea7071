import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  ListPartitionsResponseSchema,
  MergePartitionResponseSchema,
  MetaEntrySchema,
  MetaGetResponseSchema,
  MetaListResponseSchema,
  MigrationSchema,
  RangeStatusSchema,
  SplitPartitionResponseSchema,
} from "../../../proto/gen/rangedb/v1/admin_pb.ts";
import { parseClientArgs, UsageError } from "../../../src/cli/cli_args.ts";
import { type Cli, cliAgainst } from "./_memory_cli.ts";
import { humanBytes } from "../../../src/cli/partition_output.ts";
import { FakeCluster, status } from "../client/_fake_cluster.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function withCluster(fn: (c: FakeCluster, cli: Cli) => Promise<void>) {
  const cluster = await FakeCluster.start(1);
  const cli = cliAgainst(cluster.addresses()[0]);
  try {
    await fn(cluster, cli);
  } finally {
    cluster.stop();
  }
}

function range(id: number, start: string | Uint8Array, end: string | Uint8Array, extra = {}) {
  return create(RangeStatusSchema, {
    rangeId: BigInt(id),
    start: typeof start === "string" ? enc.encode(start) : start,
    end: typeof end === "string" ? enc.encode(end) : end,
    generation: 3n,
    voters: [1n, 2n, 3n],
    ...extra,
  });
}

const RANGES = [
  range(2, "", "/m", {
    leaderNodeId: 1n,
    liveKeys: 1200n,
    liveBytes: 4_404_019n,
    writesPerSecond: 12.25,
  }),
  range(5, "/m", Uint8Array.of(0x2f, 0x6e, 0xff), { learners: [4n], frozenIntoRangeId: 1n }),
  range(1, "_/", "", { leaderNodeId: 2n, liveBytes: 512n }),
];

Deno.test("parseClientArgs() takes the partition and meta commands and their flags", () => {
  const list = parseClientArgs(["admin", "partition", "list", "--show-migrations"], {});
  assert.deepEqual([list.spec?.name, list.showMigrations], ["admin partition list", true]);
  const merge = parseClientArgs(["admin", "partition", "merge", "7", "-y", "--dry-run"], {});
  assert.deepEqual([merge.args, merge.yes, merge.dryRun], [["7"], true, true]);
  const meta = parseClientArgs(["admin", "meta", "list", "_/partitions/", "--limit", "5"], {});
  assert.deepEqual([meta.spec?.name, meta.args, meta.limit], [
    "admin meta list",
    ["_/partitions/"],
    5,
  ]);
  const refusals: [string[], RegExp][] = [
    [
      ["admin", "partition", "split", "/k", "--yes"],
      /^Cannot use --yes with 'admin partition split'/,
    ],
    [
      ["admin", "partition", "list", "--dry-run"],
      /^Cannot use --dry-run with 'admin partition list'/,
    ],
    [
      ["admin", "partition", "merge", "0"],
      /^Cannot parse RANGE_ID as it is not a positive whole number: got '0'$/,
    ],
    [["admin", "partition", "merge", "2x"], /got '2x'$/],
    [
      ["admin", "partition", "split"],
      /^Cannot run 'admin partition split' as it takes 1 argument: got 0$/,
    ],
    [["admin", "meta", "get", "_/a", "--show-migrations"], /^Cannot use --show-migrations/],
  ];
  for (const [argv, message] of refusals) {
    assert.throws(() => parseClientArgs(argv, {}), (err) => {
      assert.ok(err instanceof UsageError, argv.join(" "));
      assert.match(err.message, message);
      return true;
    });
  }
});

Deno.test("runClientCommand() admin partition list prints a table, migrations and JSON", async () => {
  await withCluster(async (c, cli) => {
    c.nodes[0].handlers.ListPartitions = (r: { showMigrations: boolean }) =>
      create(ListPartitionsResponseSchema, {
        partitions: RANGES,
        migrations: r.showMigrations
          ? [create(MigrationSchema, {
            kind: "split",
            rangeId: 2n,
            key: enc.encode("/g"),
            state: "splitting",
            startedAtMs: BigInt(Date.now() - 3_000),
            reason: "size",
            nodeId: 1n,
          })]
          : [],
      });
    const table = await cli(["admin", "partition", "list"]);
    assert.equal(table.code, 0, table.stderr);
    assert.equal(
      table.stdout,
      [
        "RANGE       START  END     LEADER  REPLICAS          KEYS  SIZE     WRITES/S  GEN",
        "2           -      /m      1       1,2,3             1200  4.2 MiB  12.3      3",
        "5 (frozen)  /m     /n\\xff  none    1,2,3,4(learner)  0     0 B      0.0       3",
        "1           _/     +inf    2       1,2,3             0     512 B    0.0       3",
        "",
      ].join("\n"),
    );
    const withMigrations = await cli(["admin", "partition", "list", "--show-migrations"]);
    assert.match(
      withMigrations.stdout,
      /\n\nKIND\s+RANGE\s+OTHER\s+KEY\s+STATE\s+REASON\s+NODE\s+AGE\nsplit\s+2\s+-\s+\/g\s+splitting\s+size\s+1\s+3s\n$/,
    );
    const json = JSON.parse((await cli(["admin", "partition", "list", "-o", "json"])).stdout);
    assert.equal(json.migrations, undefined);
    assert.deepEqual(json.partitions[1], {
      range_id: 5,
      start: "/m",
      end_base64: "L27/",
      generation: 3,
      voters: [1, 2, 3],
      learners: [4],
      leader_node_id: 0,
      leader_client_address: "",
      live_keys: 0,
      live_bytes: 0,
      writes_per_second: 0,
      frozen_into_range_id: 1,
    });
  });
});

Deno.test("runClientCommand() admin partition split prints the outcome or what a dry run would do", async () => {
  const asked: string[] = [];
  await withCluster(async (c, cli) => {
    c.nodes[0].handlers.SplitPartition = (r: { key: Uint8Array; dryRun: boolean }) => {
      asked.push(`${dec.decode(r.key)} ${r.dryRun}`);
      return create(SplitPartitionResponseSchema, {
        left: range(r.dryRun ? 0 : 7, "", "/m"),
        right: range(2, "/m", "_/"),
        dryRun: r.dryRun,
      });
    };
    assert.deepEqual(await cli(["admin", "partition", "split", "/m"]), {
      code: 0,
      stdout: "OK split range 2 at /m: range 7 [-, /m), range 2 [/m, _/)\n",
      stderr: "",
    });
    assert.equal(
      (await cli(["admin", "partition", "split", "/m", "--dry-run"])).stdout,
      "Would split range 2 at /m: a new range [-, /m), range 2 [/m, _/)\n",
    );
    const json = JSON.parse(
      (await cli(["admin", "partition", "split", "/m", "-o", "json"])).stdout,
    );
    assert.deepEqual([json.dry_run, json.left.range_id, json.right.start], [false, 7, "/m"]);
    assert.deepEqual(asked, ["/m false", "/m true", "/m false"]);
  });
});

Deno.test("runClientCommand() reports a refused split as one line, or a JSON error", async () => {
  await withCluster(async (c, cli) => {
    c.nodes[0].handlers.SplitPartition = () => {
      throw status(
        grpc.status.INVALID_ARGUMENT,
        "Cannot split partition as the key is a range boundary: key is /m",
        {
          "rangedb-error-code": "INVALID_ARGUMENT",
        },
      );
    };
    assert.deepEqual(await cli(["admin", "partition", "split", "/m"]), {
      code: 1,
      stdout: "",
      stderr:
        "rangedb: Cannot split partition as the key is a range boundary: key is /m (INVALID_ARGUMENT)\n",
    });
    const json = await cli(["admin", "partition", "split", "/m", "-o", "json"]);
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stderr).error.code, "INVALID_ARGUMENT");
  });
});

Deno.test("runClientCommand() admin partition merge needs --yes or a terminal's confirmation", async () => {
  const asked: string[] = [];
  await withCluster(async (c, cli) => {
    c.nodes[0].handlers.MergePartition = (r: { rangeId: bigint; dryRun: boolean }) => {
      asked.push(`${r.rangeId} ${r.dryRun}`);
      return create(MergePartitionResponseSchema, {
        merged: range(2, "/a", "/z"),
        subsumedRangeId: r.rangeId,
        dryRun: r.dryRun,
      });
    };
    // No terminal, no --yes: refused before connecting.
    const refused = await cli(["admin", "partition", "merge", "5"]);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /^rangedb: Cannot run 'admin partition merge' without confirmation as standard input is not a terminal: pass --yes to confirm, or --dry-run to see what it would do; see 'rangedb admin partition merge --help' \(INVALID_ARGUMENT\)\n$/,
    );
    assert.deepEqual(c.nodes[0].calls, []);
    assert.deepEqual(await cli(["admin", "partition", "merge", "5", "--dry-run"]), {
      code: 0,
      stdout: "Would merge range 5 into range 2, which would then cover [/a, /z)\n",
      stderr: "",
    });
    assert.deepEqual(await cli(["admin", "partition", "merge", "5", "--yes"]), {
      code: 0,
      stdout: "OK merged range 5 into range 2, which now covers [/a, /z)\n",
      stderr: "",
    });
    assert.deepEqual(asked, ["5 true", "5 false"]);
    asked.length = 0;
    const declined = await cli(["admin", "partition", "merge", "5"], ["n"]);
    assert.deepEqual([declined.code, declined.stdout], [1, ""]);
    assert.equal(
      declined.stderr,
      "Range 5 will be merged into range 2, which will then cover [/a, /z). Continue? [y/N] " +
        "rangedb: Cannot merge range 5 as it was not confirmed (CANCELLED)\n",
    );
    assert.deepEqual(asked, ["5 true"]);
    const confirmed = await cli(["admin", "partition", "merge", "5", "-o", "json"], ["yes"]);
    assert.equal(confirmed.code, 0);
    assert.deepEqual(JSON.parse(confirmed.stdout).subsumed_range_id, 5);
    assert.deepEqual(asked, ["5 true", "5 true", "5 false"]);
  });
});

Deno.test("runClientCommand() admin meta list and get print decoded entries", async () => {
  const entry = (key: string | Uint8Array, value: string, decoded: string) =>
    create(MetaEntrySchema, {
      key: typeof key === "string" ? enc.encode(key) : key,
      value: enc.encode(value),
      decoded,
      version: 12n,
    });
  const byEnd = Uint8Array.of(...enc.encode("_/partitions/by-end/"), 0xff);
  await withCluster(async (c, cli) => {
    let limit = -1;
    c.nodes[0].handlers.MetaList = (r: { limit: number }) => {
      limit = r.limit;
      return create(MetaListResponseSchema, {
        entries: [
          entry("_/cluster/config/gc_ttl", "25h", "25h"),
          entry(byEnd, "x", '{"range_id":1}'),
          entry("_/note", "a\tb", "a\tb"),
        ],
        more: true,
      });
    };
    c.nodes[0].handlers.MetaGet = (r: { key: Uint8Array }) =>
      dec.decode(r.key) === "_/cluster/config/gc_ttl"
        ? create(MetaGetResponseSchema, { found: true, entry: entry(r.key, "25h", "25h") })
        : create(MetaGetResponseSchema);
    assert.deepEqual(await cli(["admin", "meta", "list", "_/", "--limit", "3"]), {
      code: 0,
      stdout:
        '_/cluster/config/gc_ttl\t25h\n_/partitions/by-end/\\xff\t{"range_id":1}\n_/note\ta\\tb\n',
      stderr: "rangedb: showing the first 3 entries; more exist (raise --limit)\n",
    });
    assert.equal(limit, 3);
    const json = JSON.parse((await cli(["admin", "meta", "list", "_/", "-o", "json"])).stdout);
    assert.equal(json.more, true);
    assert.deepEqual(json.entries[0], {
      key: "_/cluster/config/gc_ttl",
      value: "25h",
      decoded: "25h",
      version: "12",
    });
    assert.equal(json.entries[1].key_base64, "Xy9wYXJ0aXRpb25zL2J5LWVuZC//");
    assert.deepEqual(await cli(["admin", "meta", "get", "_/cluster/config/gc_ttl"]), {
      code: 0,
      stdout: "25h\n",
      stderr: "",
    });
    assert.deepEqual(await cli(["admin", "meta", "get", "_/nothing"]), {
      code: 1,
      stdout: "",
      stderr: "rangedb: Key not found: _/nothing (NOT_FOUND)\n",
    });
    const missing = await cli(["admin", "meta", "get", "_/nothing", "-o", "json"]);
    assert.deepEqual([missing.code, JSON.parse(missing.stdout)], [1, {
      found: false,
      key: "_/nothing",
    }]);
  });
});

Deno.test("humanBytes() prints binary units with one decimal", () => {
  const cases: [number, string][] = [
    [0, "0 B"],
    [1023, "1023 B"],
    [1024, "1.0 KiB"],
    [4_404_019, "4.2 MiB"],
    [64 * 1024 ** 3, "64.0 GiB"],
    [3 * 1024 ** 5, "3.0 PiB"],
  ];
  for (const [bytes, text] of cases) assert.equal(humanBytes(bytes), text);
});
