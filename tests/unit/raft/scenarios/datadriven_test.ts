import assert from "node:assert/strict";
import { parseCommandLine, parseScenarioFile, renderScenarioFile } from "./datadriven.ts";

Deno.test("parseCommandLine() splits bare words, key=value and groups", () => {
  assert.deepEqual(parseCommandLine("add-nodes 3 voters=(1,2,3) prevote=true (4,5) foo"), {
    cmd: "add-nodes",
    args: [
      { key: "3", vals: [] },
      { key: "voters", vals: ["1", "2", "3"] },
      { key: "prevote", vals: ["true"] },
      { key: "", vals: ["4", "5"] },
      { key: "foo", vals: [] },
    ],
  });
});

Deno.test("parseScenarioFile() keeps comments as preamble and reads outputs up to a blank line", () => {
  const text = "# about\n\ncampaign 1\n----\nline a\nline b\n\n# tail\nstatus 1\n----\nok\n";
  const file = parseScenarioFile(text, "f.txt");
  assert.equal(file.blocks.length, 2);
  assert.deepEqual(file.blocks[0].preamble, ["# about", ""]);
  assert.equal(file.blocks[0].expected, "line a\nline b");
  assert.equal(file.blocks[0].pos, "f.txt:3");
  assert.deepEqual(file.blocks[1].preamble, ["# tail"]);
  assert.equal(file.blocks[1].expected, "ok");
});

Deno.test("parseScenarioFile() rejects a command without separator", () => {
  assert.throws(() => parseScenarioFile("campaign 1\nok\n", "f.txt"), /f\.txt:1/);
});

Deno.test("renderScenarioFile() round-trips and replaces only outputs", () => {
  const text = "# about\ncampaign 1\n----\nold\n\nstatus 1\n----\n\n# end\n";
  const file = parseScenarioFile(text, "f.txt");
  assert.equal(renderScenarioFile(file, ["old", ""]), text);
  assert.equal(
    renderScenarioFile(file, ["new", "x"]),
    "# about\ncampaign 1\n----\nnew\n\nstatus 1\n----\nx\n\n# end\n",
  );
});
