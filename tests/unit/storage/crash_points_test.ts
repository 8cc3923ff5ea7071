import assert from "node:assert/strict";
import { ErrorCode, RangeDbError } from "../../../src/base/errors.ts";
import {
  CRASH_POINTS,
  parseCrashPointSetting,
  parseSyncDelayMs,
} from "../../../src/storage/crash_points.ts";
import { openLmdbEngine } from "../../../src/storage/lmdb_engine.ts";

const MODULE = new URL("../../../src/storage/crash_points.ts", import.meta.url).href;
const decoder = new TextDecoder();

/** Runs `code` in a child `deno eval` with `env`; returns how it ended and its output. */
async function runChild(code: string, env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    signal: out.signal,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

function assertInvalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RangeDbError, String(err));
    assert.equal(err.code, ErrorCode.INVALID_ARGUMENT);
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("parseCrashPointSetting() reads every point, alone and with a pass count", () => {
  for (const point of CRASH_POINTS) {
    assert.deepEqual(parseCrashPointSetting(point), { point, nth: 1 });
    assert.deepEqual(parseCrashPointSetting(`${point}@1`), { point, nth: 1 });
    assert.deepEqual(parseCrashPointSetting(`${point}@17`), { point, nth: 17 });
  }
  assert.equal(parseCrashPointSetting(undefined), undefined);
  assert.equal(parseCrashPointSetting(""), undefined);
});

Deno.test("parseCrashPointSetting() reads a range and a role before scheduler points", () => {
  assert.deepEqual(parseCrashPointSetting("leader/apply:before-write@2"), {
    point: "apply:before-write",
    nth: 2,
    role: "leader",
  });
  assert.deepEqual(parseCrashPointSetting("follower/hard-state:after-write"), {
    point: "hard-state:after-write",
    nth: 1,
    role: "follower",
  });
  assert.deepEqual(parseCrashPointSetting("range2/leader/apply:before-write@4"), {
    point: "apply:before-write",
    nth: 4,
    role: "leader",
    rangeId: 2,
  });
  assert.deepEqual(parseCrashPointSetting("range17/log-append:after-write"), {
    point: "log-append:after-write",
    nth: 1,
    rangeId: 17,
  });
  for (const value of ["leader/snapshot-receive", "range3/snapshot-receive"]) {
    assertInvalid(() => parseCrashPointSetting(value), /only scheduler points take a role/);
  }
  for (const value of ["range0/apply:before-write", "range/apply:before-write", "r2/apply"]) {
    assertInvalid(() => parseCrashPointSetting(value), /names none/);
  }
  for (const value of ["learner/apply:before-write", "leader:apply:before-write", "/apply"]) {
    assertInvalid(() => parseCrashPointSetting(value), /names none/);
  }
});

Deno.test("parseCrashPointSetting() refuses unknown points and bad counts", () => {
  const unknown = [
    "apply",
    "apply:befor-write",
    "Apply:before-write",
    " apply:before-write",
    "apply:before-write ",
    "snapshot-receive:after-write",
    "log-append:before-write,apply:after-write",
    "@3",
  ];
  for (const value of unknown) {
    assertInvalid(
      () => parseCrashPointSetting(value),
      /^Cannot arm a crash point as RANGEDB_TEST_CRASH_POINT names none: value is ".*", expected \[range<id>\/\]\[leader\/\|follower\/\]<point>\[@<n>\] with a point among log-append:before-write, /,
    );
  }
  for (const value of ["apply:after-write@0", "apply:after-write@99999999999999999999"]) {
    assertInvalid(() => parseCrashPointSetting(value), /its count is not a positive integer/);
  }
  for (const value of ["apply:after-write@", "apply:after-write@-1", "apply:after-write@x"]) {
    assertInvalid(() => parseCrashPointSetting(value), /names none/);
  }
});

Deno.test("parseSyncDelayMs() reads whole milliseconds and refuses anything else", () => {
  assert.equal(parseSyncDelayMs(undefined), 0);
  assert.equal(parseSyncDelayMs(""), 0);
  assert.equal(parseSyncDelayMs("0"), 0);
  assert.equal(parseSyncDelayMs("200"), 200);
  assert.equal(parseSyncDelayMs("60000"), 60_000);
  for (const value of ["-5", "1.5", "200ms", "abc", "60001", " 200"]) {
    assertInvalid(
      () => parseSyncDelayMs(value),
      /^Cannot slow synced writes down as RANGEDB_TEST_SYNC_DELAY_MS is not a delay: value is /,
    );
  }
});

Deno.test("crashPoint() kills the process with SIGKILL on the armed pass, after one stderr line", async () => {
  // Passes of other points do not count; the line before each armed pass shows how far it got.
  const code = `
    import { crashPoint } from "${MODULE}";
    for (let i = 1; i <= 5; i++) {
      crashPoint("apply:before-write");
      Deno.stdout.writeSync(new TextEncoder().encode("pass " + i + "\\n"));
      crashPoint("apply:after-write");
    }
    Deno.stdout.writeSync(new TextEncoder().encode("survived\\n"));
  `;
  const run = await runChild(code, { RANGEDB_TEST_CRASH_POINT: "apply:after-write@3" });
  assert.equal(run.signal, "SIGKILL", `${run.stdout}\n${run.stderr}`);
  assert.equal(run.stdout, "pass 1\npass 2\npass 3\n");
  const lines = run.stderr.trim().split("\n");
  assert.equal(lines.length, 1, run.stderr);
  const line = JSON.parse(lines[0]);
  assert.equal(line.msg, "test crash point reached");
  assert.equal(line.point, "apply:after-write");
  assert.equal(line.pass, 3);
});

