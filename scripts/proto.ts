/**
 * Generates the TypeScript of `proto/**.proto` into `proto/gen/` with buf and protoc-gen-es, or
 * checks that the committed `proto/gen/` is what generation produces.
 *
 * Usage:
 * - `deno run -A scripts/proto.ts` (`deno task proto`): lint, then regenerate `proto/gen/`,
 *   removing stale files;
 * - `deno run -A scripts/proto.ts --check` (`deno task proto:check`): lint, generate into a
 *   temporary directory and exit 1 listing the differences when `proto/gen/` is stale.
 *
 * `--root <dir>` selects the repository (default: the one holding this script); it must hold
 * `buf.yaml`, `buf.gen.yaml`, `proto/` and `node_modules/.bin/{buf,protoc-gen-es}`.
 *
 * @module
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ErrorCode, RangeDbError } from "../src/base/errors.ts";

/** Where generated code lives, relative to the root (the `out` of buf.gen.yaml). */
const GEN_DIR = "proto/gen";

/** The outcome of a buf run. */
interface BufResult {
  ok: boolean;
  output: string;
}

async function buf(root: string, args: string[]): Promise<BufResult> {
  const out = await new Deno.Command(join(root, "node_modules", ".bin", "buf"), {
    args,
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { ok: out.success, output: text.trim() };
}

/**
 * Runs `buf lint` on the module of `root`.
 *
 * @param root the repository root
 * @returns the problems found, one per line; empty when clean
 */
async function lintProtos(root: string): Promise<string[]> {
  const res = await buf(root, ["lint"]);
  return res.ok ? [] : res.output.split("\n");
}

/**
 * Runs `buf generate`, writing `<outputBase>/proto/gen/` (cleaned first by buf.gen.yaml's
 * `clean: true`).
 *
 * @param root the repository root
 * @param outputBase the directory the `out` paths of buf.gen.yaml are relative to
 * @throws {RangeDbError} INVALID_ARGUMENT with buf's output when generation fails
 */
async function generateProtos(root: string, outputBase: string = root): Promise<void> {
  const res = await buf(root, ["generate", "--output", outputBase]);
  if (!res.ok) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot generate protobuf code as buf failed: ${res.output}`,
    );
  }
}

/**
 * Compares the committed generated code with a fresh generation.
 *
 * @param root the repository root
 * @returns one line per difference ("changed: x", "missing: x", "extra: x"); empty when current
 */
async function diffGenerated(root: string): Promise<string[]> {
  const tmp = mkdtempSync(join(tmpdir(), "rangedb_proto_"));
  try {
    await generateProtos(root, tmp);
    const fresh = readTree(join(tmp, GEN_DIR));
    const committed = readTree(join(root, GEN_DIR));
    const out: string[] = [];
    for (const [path, text] of fresh) {
      const have = committed.get(path);
      if (have === undefined) out.push(`missing: ${GEN_DIR}/${path}`);
      else if (have !== text) out.push(`changed: ${GEN_DIR}/${path}`);
    }
    for (const path of committed.keys()) {
      if (!fresh.has(path)) out.push(`extra: ${GEN_DIR}/${path}`);
    }
    return out.sort();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Relative path → contents of every file under `dir` (empty when `dir` does not exist). */
function readTree(dir: string, prefix = "", out = new Map<string, string>()): Map<string, string> {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const entry of entries) {
    const path = join(dir, entry);
    const rel = prefix === "" ? entry : `${prefix}/${entry}`;
    if (statSync(path).isDirectory()) readTree(path, rel, out);
    else out.set(rel, readFileSync(path, "utf8"));
  }
  return out;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { check: { type: "boolean" }, root: { type: "string" } },
  });
  const root = resolve(values.root ?? join(dirname(fileURLToPath(import.meta.url)), ".."));
  const lint = await lintProtos(root);
  if (lint.length > 0) {
    console.error("Cannot accept the .proto files as buf lint reports problems:");
    for (const line of lint) console.error(`  ${line}`);
    return 1;
  }
  if (!values.check) {
    await generateProtos(root);
    return 0;
  }
  const diff = await diffGenerated(root);
  if (diff.length > 0) {
    console.error(
      `Cannot accept ${GEN_DIR}/ as it differs from what the .proto files generate: ` +
        "run `deno task proto` and commit the result",
    );
    for (const line of diff) console.error(`  ${line}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
