/**
 * Enforces the layer arrows of ARCHITECTURE §2: every `.ts` file under `src/` (and `main.ts`) may
 * import only from its own layer, the layers below it, the npm packages its layer is allowed, and
 * `node:` built-ins (except `src/raft`, which is a pure library: no `node:`, no npm, no `Deno.*`,
 * no timers or ambient randomness).
 *
 * Usage: `deno run --allow-read scripts/check_deps.ts [--root <dir>]`. Prints one line per
 * violation (`file:line: import "spec": rule`, or `file:line: uses Deno.: rule`) and exits 1 when there is any.
 *
 * @module
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** What the files of one layer may import. */
export interface LayerRule {
  /** Other layers (`src/<name>`) or `proto/gen` that may be imported. Its own layer always may. */
  layers: readonly string[];
  /** npm packages that may be imported. */
  npm: readonly string[];
  /** Whether `node:` built-ins may be imported. */
  node: boolean;
  /** Whether Deno APIs, timers, wall-clock time and ambient randomness are forbidden. */
  pure?: boolean;
}

const PROTO_GEN = "proto/gen";
const GRPC = "@grpc/grpc-js";
const PROTOBUF = "@bufbuild/protobuf";

/**
 * The layer table. `main` stands for `main.ts`. Arrows follow ARCHITECTURE §2, with three
 * additions: `cli` may import `server` (the CLI starts the server), `rpc` may import `raft` (the
 * peer service converts generated messages to Raft's types), and `kv` may import `proto/gen` for
 * its persisted formats (commands, descriptors, node records; docs/design/0007).
 */
export const LAYER_RULES: Readonly<Record<string, LayerRule>> = {
  main: { layers: ["cli"], npm: [], node: true },
  cli: { layers: ["server", "client", PROTO_GEN, "base"], npm: [PROTOBUF], node: true },
  client: { layers: [PROTO_GEN, "base"], npm: [GRPC, PROTOBUF], node: true },
  server: {
    layers: [
      "rpc",
      "backup",
      "txn",
      "kv",
      "placement",
      "mvcc",
      "storage",
      "raft",
      "base",
      PROTO_GEN,
    ],
    npm: [GRPC, PROTOBUF, "prom-client"],
    node: true,
  },
  rpc: {
    layers: ["kv", "txn", "backup", "raft", "base", PROTO_GEN],
    npm: [GRPC, PROTOBUF],
    node: true,
  },
  backup: { layers: ["kv", "mvcc", "base"], npm: [], node: true },
  txn: { layers: ["kv", "mvcc", "base"], npm: [], node: true },
  kv: {
    layers: ["raft", "mvcc", "storage", "placement", "base", PROTO_GEN],
    npm: [PROTOBUF],
    node: true,
  },
  placement: { layers: ["base"], npm: [], node: true },
  mvcc: { layers: ["storage", "base"], npm: [], node: true },
  storage: { layers: ["base"], npm: ["lmdb"], node: true },
  raft: { layers: [], npm: [], node: false, pure: true },
  base: { layers: [], npm: [], node: true },
};

