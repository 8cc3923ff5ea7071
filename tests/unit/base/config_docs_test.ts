import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SETTINGS } from "../../../src/base/config.ts";
import { renderConfigDocs } from "../../../src/base/config_docs.ts";
import { CONFIG_DOCS_PATH, formattedConfigDocs } from "../../../scripts/config_docs.ts";

Deno.test("docs/configuration.md is the formatted rendering of the settings table", async () => {
  assert.equal(
    readFileSync(CONFIG_DOCS_PATH, "utf8"),
    await formattedConfigDocs(),
    "docs/configuration.md is stale: run `deno run -A scripts/config_docs.ts`",
  );
});

Deno.test("renderConfigDocs() lists every setting with its default", () => {
  const doc = renderConfigDocs();
  for (const name of Object.keys(SETTINGS)) {
    const label = SETTINGS[name as keyof typeof SETTINGS].scope === "flag" ? `--${name}` : name;
    assert.ok(doc.includes(`| \`${label}\` |`), name);
  }
  assert.ok(doc.includes("| `gc_ttl` | duration | `25h` |"));
  assert.ok(doc.includes("| `--admin-address` | host:port | `127.0.0.1:7088` |"));
});
