/**
 * The scenario file format, after etcd-io/raft's datadriven `testdata/`: each block is a command
 * line with arguments, a `----` line, the exact expected output, then a blank line. Lines starting
 * with `#` and blank lines between blocks are kept verbatim, so a rewrite only replaces outputs.
 *
 * Arguments: `key=value`, `key=(a,b,c)`, bare words (`1`, `foo`) and bare groups (`(1,2)`, key "").
 *
 * @module
 */

/** One argument of a command line. */
export interface ScenarioArg {
  /** The part before `=`; the word itself for a bare word; "" for a bare group `(a,b)`. */
  key: string;
  /** The values after `=` (several for `(a,b,c)`); empty for a bare word. */
  vals: string[];
}

/** One command block of a scenario file. */
export interface ScenarioBlock {
  /** `file:line` of the command line, for failure messages. */
  pos: string;
  /** The command line as written. */
  line: string;
  cmd: string;
  args: ScenarioArg[];
  /** Comment and blank lines that precede the command, kept verbatim on rewrite. */
  preamble: string[];
  /** The expected output, without the terminating blank line. */
  expected: string;
}

/** A parsed scenario file. */
export interface ScenarioFile {
  blocks: ScenarioBlock[];
  /** Comment and blank lines after the last block. */
  trailer: string[];
}

const SEPARATOR = "----";

function parseValue(v: string): string[] {
  if (v.startsWith("(") && v.endsWith(")")) {
    const inner = v.slice(1, -1).trim();
    return inner === "" ? [] : inner.split(",").map((s) => s.trim());
  }
  return [v];
}

/**
 * Splits a command line into its command and arguments.
 *
 * @param line e.g. `add-nodes 3 voters=(1,2,3) prevote=true`
 * @returns the command name and its arguments
 */
export function parseCommandLine(line: string): { cmd: string; args: ScenarioArg[] } {
  const [cmd, ...words] = line.trim().split(/\s+/);
  const args = words.map((w): ScenarioArg => {
    if (w.startsWith("(")) return { key: "", vals: parseValue(w) };
    const eq = w.indexOf("=");
    if (eq < 0) return { key: w, vals: [] };
    return { key: w.slice(0, eq), vals: parseValue(w.slice(eq + 1)) };
  });
  return { cmd, args };
}

/**
 * Parses a scenario file.
 *
 * @param text the file's contents
 * @param name the file name used in positions
 * @returns its blocks
 * @throws {Error} when a command line is not followed by `----`
 */
export function parseScenarioFile(text: string, name: string): ScenarioFile {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const blocks: ScenarioBlock[] = [];
  let preamble: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === "" || line.startsWith("#")) {
      preamble.push(line);
      i++;
      continue;
    }
    if (lines[i + 1] !== SEPARATOR) {
      throw new Error(`Cannot parse scenario as a command lacks its separator: ${name}:${i + 1}`);
    }
    const out: string[] = [];
    let j = i + 2;
    while (j < lines.length && lines[j] !== "") out.push(lines[j++]);
    blocks.push({
      pos: `${name}:${i + 1}`,
      line,
      ...parseCommandLine(line),
      preamble,
      expected: out.join("\n"),
    });
    preamble = [];
    // The blank line ending the block belongs to the block, not to the next preamble.
    i = j + 1;
  }
  return { blocks, trailer: preamble };
}

/**
 * Renders a scenario file with new outputs (the `REWRITE=1` mode).
 *
 * @param file the parsed file
 * @param outputs one output per block
 * @returns the new file contents
 */
export function renderScenarioFile(file: ScenarioFile, outputs: string[]): string {
  const parts: string[] = [];
  file.blocks.forEach((b, k) => {
    parts.push(...b.preamble, b.line, SEPARATOR);
    if (outputs[k] !== "") parts.push(outputs[k]);
    parts.push("");
  });
  parts.push(...file.trailer);
  return parts.join("\n") + "\n";
}
