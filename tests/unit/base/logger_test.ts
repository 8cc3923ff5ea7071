import assert from "node:assert/strict";
import { ManualClock } from "../../../src/base/clock.ts";
import { ErrorCode, RangeDbError } from "../../../src/base/errors.ts";
import { createLogger, isLogLevel, type LoggerOptions } from "../../../src/base/logger.ts";

function capture(options: LoggerOptions = {}) {
  const lines: string[] = [];
  const clock = new ManualClock({ now: Date.UTC(2026, 0, 2, 3, 4, 5, 6) });
  const log = createLogger({ clock, sink: (l) => lines.push(l), ...options });
  return { log, lines };
}

Deno.test("Logger.info() writes one JSON line with ts, level, msg first, then fields", () => {
  const { log, lines } = capture();
  log.info("raft leader elected", { range_id: 7, term: 3 });
  assert.equal(
    lines[0],
    '{"ts":"2026-01-02T03:04:05.006Z","level":"info","msg":"raft leader elected",' +
      '"range_id":7,"term":3}',
  );
});

Deno.test("Logger drops lines below the minimum level", () => {
  const { log, lines } = capture({ level: "warn" });
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  assert.deepEqual(lines.map((l) => JSON.parse(l).level), ["warn", "error"]);
  assert.equal(log.enabled("info"), false);
  assert.equal(log.enabled("error"), true);
});

Deno.test("Logger defaults to level info", () => {
  const { log, lines } = capture();
  log.debug("d");
  log.info("i");
  assert.equal(lines.length, 1);
  assert.equal(log.level, "info");
});

Deno.test("Logger.with() binds fields; call fields override bound ones; parent unchanged", () => {
  const { log, lines } = capture();
  const child = log.with({ node_id: 1, range_id: 2 }).with({ range_id: 3 });
  child.info("applied", { index: 9 });
  child.info("moved", { range_id: 4 });
  log.info("parent");
  assert.deepEqual(JSON.parse(lines[0]), {
    ts: "2026-01-02T03:04:05.006Z",
    level: "info",
    msg: "applied",
    node_id: 1,
    range_id: 3,
    index: 9,
  });
  assert.equal(JSON.parse(lines[1]).range_id, 4);
  assert.deepEqual(Object.keys(JSON.parse(lines[2])), ["ts", "level", "msg"]);
});

Deno.test("Logger ignores fields named ts, level or msg", () => {
  const { log, lines } = capture();
  log.with({ level: "debug" }).warn("real", { msg: "fake", ts: 0 });
  assert.deepEqual(JSON.parse(lines[0]), {
    ts: "2026-01-02T03:04:05.006Z",
    level: "warn",
    msg: "real",
  });
});

Deno.test("Logger serialises errors as {name, message, code} with their cause", () => {
  const { log, lines } = capture();
  const err = new RangeDbError(ErrorCode.NOT_LEADER, "Cannot propose as not leader: leader is 2", {
    cause: new TypeError("boom"),
  });
  log.error("proposal failed", { err, plain: new Error("x") });
  const rec = JSON.parse(lines[0]);
  assert.deepEqual(rec.err, {
    name: "RangeDbError",
    message: "Cannot propose as not leader: leader is 2",
    code: "NOT_LEADER",
    cause: { name: "TypeError", message: "boom" },
  });
  assert.deepEqual(rec.plain, { name: "Error", message: "x" });
});

Deno.test("Logger writes bigints as strings, bytes as hex, and survives cycles", () => {
  const { log, lines } = capture();
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  log.info("odd", { big: 2n ** 64n, key: new Uint8Array([0, 171, 255]), cyclic });
  const rec = JSON.parse(lines[0]);
  assert.equal(rec.big, "18446744073709551616");
  assert.equal(rec.key, "00abff");
  assert.deepEqual(rec.cyclic, { a: 1, self: "[circular]" });
});

Deno.test("Logger writes an object seen twice off a cycle in full each time", () => {
  const { log, lines } = capture();
  const shared = { n: 1 };
  log.info("twice", { a: shared, b: shared, list: [shared, shared] });
  const rec = JSON.parse(lines[0]);
  assert.deepEqual(rec.a, { n: 1 });
  assert.deepEqual(rec.b, { n: 1 });
  assert.deepEqual(rec.list, [{ n: 1 }, { n: 1 }]);
});

Deno.test("Logger.info() does not throw on a field that fails to serialise", () => {
  const { log, lines } = capture();
  const badToJson = {
    toJSON() {
      throw new TypeError("no JSON here");
    },
  };
  const badGetter = {
    get boom(): never {
      throw new RangeError("getter failed");
    },
  };
  log.info("bad json", { range_id: 7, badToJson });
  log.warn("bad getter", { badGetter });
  assert.deepEqual(JSON.parse(lines[0]), {
    ts: "2026-01-02T03:04:05.006Z",
    level: "info",
    msg: "bad json",
    log_error: "TypeError: no JSON here",
  });
  assert.deepEqual(JSON.parse(lines[1]), {
    ts: "2026-01-02T03:04:05.006Z",
    level: "warn",
    msg: "bad getter",
    log_error: "RangeError: getter failed",
  });
});

Deno.test("isLogLevel() accepts exactly the four levels", () => {
  for (const l of ["debug", "info", "warn", "error"]) assert.equal(isLogLevel(l), true);
  for (const l of ["trace", "INFO", ""]) assert.equal(isLogLevel(l), false);
});

Deno.test("createLogger() writes to stderr by default, one line per call", async () => {
  const url = new URL("../../../src/base/logger.ts", import.meta.url).href;
  const code = `import { createLogger } from "${url}";
    const log = createLogger({ level: "debug" });
    log.debug("one", { node_id: 1 });
    log.error("two");`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(new TextDecoder().decode(out.stdout), "");
  const lines = new TextDecoder().decode(out.stderr).trimEnd().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.deepEqual(lines.map((l) => [l.level, l.msg, l.node_id]), [
    ["debug", "one", 1],
    ["error", "two", undefined],
  ]);
});
