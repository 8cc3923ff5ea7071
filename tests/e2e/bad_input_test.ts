import { freePorts } from "../harness/cluster_support.ts";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { connect, InvalidArgumentError } from "../../src/client/mod.ts";
import { withCluster } from "../harness/cluster.ts";
import { type CallError, isCallError, KV, NodeGrpc } from "../harness/cluster_grpc.ts";
import { runCli, startNode } from "../harness/node_process.ts";

const enc = new TextEncoder();

function freePort(): number {
  return freePorts(1, new Set())[0];
}

function listenFlags(dir: string, peerPort = 0): string[] {
  return [
    `--data-dir=${dir}`,
    `--peer-address=127.0.0.1:${peerPort}`,
    "--client-address=127.0.0.1:0",
    "--admin-address=127.0.0.1:0",
  ];
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-bad-input-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The contents of every file in `dir` except lock files (which an open may touch). */
async function contents(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || /lock/i.test(entry.name)) continue;
    out.set(entry.name, await Deno.readFile(`${dir}/${entry.name}`));
  }
  return out;
}

/** The `rangedb: …` lines of a refusal; a refusal is exactly one such line. */
function refusal(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l.startsWith("rangedb: "));
  assert.equal(lines.length, 1, `one refusal line on stderr:\n${stderr}`);
  return lines[0];
}

async function rejectsWith(
  call: Promise<unknown>,
  code: grpc.status,
  details?: RegExp,
): Promise<CallError> {
  const err = await call.then(
    () => assert.fail(`the call succeeded; expected ${grpc.status[code]}`),
    (e: unknown) => e,
  );
  assert.ok(isCallError(err), `a grpc error: ${err}`);
  assert.equal(err.code, code, `${grpc.status[err.code]}: ${err.details}`);
  if (details) assert.match(err.details, details);
  return err;
}

Deno.test("rangedb server refuses wrong flags with exit 2 and a message naming the flag", async () => {
  const cases: [string[], RegExp][] = [
    [["--no-such-flag"], /no-such-flag/],
    [["--peer-address=nonsense"], /--peer-address/],
    [["--log-level=loud"], /--log-level/],
    [["--cluster-init", "--join=127.0.0.1:1"], /--cluster-init and --join/],
    [["--peers=not-an-address", "--cluster-init"], /--peers/],
  ];
  await withTempDir(async (dir) => {
    for (const [flags, message] of cases) {
      const out = await runCli(["server", ...listenFlags(dir), ...flags]);
      assert.equal(out.code, 2, `${flags.join(" ")}: ${out.stderr}`);
      assert.match(refusal(out.stderr), message);
    }
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no flag error creates files");
  });
});

Deno.test("rangedb server refuses a busy port with exit 1 and names the flag", async () => {
  for (const flag of ["peer-address", "client-address", "admin-address"]) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    try {
      await withTempDir(async (dir) => {
        const flags = listenFlags(dir).filter((f) => !f.startsWith(`--${flag}=`));
        const out = await runCli([
          "server",
          "--cluster-init",
          ...flags,
          `--${flag}=127.0.0.1:${port}`,
        ]);
        assert.equal(out.code, 1, `--${flag}: ${out.stderr}`);
        const line = refusal(out.stderr);
        assert.ok(line.includes(`--${flag}`), line);
        assert.ok(line.includes(String(port)), line);
      });
    } finally {
      listener.close();
    }
  }
});

Deno.test("rangedb server refuses a data directory locked by a running node", async () => {
  await withTempDir(async (dir) => {
    const running = await startNode(dir);
    try {
      const out = await runCli(["server", ...listenFlags(dir)]);
      assert.equal(out.code, 1, out.stderr);
      assert.match(refusal(out.stderr), /locked/i);
      assert.ok(out.stderr.includes(dir), out.stderr);
      const ready = await fetch(`${running.adminUrl}/readyz`);
      await ready.body?.cancel();
      assert.equal(ready.status, 200, "the running node is unaffected");
    } finally {
      await running.stop();
    }
  });
});

