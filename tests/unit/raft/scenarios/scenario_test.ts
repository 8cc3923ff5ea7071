/**
 * Runs every scenario file in `testdata/` (one test per file). `REWRITE=1` rewrites the expected
 * outputs from the actual ones instead of comparing; review the diff before keeping it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseScenarioFile, renderScenarioFile } from "./datadriven.ts";
import { ScenarioEnv } from "./env.ts";
import { HANDLERS } from "./handlers/mod.ts";

const dir = new URL("./testdata/", import.meta.url);
const rewrite = Deno.env.get("REWRITE") === "1";
const files = [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".txt"))
  .map((e) => e.name).sort();

for (const name of files) {
  Deno.test(`ScenarioEnv runs testdata/${name}`, () => {
    const url = new URL(name, dir);
    const file = parseScenarioFile(Deno.readTextFileSync(url), name);
    const env = new ScenarioEnv();
    const outputs = file.blocks.map((b) => {
      const handler = HANDLERS[b.cmd];
      if (handler === undefined) {
        throw new Error(`Cannot run scenario as the command is unknown: ${b.pos}`);
      }
      handler(env, b);
      const out = env.takeOutput();
      // A blank line would end the block early when the file is read back.
      assert.ok(!out.split("\n").includes(""), `${b.pos}: output contains a blank line`);
      if (!rewrite) assert.equal(out, b.expected, `${b.pos}: ${b.line}`);
      return out;
    });
    if (rewrite) Deno.writeTextFileSync(url, renderScenarioFile(file, outputs));
  });
}
