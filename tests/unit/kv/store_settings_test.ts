import assert from "node:assert/strict";
import { ErrorCode, isRangeDbError } from "../../../src/base/errors.ts";
import { TestCluster } from "./_cluster.ts";

Deno.test("Store.setClusterSetting() validates against range 1's settings and writes them for every node", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    await c.waitForLeader();
    const follower = [...c.stores.values()].find((st) => st !== c.leader())!;
    assert.equal((await follower.clusterSettings()).get("range_min_bytes"), undefined);
    // A follower proposes through range 1's leader; the combination is checked first.
    await follower.setClusterSetting("range_min_bytes", "128KiB");
    await assert.rejects(
      follower.setClusterSetting("range_max_bytes", "64KiB"),
      (e) =>
        isRangeDbError(e, ErrorCode.INVALID_ARGUMENT) &&
        /range_min_bytes is not below range_max_bytes/.test(e.message),
    );
    await follower.setClusterSetting("range_max_bytes", "1MiB", { dryRun: true });
    assert.equal((await follower.clusterSettings()).get("range_max_bytes"), undefined);
    await follower.setClusterSetting("_/cluster/config/range_max_bytes", "1MiB");
    for (const st of c.stores.values()) {
      assert.deepEqual(
        [...(await st.clusterSettings()).entries()].filter(([n]) => n.startsWith("range_")).sort(),
        [["range_max_bytes", "1MiB"], ["range_min_bytes", "128KiB"]],
        `node ${st.nodeId}`,
      );
    }
    await assert.rejects(
      follower.setClusterSetting("no_such_setting", "1"),
      (e) => isRangeDbError(e, ErrorCode.INVALID_ARGUMENT),
    );
  } finally {
    await c.close();
  }
});
