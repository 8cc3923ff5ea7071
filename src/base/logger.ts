/**
 * Structured logging: one JSON object per line, with stable field names so that logs can be
 * filtered by machine (`jq 'select(.range_id == 7)'`). Every line starts with `ts` (ISO 8601 time),
 * `level` and `msg`, followed by the bound fields of the logger and then the fields of the call.
 *
 * Field names are snake_case domain names: `node_id`, `range_id`, `replica_id`, `term`, `index`,
 * `txn_id`, `key`, `err`. The message is a short event name ("raft leader elected"), not prose with
 * the facts interpolated.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import { SystemClock } from "./clock.ts";

/** Log levels, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Structured fields of a log line. */
export type LogFields = Record<string, unknown>;

/** Receives each finished line, without the trailing newline. */
export type LogSink = (line: string) => void;

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Fields that every line has, in this order; call and bound fields may not override them. */
const RESERVED = new Set(["ts", "level", "msg"]);

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /**
   * Lines below this level are dropped.
   * @default "info"
   */
  level?: LogLevel;
  /**
   * Where lines go.
   * @default a sink writing each line and a newline to stderr
   */
  sink?: LogSink;
  /**
   * Source of the `ts` field.
   * @default new SystemClock()
   */
  clock?: Clock;
  /**
   * Fields bound to every line.
   * @default {}
   */
  fields?: LogFields;
}

/** A structured logger. Obtain one with {@linkcode createLogger}. */
export interface Logger {
  /** The minimum level written. */
  readonly level: LogLevel;
  /** Tells whether a line at `level` would be written; use it to skip building costly fields. */
  enabled(level: LogLevel): boolean;
  /** Writes a debug line. */
  debug(msg: string, fields?: LogFields): void;
  /** Writes an info line. */
  info(msg: string, fields?: LogFields): void;
  /** Writes a warn line. */
  warn(msg: string, fields?: LogFields): void;
  /** Writes an error line. */
  error(msg: string, fields?: LogFields): void;
  /**
   * Returns a logger that adds `fields` to every line; its fields override this logger's bound
   * fields of the same name. Sink, clock and level are shared.
   */
  with(fields: LogFields): Logger;
}

const encoder = new TextEncoder();

function stderrSink(line: string): void {
  // Synchronous so that lines written just before a crash or exit are not lost; looped because
  // a write to a pipe may be partial.
  const bytes = encoder.encode(line + "\n");
  let written = 0;
  while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
}

/**
 * Creates a logger.
 *
 * @example
 * ```ts
 * import { createLogger } from "./logger.ts";
 * const lines: string[] = [];
 * const log = createLogger({ sink: (l) => lines.push(l) }).with({ node_id: 1 });
 * log.info("raft leader elected", { range_id: 7, term: 3 });
 * // {"ts":"…","level":"info","msg":"raft leader elected","node_id":1,"range_id":7,"term":3}
 * ```
 *
 * @param options level, sink, clock and bound fields
 * @returns the logger
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return new JsonLogger(
    options.level ?? "info",
    options.sink ?? stderrSink,
    options.clock ?? new SystemClock(),
    options.fields ?? {},
  );
}

/**
 * Tells whether `s` names a log level.
 *
 * @param s any string
 * @returns true for "debug", "info", "warn" and "error"
 */
export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

class JsonLogger implements Logger {
  constructor(
    readonly level: LogLevel,
    private readonly sink: LogSink,
    private readonly clock: Clock,
    private readonly bound: LogFields,
  ) {}

  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.level];
  }

  debug(msg: string, fields?: LogFields): void {
    this.#write("debug", msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    this.#write("info", msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    this.#write("warn", msg, fields);
  }

  error(msg: string, fields?: LogFields): void {
    this.#write("error", msg, fields);
  }

  with(fields: LogFields): Logger {
    return new JsonLogger(this.level, this.sink, this.clock, { ...this.bound, ...fields });
  }

  #write(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    if (!this.enabled(level)) return;
    const record: LogFields = { ts: new Date(this.clock.now()).toISOString(), level, msg };
    for (const source of [this.bound, fields ?? {}]) {
      for (const [k, v] of Object.entries(source)) {
        if (!RESERVED.has(k)) record[k] = v;
      }
    }
    this.sink(stringify(record));
  }
}

/**
 * Serialises a record; never throws, so a bad field cannot turn a log call into a crash: when a
 * field fails to serialise (a throwing `toJSON` or getter), the line keeps `ts`, `level` and
 * `msg` and says why in `log_error`.
 */
function stringify(record: LogFields): string {
  try {
    return JSON.stringify(record, acyclicReplacer());
  } catch (err) {
    return JSON.stringify({
      ts: record.ts,
      level: record.level,
      msg: record.msg,
      log_error: describe(err),
    });
  }
}

/**
 * A JSON.stringify replacer for log fields that writes "[circular]" for an object that is its
 * own ancestor. Only the current path counts: an object reached twice off a cycle is written in
 * full both times. JSON.stringify calls the replacer depth-first with the holder as `this`, so
 * popping the path down to the holder leaves exactly the ancestors of the value.
 */
function acyclicReplacer(): (this: unknown, key: string, value: unknown) => unknown {
  const path: unknown[] = [];
  return function (this: unknown, _key: string, value: unknown): unknown {
    if (typeof value === "bigint") return value.toString();
    const out = value instanceof Error
      ? serializeError(value)
      : value instanceof Uint8Array
      ? bytesToHex(value)
      : value;
    if (typeof out !== "object" || out === null) return out;
    while (path.length > 0 && path[path.length - 1] !== this) path.pop();
    if (path.includes(out)) return "[circular]";
    path.push(out);
    return out;
  };
}

/** `String(err)`, or a fixed text when even that throws. */
function describe(err: unknown): string {
  try {
    return String(err);
  } catch {
    return "unprintable error";
  }
}

/**
 * The JSON shape of an error in a log line: `{name, message, code}`, `code` only when the error
 * has one (a RangeDbError does), and `cause` when there is one.
 *
 * @param err the error
 * @returns a plain object for JSON.stringify
 */
export function serializeError(err: Error): LogFields {
  const out: LogFields = { name: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (err.cause !== undefined) {
    out.cause = err.cause instanceof Error ? serializeError(err.cause) : String(err.cause);
  }
  return out;
}

function bytesToHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}
