import { freePorts } from "../harness/cluster_support.ts";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { FLAG_NAMES } from "../../src/base/config_flags.ts";
import { HealthClient } from "../../src/rpc/health_service.ts";
import { runCli, startNode } from "../harness/node_process.ts";

function healthCheck(address: string, service = ""): Promise<{ status: number }> {
  const client = new HealthClient(address, grpc.credentials.createInsecure());
  return new Promise<{ status: number }>((resolve, reject) =>
    // deno-lint-ignore no-explicit-any
    (client as any).Check({ service, $typeName: "grpc.health.v1.HealthCheckRequest" }, (
      err: grpc.ServiceError | null,
      res: { status: number },
    ) => (err ? reject(err) : resolve(res)))
  ).finally(() => client.close());
}

Deno.test("rangedb with no arguments prints help and starts nothing", async () => {
  const { code, stdout } = await runCli([]);
  assert.equal(code, 0);
  assert.match(stdout, /Usage:/);
  assert.match(stdout, /rangedb server/);
});

Deno.test("rangedb server --help lists every node flag", async () => {
  const { code, stdout } = await runCli(["server", "--help"]);
  assert.equal(code, 0);
  for (
    const flag of [
      "--peer-address",
      "--client-address",
      "--admin-address",
      "--data-dir",
      "--peers",
      "--join",
      "--cluster-init",
      "--log-level",
      // Flags added to the settings table later must show up too.
      ...FLAG_NAMES.map((name) => `--${name}`),
    ]
  ) {
    assert.ok(stdout.includes(flag), `help lacks ${flag}`);
  }
});

Deno.test("rangedb refuses an unknown command and a bad flag on stderr with a non-zero exit", async () => {
  const unknown = await runCli(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Cannot run 'frobnicate' as it is not a command/);
  const badFlag = await runCli(["server", "--admin-address=nonsense"]);
  assert.equal(badFlag.code, 2);
  assert.match(
    badFlag.stderr,
    /Cannot parse flag --admin-address as it is not host:port: got 'nonsense'/,
  );
});

Deno.test("rangedb server refuses an uninitialised data directory without --cluster-init", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-e2e-" });
  try {
    const { code, stderr } = await runCli([
      "server",
      `--data-dir=${dir}`,
      "--admin-address=127.0.0.1:0",
      "--client-address=127.0.0.1:0",
      "--peer-address=127.0.0.1:0",
    ]);
    assert.equal(code, 1);
    assert.match(stderr, /holds no cluster: pass --cluster-init/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rangedb server serves health on every port and restarts as the same node", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-e2e-" });
  try {
    const first = await startNode(dir);
    let identity;
    try {
      const healthz = await fetch(`${first.adminUrl}/healthz`);
      assert.equal(healthz.status, 200);
      assert.deepEqual(await healthz.json(), { status: "ok" });
      const node = await (await fetch(`${first.adminUrl}/api/v1/node`)).json();
      assert.equal(node.nodeId, 1);
      identity = node.clusterId;
      const missing = await fetch(`${first.adminUrl}/nope`);
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
      assert.equal((await healthCheck(first.clientAddress)).status, 1 /* SERVING */);
      assert.equal((await healthCheck(first.peerAddress)).status, 1 /* SERVING */);
      await assert.rejects(healthCheck(first.clientAddress, "no.such.Service"), /unknown/);
    } finally {
      assert.equal(await first.stop("SIGTERM"), 0);
    }
    assert.match(first.stderr(), /"msg":"node started"/);

    // Same flags again (without --cluster-init too): the node comes back with its identity.
    const second = await startNode(dir, { flags: [] });
    try {
      const node = await (await fetch(`${second.adminUrl}/api/v1/node`)).json();
      assert.equal(node.clusterId, identity);
      assert.equal(node.nodeId, 1);
    } finally {
      await second.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rangedb server refuses a corrupt data directory with a clear error and leaves it untouched", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-e2e-" });
  try {
    const garbage = new TextEncoder().encode("this is not an LMDB file\n".repeat(400));
    await Deno.writeFile(`${dir}/data.mdb`, garbage);
    const { code, stderr } = await runCli([
      "server",
      "--cluster-init",
      `--data-dir=${dir}`,
      "--admin-address=127.0.0.1:0",
      "--client-address=127.0.0.1:0",
      "--peer-address=127.0.0.1:0",
    ]);
    assert.equal(code, 1);
    assert.match(stderr, /CORRUPTION/);
    assert.ok(stderr.includes(dir), `error names the path: ${stderr}`);
    assert.deepEqual(await Deno.readFile(`${dir}/data.mdb`), garbage);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rangedb server accepts --peers naming only itself and restarts with the same flags", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-e2e-" });
  const peer = `127.0.0.1:${freePorts(1, new Set())[0]}`;
  const start = () =>
    startNode(dir, { peerAddress: peer, flags: ["--cluster-init", `--peers=${peer}`] });
  try {
    const first = await start();
    let clusterId;
    try {
      assert.equal(first.peerAddress, peer);
      const node = await (await fetch(`${first.adminUrl}/api/v1/node`)).json();
      clusterId = node.clusterId;
      assert.equal(node.nodeId, 1);
    } finally {
      assert.equal(await first.stop("SIGTERM"), 0);
    }
    const second = await start();
    try {
      const node = await (await fetch(`${second.adminUrl}/api/v1/node`)).json();
      assert.equal(node.clusterId, clusterId);
    } finally {
      await second.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
