/**
 * Writes `docs/configuration.md` from the settings table, formatted by `deno fmt` so that
 * `deno fmt --check` accepts it; with `--check`, exits 1 instead when the committed file differs.
 *
 * Usage: `deno run -A scripts/config_docs.ts [--check]`
 *
 * @module
 */

import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderConfigDocs } from "../src/base/config_docs.ts";
import { ErrorCode, RangeDbError } from "../src/base/errors.ts";

/** The generated document's path. */
export const CONFIG_DOCS_PATH = fileURLToPath(
  new URL("../docs/configuration.md", import.meta.url),
);
const DENO_JSON = fileURLToPath(new URL("../deno.json", import.meta.url));

/**
 * Renders the configuration reference and formats it with the repository's `deno fmt` settings
 * (which align tables and wrap prose, so the raw rendering alone would not pass `fmt --check`).
 *
 * @returns the document as it must be committed
 * @throws {RangeDbError} INTERNAL when `deno fmt` fails
 */
export async function formattedConfigDocs(): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--config", DENO_JSON, "--ext=md", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(renderConfigDocs()));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    throw new RangeDbError(
      ErrorCode.INTERNAL,
      `Cannot format the configuration docs as deno fmt failed: ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

if (import.meta.main) {
  const expected = await formattedConfigDocs();
  if (Deno.args.includes("--check")) {
    let actual = "";
    try {
      actual = readFileSync(CONFIG_DOCS_PATH, "utf8");
    } catch {
      // A missing file is stale like any other difference.
    }
    if (actual !== expected) {
      console.error(
        "Cannot accept docs/configuration.md as it is stale: run " +
          "`deno run -A scripts/config_docs.ts`",
      );
      Deno.exit(1);
    }
  } else {
    writeFileSync(CONFIG_DOCS_PATH, expected);
  }
}
