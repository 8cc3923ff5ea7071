/**
 * `deno task build`: compiles RangeDB into one self-contained binary per target under `dist/`.
 *
 * `deno compile` downloads a `denort` runtime for each target; where Deno's download server is
 * unreachable this script says so and exits non-zero. Setting `DENORT_BIN` to a full `deno`
 * binary lets compile finish offline (the result then runs as plain deno, but it shows what got
 * embedded). Native addons (lmdb) are embedded from node_modules, so a target other than the
 * host needs its `@lmdb/lmdb-<os>-<arch>` prebuild installed (`npm install --os=… --cpu=…`).
 *
 * Usage: `deno task build [--target TRIPLE ...]` (default: the host target).
 *
 * @module
 */
import { parseArgs } from "node:util";

/**
 * What must not be embedded: every dev-only package recorded in package-lock.json (deno itself,
 * buf and its platform binary, protoc-gen-es, fast-check …; ARCHITECTURE §9) and the `.bin`
 * links, which point at those binaries.
 */
function devOnlyPaths(): string[] {
  const lock = JSON.parse(Deno.readTextFileSync("package-lock.json")) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const dev = Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith("node_modules/") && entry.dev === true)
    .map(([path]) => path);
  return ["node_modules/.bin", ...dev, ...RUNTIME_PACKAGE_FIXTURES];
}

/**
 * Test and example folders of runtime packages that are never loaded and that `deno compile`
 * 2.9 cannot embed: bintrees' test fixtures (prom-client depends on bintrees) overflow the
 * compiler's stack.
 */
const RUNTIME_PACKAGE_FIXTURES = ["node_modules/bintrees/test", "node_modules/bintrees/examples"];

const HOST_TARGET = `${Deno.build.arch}-${
  Deno.build.os === "darwin"
    ? "apple-darwin"
    : Deno.build.os === "windows"
    ? "pc-windows-msvc"
    : "unknown-linux-gnu"
}`;

const { values } = parseArgs({
  args: Deno.args,
  options: { target: { type: "string", multiple: true } },
});
const targets = values.target ?? [HOST_TARGET];

await Deno.mkdir("dist", { recursive: true });
let failed = 0;
for (const target of targets) {
  const output = `dist/rangedb-${target}${target.includes("windows") ? ".exe" : ""}`;
  const args = [
    "compile",
    "-A",
    "--target",
    target,
    "--output",
    output,
    "--include",
    "proto/",
    ...devOnlyPaths().flatMap((path) => ["--exclude", path]),
    "main.ts",
  ];
  console.log(`build: deno ${args.join(" ")}`);
  const result = await new Deno.Command(Deno.execPath(), { args, stderr: "piped" }).output();
  const stderr = new TextDecoder().decode(result.stderr);
  if (result.success) {
    console.log(`build: wrote ${output}`);
    continue;
  }
  failed++;
  if (/denort|dl\.deno\.land|download/i.test(stderr)) {
    console.error(
      `Cannot compile for ${target} as the denort runtime could not be downloaded: ` +
        "connect this machine to the internet, or set DENORT_BIN to a deno binary to check " +
        "what gets embedded",
    );
  }
  console.error(stderr.trim());
}
Deno.exit(failed === 0 ? 0 : 1);
