import assert from "node:assert/strict";
import { parseRangesArgs, UsageError } from "../../bench/_ranges_args.ts";
import { formatSummary } from "../../bench/_ranges_report.ts";
import { runRangesBench } from "../../bench/ranges_bench.ts";

/** `--quick` with sizes small enough for the test suite. */
const TINY = [
  "--quick",
  "--ranges=40",
  "--settle=1",
  "--sample=2",
  "--seconds=2",
  "--warmup=0",
  "--keys=400",
  "--spread-ranges=4",
  "--clients=8",
  "--split-mib=1",
];

Deno.test("parseRangesArgs() refuses unknown flags, parts and impossible sizes", () => {
  assert.throws(() => parseRangesArgs(["--bogus"]), UsageError);
  assert.throws(() => parseRangesArgs(["--only=idle,nap"]), /unknown part: nap/);
  assert.throws(
    () => parseRangesArgs(["--ranges=2"]),
    /--ranges is not a whole number of at least 3/,
  );
  assert.throws(() => parseRangesArgs(["--keys=10", "--spread-ranges=64"]), /--keys is below/);
  assert.equal(parseRangesArgs(["--help"]), "help");
  const quick = parseRangesArgs(["--quick", "--only=split,idle"]);
  assert.ok(quick !== "help");
  assert.deepEqual(quick.parts, ["idle", "split"], "parts run in their fixed order");
  assert.equal(quick.split.auto, false, "--quick skips the 64 MiB automatic split");
  assert.equal(quick.idle.ranges, 300);
});

Deno.test("runRangesBench() measures every part on real processes (--quick, tiny)", async () => {
  const args = parseRangesArgs(TINY);
  assert.ok(args !== "help");
  const progress: string[] = [];
  const r = await runRangesBench(args, (line) => progress.push(line));
  assert.deepEqual(r.failures, [], progress.join("\n"));

  const idle = r.idle!;
  assert.equal(idle.ranges, 40, "the meta copy lists every range created");
  assert.equal(idle.splits, 38);
  assert.ok(idle.quiesced, "every replica quiesced before sampling");
  assert.deepEqual(idle.replicas, [40, 40, 40]);
  assert.equal(idle.leaders.reduce((a, b) => a + b, 0), 40);
  for (const cpu of idle.cpuPercent) assert.ok(cpu >= 0 && cpu < 100, `idle CPU ${cpu}%`);

  const spread = r.spread!;
  assert.deepEqual(spread.runs.map((x) => x.ranges), [1, 4]);
  for (const run of spread.runs) {
    assert.ok(run.opsPerSecond > 0, `${run.ranges} ranges: no puts`);
    assert.deepEqual(run.errors, {});
    assert.equal(run.leaders.reduce((a, b) => a + b, 0), run.ranges, "every bench range led");
  }
  assert.ok(spread.ratio > 0);

  const split = r.split!;
  assert.equal(split.auto, undefined);
  const half = split.manual;
  assert.ok(half.rangeBytes > 0.9 * 2 ** 20 && half.rangeBytes <= 2 ** 20, `${half.rangeBytes}`);
  assert.ok(half.splitMs > 0 && half.servingMs >= half.splitMs);
  assert.equal(half.probeMaxMs.length, 3);

  const table = formatSummary(r);
  assert.match(table, /idle: CPU per node, mean of 2 s/);
  assert.match(table, /spread: 4 ranges \/ 1 range/);
  assert.match(table, /split: manual split of 1\.0 MiB/);
});
