import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import type { CliIo } from "../../../src/cli/cli_io.ts";
import { runClientCommand } from "../../../src/cli/client_main.ts";
import { FakeCluster, status } from "../client/_fake_cluster.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function memoryIo(stdin = "", env: Record<string, string> = {}) {
  const out: Uint8Array[] = [];
  let err = "";
  const io: CliIo = {
    out: (data) => {
      out.push(typeof data === "string" ? enc.encode(data) : data);
      return Promise.resolve();
    },
    err: (text) => {
      err += text;
      return Promise.resolve();
    },
    readStdin: () => Promise.resolve(enc.encode(stdin)),
    outIsTerminal: () => false,
    inIsTerminal: () => false,
    readLine: () => Promise.resolve(""),
    env,
  };
  return { io, stdout: () => out.map((b) => dec.decode(b)).join(""), stderr: () => err };
}

async function withCluster(fn: (c: FakeCluster, endpoints: string) => Promise<void>) {
  const cluster = await FakeCluster.start(2);
  try {
    await fn(cluster, cluster.addresses().join(","));
  } finally {
    cluster.stop();
  }
}

async function cli(argv: string[], stdin = "") {
  const m = memoryIo(stdin);
  const code = await runClientCommand(argv, m.io);
  return { code, stdout: m.stdout(), stderr: m.stderr() };
}

Deno.test("runClientCommand() runs put, get, delete and a missing get", async () => {
  await withCluster(async (_c, endpoints) => {
    const e = ["--endpoints", endpoints];
    const put = await cli(["put", "/user/1", '{"name": "John"}', ...e]);
    assert.equal(put.code, 0);
    assert.match(put.stdout, /^OK version=\d+\n$/);
    assert.deepEqual(await cli(["get", "/user/1", ...e]), {
      code: 0,
      stdout: '{"name": "John"}',
      stderr: "",
    });
    const json = await cli(["get", "/user/1", "-o", "json", ...e]);
    assert.equal(JSON.parse(json.stdout).value, '{"name": "John"}');
    assert.equal((await cli(["delete", "/user/1", ...e])).stdout, "OK deleted=true\n");
    assert.deepEqual(await cli(["get", "/user/1", ...e]), {
      code: 1,
      stdout: "",
      stderr: "rangedb: Key not found: /user/1 (NOT_FOUND)\n",
    });
    const missing = await cli(["get", "/user/1", "-o", "json", ...e]);
    assert.equal(missing.code, 1);
    assert.deepEqual(JSON.parse(missing.stdout), { found: false, key: "/user/1" });
  });
});

Deno.test("runClientCommand() put reads the value from stdin for '-'", async () => {
  await withCluster(async (c, endpoints) => {
    assert.equal(
      (await cli(["put", "/f", "-", "--endpoints", endpoints], "line1\nline2\n")).code,
      0,
    );
    assert.equal(dec.decode(c.store.get("/f")!.value), "line1\nline2\n");
  });
});

Deno.test("runClientCommand() range prints tab-separated lines or a JSON array", async () => {
  await withCluster(async (_c, endpoints) => {
    const e = ["--endpoints", endpoints];
    assert.equal((await cli(["batch", "put", "/a", "1", "/b", "2", "/c", "3", ...e])).code, 0);
    assert.equal((await cli(["range", "/a", "/c", ...e])).stdout, "/a\t1\n/b\t2\n");
    assert.equal(
      (await cli(["range", "/", "--reverse", "--limit", "2", "--keys-only", ...e])).stdout,
      "/c\n/b\n",
    );
    const json = JSON.parse((await cli(["range", "/b", "-o", "json", ...e])).stdout);
    assert.deepEqual(json.map((p: { key: string; value: string }) => [p.key, p.value]), [
      ["/b", "2"],
      ["/c", "3"],
    ]);
    assert.equal((await cli(["batch", "put", "/d", "4", "delete", "/a", ...e])).code, 0);
    assert.equal((await cli(["range", "/", ...e])).stdout, "/b\t2\n/c\t3\n/d\t4\n");
  });
});

