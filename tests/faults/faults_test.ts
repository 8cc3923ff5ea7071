/**
 * The CI's short fault runs: one bounded run of each fault kind through `deno task test:faults`
 * (a subprocess, exactly as a developer runs it), each asserting a clean outcome, a history with
 * acknowledged operations, and that the faults were really injected; and one run per workload
 * with `--splits` (ranges split and merged through the workload's keys) asserting that splits
 * and merges were really done. Longer runs (60 s, many
 * seeds, 5 nodes for partitions) are for `deno task test:faults` by hand; see
 * docs/design/0008-fault-testing.md.
 *
 * Partition runs need network namespaces (root, iproute2, iptables). Where those are missing the
 * partition tests are skipped with the reason printed, unless `RANGEDB_REQUIRE_NETNS=1` (set by
 * `.ci/run` as root), where they fail instead.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { netnsUnavailable } from "../harness/netns.ts";
import type { FaultRunSummary } from "./run.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const SECONDS = Number(Deno.env.get("RANGEDB_FAULT_SECONDS") ?? 25);

const netnsReason = await netnsUnavailable();
if (netnsReason !== undefined) {
  if (Deno.env.get("RANGEDB_REQUIRE_NETNS") === "1") {
    throw new Error(`Cannot run the partition fault tests as ${netnsReason}`);
  }
  console.error(`partition fault tests skipped: ${netnsReason}`);
}

async function faultRun(
  args: string[],
  env: Record<string, string> = {},
  expectedExit = 0,
): Promise<FaultRunSummary> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--seconds", String(SECONDS), ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  let summary: FaultRunSummary;
  try {
    summary = JSON.parse(stdout);
  } catch {
    throw new Error(
      `Cannot read the fault run's summary (exit ${out.code}):\n${stdout}\n${stderr}`,
    );
  }
  if (out.code !== expectedExit) {
    throw new Error(
      `Fault run ended with exit ${out.code}, not ${expectedExit}:\n${
        JSON.stringify(summary, null, 2)
      }\n` +
        stderr.split("\n").slice(-80).join("\n"),
    );
  }
  return summary;
}

function assertRan(summary: FaultRunSummary, actions: string[]): void {
  assert.equal(summary.outcome, "ok");
  assert.equal(summary.valid, true);
  assert.equal(summary.anomalies, 0);
  assert.ok(summary.ok > 50, `only ${summary.ok} operations succeeded`);
  const injected = actions.reduce((n, a) => n + (summary.faultEvents[a] ?? 0), 0);
  assert.ok(injected > 0, `no ${actions.join("/")} fault was injected: ${JSON.stringify(summary)}`);
}

Deno.test("test:faults register workload under kill -9 and restart", async () => {
  const summary = await faultRun(["--workload", "register", "--faults", "kill", "--seed", "1"]);
  assertRan(summary, ["kill", "kill-all"]);
});

Deno.test("test:faults set workload under SIGSTOP pauses", async () => {
  const summary = await faultRun(["--workload", "set", "--faults", "pause", "--seed", "2"]);
  assertRan(summary, ["pause"]);
});

Deno.test({
  name: "test:faults register workload under network partitions",
  ignore: netnsReason !== undefined,
  async fn() {
    const summary = await faultRun([
      "--workload",
      "register",
      "--faults",
      "partition",
      "--seed",
      "3",
    ]);
    assertRan(summary, ["partition"]);
  },
});

Deno.test({
  name: "test:faults set workload under mixed faults",
  ignore: netnsReason !== undefined,
  async fn() {
    const summary = await faultRun(["--workload", "set", "--faults", "mixed", "--seed", "4"]);
    assertRan(summary, ["kill", "kill-all", "pause", "partition"]);
  },
});

/** Splits and merges run under mixed faults where namespaces work, else under kill -9. */
const SPLIT_FAULTS = netnsReason === undefined ? "mixed" : "kill";

function assertChurned(summary: FaultRunSummary): void {
  const churn = summary.churn;
  assert.ok(churn !== undefined, "the summary has no churn counts");
  assert.ok(churn.splits > 0, `no split was done: ${JSON.stringify(churn)}`);
  assert.ok(churn.merges > 0, `no merge was done: ${JSON.stringify(churn)}`);
}

Deno.test(`test:faults register workload with splits and merges under ${SPLIT_FAULTS} faults`, async () => {
  const summary = await faultRun([
    "--workload",
    "register",
    "--faults",
    SPLIT_FAULTS,
    "--splits",
    "--seed",
    "6",
  ]);
  assertRan(summary, ["kill", "kill-all", "pause", "partition"]);
  assertChurned(summary);
});

Deno.test(`test:faults set workload with splits and merges under ${SPLIT_FAULTS} faults`, async () => {
  const summary = await faultRun([
    "--workload",
    "set",
    "--faults",
    SPLIT_FAULTS,
    "--splits",
    "--seed",
    "7",
  ]);
  assertRan(summary, ["kill", "kill-all", "pause", "partition"]);
  assertChurned(summary);
});

Deno.test({
  name: "test:faults finds the stale reads of a planted bug under partitions",
  ignore: netnsReason !== undefined,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "rangedb-fault-runs-" });
    try {
      // Every node serves "linearizable" reads from its local state: a cut-off node reads stale.
      const summary = await faultRun(
        ["--workload", "register", "--faults", "partition", "--seed", "5", "--out", out],
        { RANGEDB_TEST_PLANTED_BUG: "stale-reads" },
        1,
      );
      assert.equal(summary.outcome, "anomaly");
      assert.equal(summary.valid, false);
      assert.ok(summary.anomalies > 0);
      assert.match(summary.anomalyDetails[0], /not linearizable: .* read "/);
      assert.ok(summary.historyDir !== undefined);
      const history = await Deno.readTextFile(`${summary.historyDir}/history.json`);
      assert.ok(history.length > 1000, "the failing run's history was not written");
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
