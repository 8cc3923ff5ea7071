import { freePorts } from "../harness/cluster_support.ts";
import assert from "node:assert/strict";
import { withCluster } from "../harness/cluster.ts";
import { runCli } from "../harness/node_process.ts";

Deno.test("rangedb put, get, delete, range, batch and cas work against a 3-node cluster", async () => {
  await withCluster({ nodes: 3 }, async (cluster) => {
    await cluster.waitAllReady();
    const e = [`--endpoints=${cluster.clientAddresses().join(",")}`];
    const put = await runCli(["put", "/user/123", '{"name": "John"}', ...e]);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, /^OK version=\d+\n$/);
    const get = await runCli(["get", "/user/123", ...e]);
    assert.deepEqual([get.code, get.stdout], [0, '{"name": "John"}']);

    const batch = await runCli(["batch", "put", "/user/1", "a", "/user/2", "b", ...e]);
    assert.equal(batch.code, 0, batch.stderr);
    const mixed = await runCli(["batch", "put", "/user/3", "c", "delete", "/user/123", ...e]);
    assert.equal(mixed.code, 0, mixed.stderr);
    const range = await runCli(["range", "/user/", "/user/z", "--limit", "100", ...e]);
    assert.equal(range.stdout, "/user/1\ta\n/user/2\tb\n/user/3\tc\n");
    const json = await runCli(["range", "/user/", "--reverse", "-o", "json", ...e]);
    assert.deepEqual(JSON.parse(json.stdout).map((p: { key: string }) => p.key), [
      "/user/3",
      "/user/2",
      "/user/1",
    ]);

    assert.equal((await runCli(["delete", "/user/1", ...e])).stdout, "OK deleted=true\n");
    const missing = await runCli(["get", "/user/1", ...e]);
    assert.deepEqual(
      [missing.code, missing.stderr],
      [1, "rangedb: Key not found: /user/1 (NOT_FOUND)\n"],
    );
    const missingJson = await runCli(["get", "/user/1", "-o", "json", ...e]);
    assert.equal(JSON.parse(missingJson.stdout).found, false);

    assert.equal((await runCli(["cas", "/lock", "me", "--expect-absent", ...e])).code, 0);
    const refused = await runCli(["cas", "/lock", "you", "x", ...e]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /value differs: value is 'me'/);
    assert.equal((await runCli(["cas", "/lock", "me", "you", ...e])).code, 0);
  });
});

Deno.test("rangedb get reads a write from every node's endpoint, also via RANGEDB_ENDPOINTS", async () => {
  await withCluster({ nodes: 3 }, async (cluster) => {
    await cluster.waitAllReady();
    const [first] = cluster.clientAddresses();
    assert.equal((await runCli(["put", "/k", "v", `--endpoints=${first}`])).code, 0);
    for (const endpoint of cluster.clientAddresses()) {
      const get = await runCli(["get", "/k"], 20_000, { env: { RANGEDB_ENDPOINTS: endpoint } });
      assert.deepEqual([get.code, get.stdout], [0, "v"], `${endpoint}: ${get.stderr}`);
      const stale = await runCli(["get", "/k", "--serializable", `--endpoints=${endpoint}`]);
      assert.equal(stale.code, 0, stale.stderr);
    }
  });
});

Deno.test("rangedb admin cluster status and node list show the three nodes", async () => {
  await withCluster({ nodes: 3 }, async (cluster) => {
    await cluster.waitAllReady();
    const e = [`--endpoints=${cluster.clientAddresses().join(",")}`];
    const status = await runCli(["admin", "cluster", "status", ...e]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^Cluster \S+: healthy, 3 nodes/);
    const nodes = await runCli(["admin", "node", "list", "-o", "json", ...e]);
    const list = JSON.parse(nodes.stdout) as { leader: boolean; client_address: string }[];
    assert.equal(list.length, 3);
    assert.equal(list.filter((n) => n.leader).length, 1);
    assert.deepEqual(
      list.map((n) => n.client_address).sort(),
      [...cluster.clientAddresses()].sort(),
    );
  });
});

Deno.test("rangedb refuses invalid and system keys with INVALID_ARGUMENT on stderr", async () => {
  await withCluster({ nodes: 3 }, async (cluster) => {
    const e = [`--endpoints=${cluster.clientAddresses().join(",")}`];
    for (const key of ["abc", "_/cluster/nodes/x"]) {
      const res = await runCli(["put", key, "v", ...e]);
      assert.equal(res.code, 1);
      assert.equal(res.stdout, "");
      assert.match(res.stderr, /^rangedb: Cannot .* \(INVALID_ARGUMENT\)\n$/);
    }
    const json = await runCli(["put", "abc", "v", "-o", "json", ...e]);
    assert.equal(JSON.parse(json.stderr).error.code, "INVALID_ARGUMENT");
  });
});

Deno.test("rangedb fails with UNAVAILABLE within --timeout when no endpoint is reachable", async () => {
  const address = `127.0.0.1:${freePorts(1, new Set())[0]}`;
  const started = Date.now();
  const res = await runCli(["get", "/k", `--endpoints=${address}`, "--timeout=1s"]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /^rangedb: .*\(UNAVAILABLE\)\n$/);
  assert.ok(Date.now() - started < 10_000);
});

Deno.test("rangedb prints help for every client command and exits 2 on usage errors", async () => {
  const help = await runCli([]);
  assert.equal(help.code, 0);
  for (const command of ["get", "put", "delete", "range", "batch", "cas", "admin cluster status"]) {
    assert.ok(help.stdout.includes(`rangedb ${command}`), command);
    const own = await runCli([...command.split(" "), "--help"]);
    assert.equal(own.code, 0);
    assert.match(own.stdout, new RegExp(`^Usage: rangedb ${command}`));
  }
  const usage = await runCli(["range"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^rangedb: .*; see 'rangedb range --help' \(INVALID_ARGUMENT\)\n$/);
});
