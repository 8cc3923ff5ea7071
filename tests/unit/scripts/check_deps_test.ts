import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkDeps, mask } from "../../../scripts/check_deps.ts";

const SCRIPT = fileURLToPath(new URL("../../../scripts/check_deps.ts", import.meta.url));

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "check_deps_"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const CLEAN: Record<string, string> = {
  "main.ts": 'import { main } from "./src/cli/main.ts";\nawait main(Deno.args);\n',
  "src/cli/main.ts": [
    'import { startServer } from "../server/server.ts";',
    'import { KvClient } from "../client/kv_client.ts";',
    'import { GetRequestSchema } from "../../proto/gen/rangedb/v1/kv_pb.ts";',
    'import { create } from "@bufbuild/protobuf";',
    "export async function main(args: string[]) {}",
  ].join("\n"),
  "src/storage/lmdb_engine.ts":
    'import { open } from "lmdb";\nimport { x } from "../base/mod.ts";\n',
  "src/kv/store.ts": [
    "import {",
    "  RawNode,",
    "  type Ready,",
    '} from "../raft/mod.ts";',
    'import type { Engine } from "../storage/engine.ts";',
    'export { readAt } from "../mvcc/mvcc_read.ts";',
    '// import { bad } from "../rpc/server.ts";',
    "/* import { bad } from '../txn/tso.ts'; */",
    "const re = /[\"'`]/g;",
    'const t = `import "../rpc/x.ts" ${re.source + "}"} from "../cli/y.ts"`;',
    "const ratio = 4 / 2 / 1;",
    'const mod = await import("./split_queue.ts");',
    "export const n = import.meta.url;",
  ].join("\n"),
  "src/raft/raw_node.ts": [
    'import type { Message } from "./types.ts";',
    "/** Raft never calls Math.random or Date.now; Deno.exit is not used. */",
    'const note = "setTimeout(Deno.exit)";',
  ].join("\n"),
};

Deno.test("checkDeps() accepts a tree that follows the layer arrows", () => {
  const root = tree(CLEAN);
  try {
    assert.deepEqual(checkDeps(root), []);
  } finally {
    rmSync(root, { recursive: true });
  }
});

Deno.test("checkDeps() reports each planted violation with file, line and rule", () => {
  const root = tree({
    ...CLEAN,
    "main.ts": 'import "./src/cli/main.ts";\nimport { Store } from "./src/kv/store.ts";\n',
    "src/raft/log.ts": [
      'import { readFileSync } from "node:fs";',
      'import type { Engine } from "../storage/engine.ts";',
      "export function f() {",
      "  return Deno.env.get('X') ?? Date.now() + Math.random();",
      "}",
    ].join("\n"),
    "src/mvcc/bad.ts": [
      'import { open } from "lmdb";',
      "import type {",
      "  Store,",
      '} from "../kv/store.ts";',
      'export * from "../../proto/gen/rangedb/v1/kv_pb.ts";',
      'const m = await import("../txn/" + "tso.ts");',
      'const n = await import("npm:lodash@4");',
    ].join("\n"),
    "src/base/bad.ts": 'export { x } from "../storage/engine.ts";\nimport "jsr:@std/assert";\n',
    "src/loose.ts": "export const x = 1;\n",
  });
  try {
    const got = checkDeps(root).map((v) => `${v.file}:${v.line}: ${v.subject}: ${v.rule}`);
    assert.deepEqual(got, [
      'main.ts:2: import "./src/kv/store.ts": main may not import kv (allowed: cli)',
      'src/base/bad.ts:1: import "../storage/engine.ts": base may not import storage ' +
      "(allowed: nothing outside itself)",
      'src/base/bad.ts:2: import "jsr:@std/assert": base may not import jsr: specifiers ' +
      "(use relative paths or npm packages)",
      "src/loose.ts:1: file src/loose.ts: it is in no layer of ARCHITECTURE §2 (known: main, " +
      "cli, client, server, rpc, backup, txn, kv, placement, mvcc, storage, raft, base)",
      'src/mvcc/bad.ts:1: import "lmdb": mvcc may not import npm package lmdb (allowed: none)',
      'src/mvcc/bad.ts:2: import "../kv/store.ts": mvcc may not import kv (allowed: storage, base)',
      'src/mvcc/bad.ts:5: import "../../proto/gen/rangedb/v1/kv_pb.ts": mvcc may not import ' +
      "proto/gen (allowed: storage, base)",
      "src/mvcc/bad.ts:6: import(…): a dynamic import with a computed specifier cannot be checked",
      'src/mvcc/bad.ts:7: import "npm:lodash@4": mvcc may not import npm package lodash ' +
      "(allowed: none)",
      'src/raft/log.ts:1: import "node:fs": raft may not import node: built-ins',
      'src/raft/log.ts:2: import "../storage/engine.ts": raft may not import storage ' +
      "(allowed: nothing outside itself)",
      "src/raft/log.ts:4: uses Deno.: raft is pure: no Deno APIs, I/O, timers, clock or randomness",
      "src/raft/log.ts:4: uses Date.now: raft is pure: no Deno APIs, I/O, timers, clock or " +
      "randomness",
      "src/raft/log.ts:4: uses Math.random: raft is pure: no Deno APIs, I/O, timers, clock or " +
      "randomness",
    ]);
  } finally {
    rmSync(root, { recursive: true });
  }
});

Deno.test("check_deps.ts exits 1 with one line per violation, 0 on a clean tree", async () => {
  const bad = tree({ ...CLEAN, "src/storage/up.ts": 'import "../kv/store.ts";\n' });
  const clean = tree(CLEAN);
  try {
    const run = (root: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", SCRIPT, "--root", root],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const failed = await run(bad);
    assert.equal(failed.code, 1);
    assert.equal(
      new TextDecoder().decode(failed.stdout),
      'src/storage/up.ts:1: import "../kv/store.ts": storage may not import kv (allowed: base)\n',
    );
    assert.match(new TextDecoder().decode(failed.stderr), /1 break the layer rules/);
    const passed = await run(clean);
    assert.equal(passed.code, 0, new TextDecoder().decode(passed.stdout));
  } finally {
    rmSync(bad, { recursive: true });
    rmSync(clean, { recursive: true });
  }
});

Deno.test("mask() blanks comments, template text and regexes but keeps offsets", () => {
  const src = 'a = "x//y"; // c\nb = `t ${"s"} u` / 2; r = /"/; /* d */ "z"';
  const masked = mask(src, false);
  assert.equal(masked.length, src.length);
  assert.equal(masked, 'a = "x//y";     \nb = `  ${"s"}  ` / 2; r = / /;         "z"');
  assert.equal(mask('"abc"', true), '"   "');
});
