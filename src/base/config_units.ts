/**
 * Parsing and formatting of the value syntaxes used by configuration: durations ("25h", "1h30m",
 * "500ms"), byte sizes ("512MiB", "8 MB", "4096") and network addresses ("127.0.0.1:7080",
 * "[::1]:7080", "node-1.example:7080"). Parsers return `undefined` for malformed input; the
 * caller words the error, because only it knows which flag or setting was being parsed.
 *
 * @module
 */

/** One millisecond, the unit of durations. */
export const MILLISECOND = 1;
/** One second in milliseconds. */
export const SECOND = 1000;
/** One minute in milliseconds. */
export const MINUTE = 60 * SECOND;
/** One hour in milliseconds. */
export const HOUR = 60 * MINUTE;
/** One day (24 hours) in milliseconds. */
export const DAY = 24 * HOUR;

/** One kibibyte. */
export const KIB = 1024;
/** One mebibyte. */
export const MIB = 1024 * KIB;
/** One gibibyte. */
export const GIB = 1024 * MIB;
/** One tebibyte. */
export const TIB = 1024 * GIB;

const DURATION_UNITS: Record<string, number> = {
  ms: MILLISECOND,
  s: SECOND,
  m: MINUTE,
  h: HOUR,
  d: DAY,
};

const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const DURATION_PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/**
 * Parses a duration: one or more `<number><unit>` parts with units ms, s, m, h, d (Go style,
 * "1h30m"), or a bare "0". The total must be a whole number of milliseconds.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./config_units.ts";
 * parseDuration("25h"); // 90000000
 * parseDuration("1h30m"); // 5400000
 * parseDuration("soon"); // undefined
 * ```
 *
 * @param s the text
 * @returns milliseconds, or undefined when `s` is not a duration
 */
export function parseDuration(s: string): number | undefined {
  if (s === "0") return 0;
  if (!DURATION_RE.test(s)) return undefined;
  let total = 0;
  for (const [, num, unit] of s.matchAll(DURATION_PART_RE)) {
    total += Number(num) * DURATION_UNITS[unit];
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/**
 * Formats milliseconds as the shortest duration in h, m, s and ms parts ("25h", "1h30m", "0s").
 *
 * @param ms a non-negative whole number of milliseconds
 * @returns text that {@linkcode parseDuration} reads back as `ms`
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = ms;
  let out = "";
  for (const [unit, size] of [["h", HOUR], ["m", MINUTE], ["s", SECOND], ["ms", 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

const BYTE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
  kib: KIB,
  mib: MIB,
  gib: GIB,
  tib: TIB,
};

const BYTES_RE = /^(\d+(?:\.\d+)?) ?([A-Za-z]*)$/;

/**
 * Parses a byte size: a number, an optional space and an optional unit (B, KB, MB, GB, TB in
 * powers of 1000; KiB, MiB, GiB, TiB in powers of 1024; case-insensitive). The result must be a
 * whole number of bytes.
 *
 * @example
 * ```ts
 * import { parseBytes } from "./config_units.ts";
 * parseBytes("512MiB"); // 536870912
 * parseBytes("1.5KiB"); // 1536
 * parseBytes("1.5B"); // undefined
 * ```
 *
 * @param s the text
 * @returns bytes, or undefined when `s` is not a byte size
 */
export function parseBytes(s: string): number | undefined {
  const m = BYTES_RE.exec(s);
  if (m === null) return undefined;
  const unit = BYTE_UNITS[m[2].toLowerCase()];
  if (unit === undefined) return undefined;
  const total = Number(m[1]) * unit;
  return Number.isSafeInteger(total) ? total : undefined;
}

/**
 * Formats bytes with the largest binary unit that divides them exactly ("512MiB", "4KiB", "100B").
 *
 * @param n a non-negative whole number of bytes
 * @returns text that {@linkcode parseBytes} reads back as `n`
 */
export function formatBytes(n: number): string {
  for (const [unit, size] of [["TiB", TIB], ["GiB", GIB], ["MiB", MIB], ["KiB", KIB]] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return `${n}B`;
}

/** A parsed network address. */
export interface HostPort {
  /** Host name or IP address; an IPv6 address without brackets. */
  host: string;
  /** Port, 0 … 65535; 0 asks the OS for a free port when listening. */
  port: number;
}

const HOSTNAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const IPV6_RE = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$/;
const PORT_RE = /^\d{1,5}$/;

/**
 * Parses "host:port", where host is a name, an IPv4 address or a bracketed IPv6 address.
 *
 * @example
 * ```ts
 * import { parseHostPort } from "./config_units.ts";
 * parseHostPort("127.0.0.1:7080"); // { host: "127.0.0.1", port: 7080 }
 * parseHostPort("[::1]:0"); // { host: "::1", port: 0 }
 * parseHostPort("7080"); // undefined
 * ```
 *
 * @param s the text
 * @returns host and port, or undefined when `s` is not host:port
 */
export function parseHostPort(s: string): HostPort | undefined {
  const colon = s.lastIndexOf(":");
  if (colon < 0) return undefined;
  let host = s.slice(0, colon);
  const portText = s.slice(colon + 1);
  if (!PORT_RE.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535) return undefined;
  if (host.startsWith("[") && host.endsWith("]")) {
    host = host.slice(1, -1);
    if (!IPV6_RE.test(host)) return undefined;
  } else if (!HOSTNAME_RE.test(host)) {
    return undefined;
  }
  return { host, port };
}

/**
 * Formats an address as "host:port", bracketing IPv6 hosts.
 *
 * @param addr host and port
 * @returns text that {@linkcode parseHostPort} reads back as `addr`
 */
export function formatHostPort(addr: HostPort): string {
  return addr.host.includes(":") ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}