/** Identifiers a pure layer may not use: I/O, timers, wall-clock time, ambient randomness. */
const IMPURE_RE =
  /\b(Deno\s*\.|setTimeout\b|setInterval\b|queueMicrotask\b|Date\.now\b|new\s+Date\b|Math\.random\b|performance\.now\b|crypto\.|fetch\s*\()/g;

/** One broken rule. */
export interface Violation {
  /** Path relative to the root, with forward slashes. */
  file: string;
  line: number;
  /** What broke the rule: `import "node:fs"`, or `uses Deno.` for purity rules. */
  subject: string;
  rule: string;
}

/**
 * Checks every source file of the tree at `root`.
 *
 * @param root the repository root (holding `src/` and `main.ts`)
 * @returns the violations, ordered by file and line
 */
export function checkDeps(root: string): Violation[] {
  const files = listTs(join(root, "src"));
  const main = join(root, "main.ts");
  if (isFile(main)) files.unshift(main);
  const out: Violation[] = [];
  for (const file of files) out.push(...checkFile(root, file, readFileSync(file, "utf8")));
  return out;
}

/**
 * Checks one file's source text.
 *
 * @param root the repository root
 * @param file the absolute path of the file
 * @param source its contents
 * @returns its violations, ordered by line
 */
function checkFile(root: string, file: string, source: string): Violation[] {
  const rel = toPosix(relative(root, file));
  const layer = layerOf(rel);
  const out: Violation[] = [];
  const report = (index: number, subject: string, rule: string) =>
    out.push({ file: rel, line: lineAt(source, index), subject, rule });
  const rule = layer === undefined ? undefined : LAYER_RULES[layer];
  if (layer === undefined || rule === undefined) {
    report(
      0,
      `file ${rel}`,
      `it is in no layer of ARCHITECTURE §2 (known: ${Object.keys(LAYER_RULES).join(", ")})`,
    );
    return out;
  }
  const code = mask(source, false);
  for (const { index, specifier } of findImports(code)) {
    if (specifier === undefined) {
      report(index, "import(…)", "a dynamic import with a computed specifier cannot be checked");
      continue;
    }
    const problem = judge(root, file, layer, rule, specifier);
    if (problem !== undefined) report(index, `import "${specifier}"`, problem);
  }
  if (rule.pure) {
    for (const m of mask(source, true).matchAll(IMPURE_RE)) {
      report(
        m.index,
        `uses ${m[1].replace(/\s+/g, "")}`,
        `${layer} is pure: no Deno APIs, I/O, timers, clock or randomness`,
      );
    }
  }
  return out.sort((a, b) => a.line - b.line);
}

function judge(
  root: string,
  file: string,
  layer: string,
  rule: LayerRule,
  specifier: string,
): string | undefined {
  if (specifier.startsWith("node:")) {
    return rule.node ? undefined : `${layer} may not import node: built-ins`;
  }
  if (/^(jsr|https?|file|data):/.test(specifier)) {
    return `${layer} may not import ${
      specifier.split(":")[0]
    }: specifiers (use relative paths or npm packages)`;
  }
  if (specifier.startsWith(".") || specifier.startsWith("/")) {
    const target = toPosix(relative(root, resolve(dirname(file), specifier)));
    const targetLayer = layerOf(target);
    if (targetLayer === undefined) {
      return `${layer} may not import files outside src/ and proto/gen/`;
    }
    if (targetLayer === layer || rule.layers.includes(targetLayer)) return undefined;
    const allowed = rule.layers.length === 0 ? "nothing outside itself" : rule.layers.join(", ");
    return `${layer} may not import ${targetLayer} (allowed: ${allowed})`;
  }
  const pkg = packageName(specifier);
  if (rule.npm.includes(pkg)) return undefined;
  const allowed = rule.npm.length === 0 ? "none" : rule.npm.join(", ");
  return `${layer} may not import npm package ${pkg} (allowed: ${allowed})`;
}

/** `src/kv/store.ts` → `kv`, `proto/gen/…` → `proto/gen`, `main.ts` → `main`. */
function layerOf(rel: string): string | undefined {
  if (rel === "main.ts") return "main";
  if (rel.startsWith(PROTO_GEN + "/")) return PROTO_GEN;
  const m = /^src\/([^/]+)\//.exec(rel);
  return m === null ? undefined : m[1];
}

/** `npm:@scope/pkg@1/sub` → `@scope/pkg`, `lmdb/x` → `lmdb`. */
function packageName(specifier: string): string {
  const bare = specifier.replace(/^npm:/, "");
  const parts = bare.split("/");
  const name = bare.startsWith("@") ? `${parts[0]}/${parts[1] ?? ""}` : parts[0];
  return name.replace(/(.)@.*$/, "$1");
}

interface FoundImport {
  index: number;
  /** Undefined for a dynamic import whose argument is not a string literal. */
  specifier: string | undefined;
}

const FROM_RE = /(?:^|[;}\n])\s*((?:import|export)\b[^;'"`]*?\bfrom\s*)(['"])([^'"]*)\2/g;
const SIDE_EFFECT_RE = /(?:^|[;}\n])\s*(import\s*)(['"])([^'"]*)\2/g;
const DYNAMIC_RE = /\bimport\s*\(\s*(?:(['"])([^'"]*)\1\s*[,)])?/g;

/** Finds import specifiers in source whose comments and template texts are masked. */
function findImports(code: string): FoundImport[] {
  const out: FoundImport[] = [];
  for (const re of [FROM_RE, SIDE_EFFECT_RE]) {
    for (const m of code.matchAll(re)) {
      out.push({ index: m.index + m[0].length - m[3].length - 2 - m[1].length, specifier: m[3] });
    }
  }
  for (const m of code.matchAll(DYNAMIC_RE)) out.push({ index: m.index, specifier: m[2] });
  return out;
}

/**
 * Replaces comments, template-literal text and regular-expression literals with spaces (and,
 * when `blankStrings`, the contents of string literals too), keeping every newline so that
 * offsets and line numbers stay those of the original.
 */
export function mask(source: string, blankStrings: boolean): string {
  const out = source.split("");
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  /** Brace depths at which a `${` of an enclosing template literal was opened. */
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  let prev = ""; // last significant code character, to tell a regex from a division
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const stop = end < 0 ? source.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end < 0 ? source.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === "'" || c === '"') {
      const stop = skipQuoted(source, i, c);
      if (blankStrings) blank(i + 1, stop - 1);
      i = stop;
      prev = c;
    } else if (c === "`" || (c === "}" && templates.length > 0 && templates.at(-1) === depth)) {
      if (c === "}") templates.pop();
      i = scanTemplate(source, i + 1, blank, () => templates.push(depth));
      prev = "`";
    } else if (c === "/" && (prev === "" || "(,=:[!&|?{};+-*%<>~^".includes(prev))) {
      const stop = skipRegex(source, i);
      blank(i + 1, stop - 1);
      i = stop;
      prev = "/";
    } else {
      if (c === "{") depth++;
      if (c === "}") depth--;
      if (!/\s/.test(c)) prev = /[\w$]/.test(c) ? wordEnd(source, i) : c;
      i++;
    }
  }
  return out.join("");
}

/** For a word ending a token, `return`/`typeof`-like keywords allow a regex to follow. */
function wordEnd(source: string, i: number): string {
  const m = /[\w$]+$/.exec(source.slice(Math.max(0, i - 10), i + 1));
  return m !== null && /^(return|typeof|case|do|else|in|of|void|yield|await)$/.test(m[0])
    ? "("
    : "a";
}

function skipQuoted(source: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < source.length && source[i] !== quote && source[i] !== "\n") {
    i += source[i] === "\\" ? 2 : 1;
  }
  return i + 1;
}

function skipRegex(source: string, start: number): number {
  let i = start + 1;
  let inClass = false;
  while (i < source.length && source[i] !== "\n") {
    const c = source[i];
    if (c === "\\") i++;
    else if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    else if (c === "/" && !inClass) return i + 1;
    i++;
  }
  return i;
}

/** Scans template text from `start`; returns the index after the closing backtick or `${`. */
function scanTemplate(
  source: string,
  start: number,
  blank: (from: number, to: number) => void,
  openExpression: () => void,
): number {
  let i = start;
  while (i < source.length) {
    if (source[i] === "\\") i += 2;
    else if (source[i] === "`") {
      blank(start, i);
      return i + 1;
    } else if (source[i] === "$" && source[i + 1] === "{") {
      blank(start, i);
      openExpression();
      return i + 2;
    } else i++;
  }
  blank(start, i);
  return i;
}

function listTs(dir: string): string[] {
  if (!isDir(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (isDir(path)) out.push(...listTs(path));
    else if (/\.tsx?$/.test(entry)) out.push(path);
  }
  return out;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function lineAt(source: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}

function toPosix(path: string): string {
  return path.split(sep).join("/");
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { root: { type: "string" } } });
  const root = resolve(values.root ?? join(dirname(fileURLToPath(import.meta.url)), ".."));
  const violations = checkDeps(root);
  for (const v of violations) console.log(`${v.file}:${v.line}: ${v.subject}: ${v.rule}`);
  if (violations.length > 0) {
    console.error(`Cannot accept the imports as ${violations.length} break the layer rules`);
    Deno.exit(1);
  }
}