Deno.test("runClientCommand() cas succeeds, refuses a mismatch with exit 1, and checks absence", async () => {
  await withCluster(async (_c, endpoints) => {
    const e = ["--endpoints", endpoints];
    assert.match(
      (await cli(["cas", "/lock", "me", "--expect-absent", ...e])).stdout,
      /^OK version=/,
    );
    const taken = await cli(["cas", "/lock", "you", "--expect-absent", ...e]);
    assert.equal(taken.code, 1);
    assert.equal(taken.stderr, "rangedb: Cannot swap /lock as it exists (FAILED_PRECONDITION)\n");
    const differs = await cli(["cas", "/lock", "you", "x", ...e]);
    assert.equal(differs.code, 1);
    assert.match(differs.stderr, /Cannot swap \/lock as its value differs: value is 'me'/);
    const json = await cli(["cas", "/lock", "me", "x", "-o", "json", ...e]);
    assert.equal(json.code, 0);
    assert.equal(JSON.parse(json.stdout).succeeded, true);
    assert.equal((await cli(["cas", "/lock", "x", ...e])).code, 2);
  });
});

Deno.test("runClientCommand() reports server refusals as one line with the code", async () => {
  await withCluster(async (c, endpoints) => {
    for (const node of c.nodes) {
      node.handlers.Put = () => {
        throw status(grpc.status.INVALID_ARGUMENT, "Cannot write key as it does not start with /", {
          "rangedb-error-code": "INVALID_ARGUMENT",
        });
      };
    }
    assert.deepEqual(await cli(["put", "abc", "1", "--endpoints", endpoints]), {
      code: 1,
      stdout: "",
      stderr: "rangedb: Cannot write key as it does not start with / (INVALID_ARGUMENT)\n",
    });
    const json = await cli(["put", "abc", "1", "-o", "json", "--endpoints", endpoints]);
    assert.equal(JSON.parse(json.stderr).error.code, "INVALID_ARGUMENT");
  });
});

Deno.test("runClientCommand() admin commands print tables and JSON", async () => {
  await withCluster(async (_c, endpoints) => {
    const e = ["--endpoints", endpoints];
    const status = await cli(["admin", "cluster", "status", ...e]);
    assert.equal(status.code, 0);
    assert.match(status.stdout, /^Cluster fake: healthy, 2 nodes/);
    const nodes = await cli(["admin", "node", "list", "-o", "json", ...e]);
    assert.deepEqual(JSON.parse(nodes.stdout).map((n: { name: string }) => n.name), [
      "node1",
      "node2",
    ]);
    assert.match((await cli(["admin", "node", "list", ...e])).stdout, /^NAME\s+ID\s+ROLE/);
  });
});

Deno.test("runClientCommand() prints help and usage errors without connecting", async () => {
  const help = await cli(["--help"]);
  assert.equal(help.code, 0);
  for (const word of ["get", "put", "delete", "range", "batch", "cas", "admin cluster status"]) {
    assert.ok(help.stdout.includes(`rangedb ${word}`), word);
  }
  const getHelp = await cli(["get", "--help"]);
  assert.match(getHelp.stdout, /^Usage: rangedb get KEY/);
  const usage = await cli(["put", "/a"]);
  assert.equal(usage.code, 2);
  assert.equal(
    usage.stderr,
    "rangedb: Cannot run 'put' as it takes 2 arguments: got 1; see 'rangedb put --help' (INVALID_ARGUMENT)\n",
  );
  const unknown = await cli(["frobnicate", "/a"]);
  assert.deepEqual([unknown.code, unknown.stderr.split("\n").length], [2, 2]);
  for (const words of [["admin"], ["admin", "node"]]) {
    const group = await cli([...words, "--help"]);
    assert.equal(group.code, 0, words.join(" "));
    assert.match(group.stdout, /rangedb admin node list/, words.join(" "));
    if (words.length === 2) assert.doesNotMatch(group.stdout, /cluster status/);
  }
  const adminHelp = await cli(["admin", "node", "list", "--help"]);
  assert.match(adminHelp.stdout, /^Usage: rangedb admin node list/);
});