Deno.test("rangedb server refuses a data directory of another cluster and leaves it unchanged", async () => {
  await withTempDir(async (dir) => {
    const peerPort = freePort();
    const first = await startNode(dir, { flags: ["--cluster-init"] });
    const clusterId = (await (await fetch(`${first.adminUrl}/api/v1/node`)).json()).clusterId;
    assert.equal(await first.stop(), 0);
    const before = await contents(dir);

    const own = `127.0.0.1:${peerPort}`;
    const out = await runCli([
      "server",
      ...listenFlags(dir, peerPort),
      "--cluster-init",
      `--peers=${own},127.0.0.1:1,127.0.0.1:2`,
    ]);
    assert.notEqual(out.code, 0, out.stderr);
    assert.match(refusal(out.stderr), /cluster/i);
    assert.deepEqual(await contents(dir), before, "the data directory is unchanged");

    // Its own flags still work: nothing was damaged.
    const again = await startNode(dir, { flags: [] });
    try {
      const info = await (await fetch(`${again.adminUrl}/api/v1/node`)).json();
      assert.equal(info.clusterId, clusterId);
    } finally {
      await again.stop();
    }
  });
});

Deno.test("rangedb server refuses --join with a data directory of another cluster", async () => {
  await withTempDir(async (dir) => {
    await withTempDir(async (otherDir) => {
      const first = await startNode(dir, { flags: ["--cluster-init"] });
      assert.equal(await first.stop(), 0);
      const before = await contents(dir);
      const otherPeer = `127.0.0.1:${freePort()}`;
      const other = await startNode(otherDir, {
        peerAddress: otherPeer,
        flags: ["--cluster-init"],
      });
      try {
        const out = await runCli(["server", ...listenFlags(dir), `--join=${otherPeer}`]);
        assert.equal(out.code, 1, out.stderr);
        assert.match(refusal(out.stderr), /another cluster/);
        assert.deepEqual(await contents(dir), before, "the data directory is unchanged");
      } finally {
        await other.stop();
      }
    });
  });
});

Deno.test("rangedb server refuses a --peers list without its own peer address", async () => {
  await withTempDir(async (dir) => {
    const peerPort = freePort();
    const out = await runCli([
      "server",
      ...listenFlags(dir, peerPort),
      "--cluster-init",
      "--peers=127.0.0.1:1,127.0.0.1:2,127.0.0.1:3",
    ]);
    assert.notEqual(out.code, 0, out.stderr);
    const line = refusal(out.stderr);
    assert.match(line, /--peers/);
    assert.ok(line.includes(`127.0.0.1:${peerPort}`), line);
    assert.deepEqual(await contents(dir), new Map(), "no data written");
  });
});

Deno.test("KV refuses invalid keys and values with INVALID_ARGUMENT, and _/ writes", async () => {
  await withCluster({ nodes: 3, timeoutMs: 90_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const leader = await cluster.leaderIndex();
    for (const i of [leader, (leader + 1) % 3]) {
      const node = new NodeGrpc(cluster.nodes[i].client);
      try {
        const { INVALID_ARGUMENT } = grpc.status;
        const v = enc.encode("v");
        await rejectsWith(
          node.unary(KV.method.put, { key: enc.encode("abc"), value: v }),
          INVALID_ARGUMENT,
          /start with '\/'.*abc|abc.*start with '\/'/,
        );
        await rejectsWith(
          node.unary(KV.method.put, { key: new Uint8Array(), value: v }),
          INVALID_ARGUMENT,
        );
        const long = enc.encode("/" + "k".repeat(4096));
        await rejectsWith(
          node.unary(KV.method.put, { key: long, value: v }),
          INVALID_ARGUMENT,
          /4096/,
        );
        await rejectsWith(
          node.unary(KV.method.get, { key: enc.encode("no-slash") }),
          INVALID_ARGUMENT,
        );
        const system = enc.encode("_/cluster/config/replication_factor");
        await rejectsWith(
          node.unary(KV.method.put, { key: system, value: enc.encode("1") }),
          INVALID_ARGUMENT,
          /system keyspace/,
        );
        await rejectsWith(
          node.unary(KV.method.delete, { key: enc.encode("_/partitions/1") }),
          INVALID_ARGUMENT,
          /system keyspace/,
        );
        await rejectsWith(
          node.unary(KV.method.compareAndSwap, { key: system, expectAbsent: true, value: v }),
          INVALID_ARGUMENT,
          /system keyspace/,
        );
        // A batch is atomic: one bad op refuses all of it.
        const okKey = enc.encode(`/bad-input/batch-${i}`);
        await rejectsWith(
          node.unary(KV.method.batch, {
            ops: [
              { op: { case: "put", value: { key: okKey, value: v } } },
              { op: { case: "put", value: { key: system, value: v } } },
            ],
          }),
          INVALID_ARGUMENT,
          /system keyspace/,
        );
        assert.equal((await node.unary(KV.method.get, { key: okKey })).found, false);
        await rejectsWith(node.unary(KV.method.batch, { ops: [] }), INVALID_ARGUMENT);
        await rejectsWith(
          node.unary(KV.method.compareAndSwap, {
            key: okKey,
            expected: v,
            expectAbsent: true,
            value: v,
          }),
          INVALID_ARGUMENT,
        );
        await rejectsWith(
          node.stream(KV.method.range, { start: enc.encode("/b"), end: enc.encode("/a") }),
          INVALID_ARGUMENT,
        );
      } finally {
        node.close();
      }
    }

    const db = await connect({ endpoints: cluster.clientAddresses() });
    try {
      await assert.rejects(db.put("abc", "v"), InvalidArgumentError);
      await assert.rejects(db.put("_/x", "v"), InvalidArgumentError);
    } finally {
      db.close();
    }
    const cli = await cluster.cli(["put", "_/x", "v"]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /INVALID_ARGUMENT/);
  });
});

