import assert from "node:assert/strict";
import { connect } from "../../src/client/mod.ts";
import { withCluster } from "../harness/cluster.ts";
import {
  eventually,
  forEachConcurrently,
  keyOf,
  missingFrom,
  scanPrefix,
  valueOf,
} from "../harness/cluster_workload.ts";

const SDK_KEYS = 10_000;
const SDK_CONCURRENCY = 64;
const CLI_BATCHES = 2;
const CLI_BATCH_SIZE = 500;
const CLI_PUTS = 24;
const CLI_CONCURRENCY = 4;
const SAMPLE_GETS = 200;

Deno.test("TestCluster stores 10,000 keys from the SDK and CLI and every node reads them back", async () => {
  await withCluster({ nodes: 3, timeoutMs: 200_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const expected = new Map<string, Map<string, string>>([
      ["sdk", new Map()],
      ["clibatch", new Map()],
      ["cli", new Map()],
    ]);

    const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 15_000 });
    try {
      const keys = Array.from({ length: SDK_KEYS }, (_, i) => keyOf("sdk", i));
      await forEachConcurrently(keys, SDK_CONCURRENCY, async (key) => {
        await db.put(key, valueOf(key));
        expected.get("sdk")!.set(key, valueOf(key));
      });
    } finally {
      db.close();
    }

    for (let b = 0; b < CLI_BATCHES; b++) {
      const args = ["batch", "put"];
      for (let i = 0; i < CLI_BATCH_SIZE; i++) {
        const key = keyOf("clibatch", b * CLI_BATCH_SIZE + i);
        args.push(key, valueOf(key));
      }
      const out = await cluster.cli(args, { timeoutMs: 60_000 });
      assert.equal(out.code, 0, `batch ${b} failed: ${out.stderr}`);
      for (let i = 2; i < args.length; i += 2) expected.get("clibatch")!.set(args[i], args[i + 1]);
    }
    const cliKeys = Array.from({ length: CLI_PUTS }, (_, i) => keyOf("cli", i));
    await forEachConcurrently(cliKeys, CLI_CONCURRENCY, async (key, i) => {
      // Each put goes through a different node's endpoint.
      const endpoints = [cluster.nodes[i % 3].client];
      const out = await cluster.cli(["put", key, valueOf(key)], { endpoints });
      assert.equal(out.code, 0, `put ${key} failed: ${out.stderr}`);
      assert.match(out.stdout, /OK version=\d+/);
      expected.get("cli")!.set(key, valueOf(key));
    });

    for (const node of cluster.nodes) {
      const one = await connect({ endpoints: [node.client], timeoutMs: 15_000 });
      try {
        for (const [prefix, pairs] of expected) {
          const lin = await scanPrefix(one, prefix);
          assert.equal(lin.size, pairs.size, `node ${node.index} ${prefix} linearizable count`);
          assert.deepEqual(missingFrom(pairs, lin), [], `node ${node.index} ${prefix}`);
        }
        // A linearizable read as a barrier, then the node's own (serializable) view.
        assert.equal(
          await one.getText(keyOf("cli", CLI_PUTS - 1)),
          valueOf(keyOf("cli", CLI_PUTS - 1)),
        );
        for (const [prefix, pairs] of expected) {
          await eventually(
            `${prefix} on node ${node.index} (serializable)`,
            20_000,
            async () => missingFrom(pairs, await scanPrefix(one, prefix, true)),
          );
        }
        const sdk = [...expected.get("sdk")!.keys()];
        const sample = Array.from(
          { length: SAMPLE_GETS },
          (_, i) => sdk[(i * 7919) % sdk.length],
        );
        await forEachConcurrently(sample, 16, async (key) => {
          assert.equal(await one.getText(key), valueOf(key), `get ${key} on node ${node.index}`);
          assert.equal(
            await one.getText(key, { serializable: true }),
            valueOf(key),
            `serializable get ${key} on node ${node.index}`,
          );
        });
        assert.equal(await one.get("/sdk/absent"), null);
      } finally {
        one.close();
      }

      const got = await cluster.cli(["get", keyOf("clibatch", 7)], { endpoints: [node.client] });
      assert.equal(got.code, 0, got.stderr);
      assert.equal(got.stdout.trim(), valueOf(keyOf("clibatch", 7)));
    }

    const range = await cluster.cli(["range", "/cli/", "/cli0"], {
      endpoints: [cluster.nodes[2].client],
    });
    assert.equal(range.code, 0, range.stderr);
    const lines = range.stdout.trim().split("\n");
    assert.equal(lines.length, CLI_PUTS);
    assert.equal(lines[0], `${keyOf("cli", 0)}\t${valueOf(keyOf("cli", 0))}`);
  });
});
