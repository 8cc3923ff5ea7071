/**
 * Writes `docs/configuration.md` from the settings table, formatted by `deno fmt` so that
 * `deno fmt --check` accepts it. Staleness is checked by tests/unit/base/config_docs_test.ts.
 *
 * Usage: `deno task docs:config`
 *
 * @module
 */

import { writeFileSync } from "node:fs";
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

// Staleness is checked by tests/unit/base/config_docs_test.ts.
if (import.meta.main) writeFileSync(CONFIG_DOCS_PATH, await formattedConfigDocs());