Deno.test("KV fails with UNAVAILABLE or DEADLINE_EXCEEDED within the deadline without a quorum", async () => {
  await withCluster({ nodes: 3, timeoutMs: 90_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const db = await connect({ endpoints: cluster.clientAddresses() });
    try {
      await db.put("/quorum/before", "1");
    } finally {
      db.close();
    }
    const survivor = await cluster.leaderIndex();
    await Promise.all(
      [0, 1, 2].filter((i) => i !== survivor).map((i) => cluster.kill(i, "SIGKILL")),
    );
    const quorumLost = new Set<grpc.status>([
      grpc.status.UNAVAILABLE,
      grpc.status.DEADLINE_EXCEEDED,
    ]);
    const node = new NodeGrpc(cluster.nodes[survivor].client);
    try {
      for (const deadlineMs of [3_000, 8_000]) {
        const started = Date.now();
        const err = await node.unary(
          KV.method.put,
          { key: enc.encode("/quorum/after"), value: enc.encode("x") },
          deadlineMs,
        ).then(() => assert.fail("a put succeeded without a quorum"), (e: unknown) => e);
        const elapsed = Date.now() - started;
        assert.ok(isCallError(err), String(err));
        assert.ok(quorumLost.has(err.code), `${grpc.status[err.code]}: ${err.details}`);
        // The server waits for a leader until the call's deadline, never longer.
        assert.ok(elapsed <= deadlineMs + 1_000, `failed after ${elapsed} ms`);
      }
      const started = Date.now();
      await node.unary(KV.method.get, { key: enc.encode("/quorum/before") }, 3_000).then(
        () => assert.fail("a linearizable read succeeded without a quorum"),
        (e: unknown) => assert.ok(isCallError(e) && quorumLost.has(e.code), String(e)),
      );
      assert.ok(Date.now() - started <= 5_000);
      // A serializable read is served by the surviving replica.
      const local = await node.unary(KV.method.get, {
        key: enc.encode("/quorum/before"),
        serializable: true,
      });
      assert.equal(local.found, true);
    } finally {
      node.close();
    }

    const sdk = await connect({ endpoints: [cluster.nodes[survivor].client], timeoutMs: 3_000 });
    try {
      const started = Date.now();
      await assert.rejects(sdk.put("/quorum/sdk", "x", { timeoutMs: 3_000 }));
      assert.ok(Date.now() - started <= 5_000, `SDK put failed after ${Date.now() - started} ms`);
    } finally {
      sdk.close();
    }
    const readyz = await fetch(`${cluster.nodes[survivor].adminUrl}/readyz`);
    await readyz.body?.cancel();
    assert.equal(readyz.status, 503, "a node without a quorum is not ready");
  });
});
