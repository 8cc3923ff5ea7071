import assert from "node:assert/strict";
import { b, s, TestCluster, waitFor } from "./_cluster.ts";

async function putRange(c: TestCluster, from: number, to: number, chunk: number): Promise<void> {
  for (let start = from; start < to; start += chunk) {
    const end = Math.min(start + chunk, to);
    await Promise.all(
      Array.from({ length: end - start }, (_, k) => c.put(b(`/t/${start + k}`), b(`${start + k}`))),
    );
  }
}

// Found by `deno task test:faults --faults kill` (seed 1034): a restarted follower got ~1,070
// entries and their commit in one Ready, and the log truncation of that turn aimed past the
// entries already in its log; the store failed and the node exited on every restart.
Deno.test("Replica truncates its log safely when one turn appends and applies over a thousand entries", async () => {
  const c = await TestCluster.create(3);
  try {
    await c.startAll();
    const leader = await c.waitForLeader();
    const follower = [...c.stores.keys()].find((id) => c.stores.get(id) !== leader)!;
    await putRange(c, 0, 9_500, 1000);
    // Puts are acknowledged by a quorum; the follower must hold all of them before it stops.
    const before = c.stores.get(follower)!;
    await waitFor(
      async () =>
        s(
          (await before.get(b("/t/9499"), { serializable: true }).catch(() => undefined))
            ?.value,
        ) === "9499",
      20_000,
      "the follower to hold the first 9,500 puts",
    );
    await c.stop(follower);
    // The leader passes its truncation threshold (10,000 applied) and keeps the last 1,000
    // entries, which still hold everything the follower lacks: it catches up by log, not snapshot.
    // Small chunks keep each leader turn short, so the truncation point lands near 9,000 and not
    // past the follower's last entry (with 1,000 puts at once, one turn could apply to ~11,000).
    await putRange(c, 9_500, 11_100, 50);
    const snapshotsBefore = c.net.snapshotsSent;
    const restarted = await c.start(follower);
    await waitFor(
      async () =>
        s(
          (await restarted.get(b("/t/11099"), { serializable: true }).catch(() => undefined))
            ?.value,
        ) === "11099",
      20_000,
      "the restarted follower to catch up",
    );
    assert.equal(c.net.snapshotsSent, snapshotsBefore, "it caught up by log, not by snapshot");
    assert.equal(restarted.isReady(), true, "the follower's store is still serving");
    const range = restarted.firstRange()!;
    assert.ok(range.storage.firstIndex() > 1, "the follower truncated its log");
    assert.ok(range.storage.firstIndex() <= range.storage.lastIndex());
    // A put after the catch-up still replicates to it.
    await c.put(b("/t/after"), b("after"));
    await waitFor(
      async () =>
        s(
          (await restarted.get(b("/t/after"), { serializable: true }).catch(() => undefined))
            ?.value,
        ) === "after",
      10_000,
      "the put after the catch-up",
    );
  } finally {
    await c.close();
  }
});
