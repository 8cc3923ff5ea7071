/**
 * The command line of `bench/ranges_bench.ts`: its flags, their defaults (and `--quick`'s), the
 * help text, and the parsed {@linkcode RangesBenchArgs}.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** The parts of the benchmark, in the order they run. */
export const PARTS = ["idle", "spread", "split"] as const;
/** One part of the benchmark. */
export type Part = typeof PARTS[number];

/** What a run does. */
export interface RangesBenchArgs {
  parts: Part[];
  nodes: number;
  dataRoot: string | undefined;
  out: string | undefined;
  serverV8Flags: string | undefined;
  quick: boolean;
  idle: { ranges: number; concurrency: number; settleSeconds: number; sampleSeconds: number };
  spread: {
    ranges: number;
    rounds: number;
    clients: number;
    connections: number;
    seconds: number;
    warmup: number;
    keys: number;
    valueSize: number;
  };
  split: { mib: number; valueSize: number; auto: boolean };
}

/** Thrown for a bad command line (exit code 2). */
export class UsageError extends Error {
  override name = "UsageError";
}

interface Flag {
  default: string;
  quick?: string;
  help: string;
}

/** Every valued flag with its default, its `--quick` value, and its help. */
const FLAGS: Record<string, Flag> = {
  only: { default: PARTS.join(","), help: "the parts to run, comma-separated: idle,spread,split" },
  nodes: { default: "3", help: "server processes (127.0.0.1, random ports)" },
  ranges: { default: "10000", quick: "300", help: "idle: ranges in the cluster, range 1 included" },
  concurrency: { default: "64", quick: "16", help: "idle: splits in flight while creating them" },
  settle: {
    default: "30",
    quick: "2",
    help: "idle: seconds from quiescence to sampling (lets GC finish)",
  },
  sample: { default: "30", quick: "3", help: "idle: seconds of CPU sampling" },
  "spread-ranges": {
    default: "64",
    quick: "8",
    help: "spread: ranges the bench keys are split into (compared with 1)",
  },
  rounds: {
    default: "2",
    quick: "1",
    help: "spread: runs of each layout, alternating (1, 64, 64, 1, ...)",
  },
  clients: { default: "64", quick: "16", help: "spread: closed-loop clients (bench:kv's load)" },
  connections: { default: "4", quick: "2", help: "spread: SDK clients the workers share" },
  seconds: { default: "10", quick: "3", help: "spread: measured seconds per run" },
  warmup: { default: "2", quick: "1", help: "spread: warm-up seconds per run" },
  keys: { default: "10000", quick: "2000", help: "spread: keys written (each once before)" },
  "value-size": { default: "100", help: "spread: bytes per value" },
  "split-mib": {
    default: "64",
    quick: "4",
    help: "split: MiB loaded before the manual split (at most 64 MiB - 256 KiB)",
  },
  "split-value-size": { default: "1024", help: "split: bytes per value loaded" },
  out: { default: "", help: "write the results as JSON to this file" },
  "data-root": { default: "", help: "parent of the servers' temp data directories" },
  "server-v8-flags": {
    default: "",
    help: "V8 flags of the servers (DENO_V8_FLAGS), e.g. --prof",
  },
};

/** The help text of `deno task bench:ranges --help`. */
export function helpText(): string {
  const lines = [
    "deno task bench:ranges [flags]",
    "",
    "Runs real server processes on 127.0.0.1 and measures multi-raft costs:",
    "  idle    CPU of an idle cluster holding many ranges (created with Admin.SplitPartition)",
    "  spread  put throughput with bench:kv's load (through the SDK) on 1 range vs many",
    "  split   time to split a full (64 MiB) range by hand and by the split queue, and the",
    "          event-loop stall of the split's apply",
    "Prints progress on stderr and a summary table on stdout. Exit codes: 0 after a run, 1 when",
    "a part fails (the summary of the parts that ran is still printed), 2 on bad flags.",
    "",
    "Flags (default; --quick value):",
  ];
  for (const [name, f] of Object.entries(FLAGS)) {
    const quick = f.quick === undefined ? "" : `; ${f.quick}`;
    const dflt = f.default === "" ? "none" : f.default;
    lines.push(`  --${name.padEnd(17)} ${f.help} (${dflt}${quick})`);
  }
  lines.push(
    `  --${"no-auto-split".padEnd(17)} split: skip the automatic split (on with --quick)`,
    `  --${"quick".padEnd(17)} a short smoke run (well under a minute) with the values above`,
    `  --${"help".padEnd(17)} this text`,
  );
  return lines.join("\n");
}

/**
 * Parses the command line.
 *
 * @returns the arguments, or "help" for `--help`
 * @throws {UsageError} for an unknown flag or a bad value
 */
export function parseRangesArgs(argv: string[]): RangesBenchArgs | "help" {
  const options: Record<string, { type: "string" | "boolean" }> = {
    quick: { type: "boolean" },
    help: { type: "boolean" },
    "no-auto-split": { type: "boolean" },
  };
  for (const name of Object.keys(FLAGS)) options[name] = { type: "string" };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(
      `Cannot run benchmark as the command line is invalid: ${(err as Error).message}`,
    );
  }
  if (values.help === true) return "help";
  const quick = values.quick === true;
  const text = (name: string): string => {
    const given = values[name];
    if (typeof given === "string") return given;
    const f = FLAGS[name];
    return quick && f.quick !== undefined ? f.quick : f.default;
  };
  const int = (name: string, min: number): number => {
    const n = Number(text(name));
    if (!Number.isSafeInteger(n) || n < min) {
      throw new UsageError(
        `Cannot run benchmark as --${name} is not a whole number of at least ${min}: ${text(name)}`,
      );
    }
    return n;
  };
  const parts = text("only").split(",").map((p) => p.trim()).filter((p) => p !== "");
  for (const p of parts) {
    if (!(PARTS as readonly string[]).includes(p)) {
      throw new UsageError(
        `Cannot run benchmark as --only names an unknown part: ${p} (known: ${PARTS.join(", ")})`,
      );
    }
  }
  const optional = (name: string) => text(name) === "" ? undefined : text(name);
  if (int("keys", 2) < int("spread-ranges", 2)) {
    throw new UsageError(
      `Cannot run benchmark as --keys is below --spread-ranges: ${int("keys", 2)} keys cannot ` +
        `fill ${int("spread-ranges", 2)} ranges`,
    );
  }
  return {
    parts: PARTS.filter((p) => parts.includes(p)),
    nodes: int("nodes", 1),
    dataRoot: optional("data-root"),
    out: optional("out"),
    serverV8Flags: optional("server-v8-flags"),
    quick,
    idle: {
      ranges: int("ranges", 3),
      concurrency: int("concurrency", 1),
      settleSeconds: int("settle", 0),
      sampleSeconds: int("sample", 1),
    },
    spread: {
      ranges: int("spread-ranges", 2),
      rounds: int("rounds", 1),
      clients: int("clients", 1),
      connections: int("connections", 1),
      seconds: int("seconds", 1),
      warmup: int("warmup", 0),
      keys: int("keys", 2),
      valueSize: int("value-size", 0),
    },
    split: {
      mib: int("split-mib", 1),
      valueSize: int("split-value-size", 1),
      auto: !quick && values["no-auto-split"] !== true,
    },
  };
}