Deno.test("crashPoint() with a role counts only the passes made in that role", async () => {
  const code = `
    import { crashPoint } from "${MODULE}";
    const say = (s) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\\n"));
    crashPoint("log-append:after-write", "follower");
    say("follower pass");
    crashPoint("log-append:after-write", "leader");
    say("leader pass 1");
    crashPoint("log-append:after-write", "follower");
    crashPoint("log-append:after-write");
    say("other passes");
    crashPoint("log-append:after-write", "leader");
    say("survived");
  `;
  const run = await runChild(code, {
    RANGEDB_TEST_CRASH_POINT: "leader/log-append:after-write@2",
  });
  assert.equal(run.signal, "SIGKILL", `${run.stdout}\n${run.stderr}`);
  assert.equal(run.stdout, "follower pass\nleader pass 1\nother passes\n");
  assert.equal(JSON.parse(run.stderr).role, "leader");
});

Deno.test("passCrashPoints() with a range counts only the passes of that range's replica", async () => {
  const code = `
    import { passCrashPoints } from "${
    new URL("../../../src/kv/raft_batch_write.ts", import.meta.url).href
  }";
    const say = (s) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\\n"));
    const turn = (...ids) => ids.map((rangeId) => [
      { rangeId, isLeader: true },
      { entries: [{}], committedEntries: [], snapshot: undefined, hardState: undefined },
    ]);
    passCrashPoints(turn(1, 3), "after-write");
    say("ranges 1 and 3");
    passCrashPoints(turn(2), "after-write");
    say("range 2 once");
    passCrashPoints(turn(1, 2), "after-write");
    say("survived");
  `;
  const run = await runChild(code, {
    RANGEDB_TEST_CRASH_POINT: "range2/leader/log-append:after-write@2",
  });
  assert.equal(run.signal, "SIGKILL", `${run.stdout}\n${run.stderr}`);
  assert.equal(run.stdout, "ranges 1 and 3\nrange 2 once\n");
  assert.equal(JSON.parse(run.stderr).point, "log-append:after-write");
});

Deno.test("crashPointAfterFlush() lets pending work run before it kills the process", async () => {
  const code = `
    import { crashPointAfterFlush } from "${MODULE}";
    const say = (s) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\\n"));
    await crashPointAfterFlush("hard-state:before-write", "follower");
    say("first pass returned");
    setTimeout(() => say("answer sent"), 10);
    await crashPointAfterFlush("hard-state:before-write", "follower");
    say("survived");
  `;
  const run = await runChild(code, { RANGEDB_TEST_CRASH_POINT: "hard-state:before-write@2" });
  assert.equal(run.signal, "SIGKILL", `${run.stdout}\n${run.stderr}`);
  assert.equal(run.stdout, "first pass returned\nanswer sent\n");
  assert.equal(JSON.parse(run.stderr).point, "hard-state:before-write");
});

Deno.test("crashPoint() does nothing when no point is armed", async () => {
  const code = `
    import { crashPoint, CRASH_POINTS, validateCrashPointEnv } from "${MODULE}";
    for (const point of CRASH_POINTS) crashPoint(point);
    console.log(JSON.stringify(validateCrashPointEnv()));
  `;
  const run = await runChild(code, { RANGEDB_TEST_CRASH_POINT: "" });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { syncDelayMs: 0 });
});

Deno.test("validateCrashPointEnv() throws for a malformed variable, and crashPoint() stays inert", async () => {
  const code = `
    import { crashPoint, validateCrashPointEnv } from "${MODULE}";
    crashPoint("apply:before-write");
    try {
      validateCrashPointEnv();
      console.log("accepted");
    } catch (err) {
      console.log(err.message);
    }
  `;
  const typo = await runChild(code, { RANGEDB_TEST_CRASH_POINT: "apply:befor-write" });
  assert.equal(typo.code, 0, typo.stderr);
  assert.match(typo.stdout, /^Cannot arm a crash point as RANGEDB_TEST_CRASH_POINT names none/);
  const delay = await runChild(code, { RANGEDB_TEST_SYNC_DELAY_MS: "2s" });
  assert.match(delay.stdout, /^Cannot slow synced writes down as RANGEDB_TEST_SYNC_DELAY_MS/);
});

Deno.test("openLmdbEngine() with syncDelayMs resolves synced writes late and in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-slow-sync-" });
  const engine = await openLmdbEngine(dir, { syncDelayMs: 150 });
  try {
    const put = (k: number) => {
      const batch = engine.batch();
      batch.put("data", new Uint8Array([k]), new Uint8Array([k]));
      return batch;
    };
    const order: string[] = [];
    const start = performance.now();
    const synced = engine.write(put(1), { sync: true }).then(() => {
      order.push("synced");
      return performance.now() - start;
    });
    // Issued later without sync: with a slow disk it cannot be acknowledged before the first.
    const unsynced = engine.write(put(2), { sync: false }).then(() => order.push("unsynced"));
    const took = await synced;
    await unsynced;
    assert.ok(took >= 150, `the synced write resolved after ${took.toFixed(0)} ms`);
    assert.deepEqual(order, ["synced", "unsynced"]);
    assert.deepEqual(engine.get("data", new Uint8Array([2])), new Uint8Array([2]));
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
});
