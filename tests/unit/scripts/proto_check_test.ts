import assert from "node:assert/strict";
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SCRIPT = join(ROOT, "scripts", "proto.ts");

/** A copy of the repository's protobuf tree, sharing node_modules through a symlink. */
function copyTree(): string {
  const dir = mkdtempSync(join(tmpdir(), "proto_check_"));
  for (const entry of ["proto", "buf.yaml", "buf.gen.yaml"]) {
    cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

async function run(root: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, "--root", root, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("proto.ts --check passes on the committed tree and fails when a .proto changes", async () => {
  const dir = copyTree();
  try {
    const clean = await run(dir, "--check");
    assert.equal(clean.code, 0, clean.stderr);

    appendFileSync(
      join(dir, "proto/rangedb/v1/kv.proto"),
      "\nmessage Planted {\n  bytes x = 1;\n}\n",
    );
    const stale = await run(dir, "--check");
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /Cannot accept proto\/gen\/ as it differs from what the \.proto/);
    assert.match(stale.stderr, /changed: proto\/gen\/rangedb\/v1\/kv_pb\.ts/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test("proto.ts regenerates proto/gen and removes stale files", async () => {
  const dir = copyTree();
  try {
    writeFileSync(join(dir, "proto/gen/rangedb/v1/removed_pb.ts"), "export {};\n");
    appendFileSync(
      join(dir, "proto/rangedb/v1/kv.proto"),
      "\nmessage Planted {\n  bytes x = 1;\n}\n",
    );
    const before = await run(dir, "--check");
    assert.equal(before.code, 1);
    assert.match(before.stderr, /extra: proto\/gen\/rangedb\/v1\/removed_pb\.ts/);

    const gen = await run(dir);
    assert.equal(gen.code, 0, gen.stderr);
    assert.equal(existsSync(join(dir, "proto/gen/rangedb/v1/removed_pb.ts")), false);
    assert.match(readFileSync(join(dir, "proto/gen/rangedb/v1/kv_pb.ts"), "utf8"), /Planted/);
    const after = await run(dir, "--check");
    assert.equal(after.code, 0, after.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test("proto.ts fails with buf lint's findings on a badly named message", async () => {
  const dir = copyTree();
  try {
    appendFileSync(join(dir, "proto/rangedb/v1/kv.proto"), "\nmessage bad_name {}\n");
    const res = await run(dir, "--check");
    assert.equal(res.code, 1);
    assert.match(res.stderr, /Cannot accept the \.proto files as buf lint reports problems/);
    assert.match(res.stderr, /bad_name/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
