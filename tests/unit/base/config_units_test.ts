import assert from "node:assert/strict";
import {
  formatBytes,
  formatDuration,
  formatHostPort,
  parseBytes,
  parseDuration,
  parseHostPort,
} from "../../../src/base/config_units.ts";

Deno.test("parseDuration() reads Go-style durations in milliseconds", () => {
  const table: [string, number | undefined][] = [
    ["25h", 25 * 3_600_000],
    ["30m", 1_800_000],
    ["1h30m", 5_400_000],
    ["500ms", 500],
    ["10s", 10_000],
    ["1.5s", 1_500],
    ["7d", 7 * 86_400_000],
    ["2m3s4ms", 123_004],
    ["0", 0],
    ["0s", 0],
    ["", undefined],
    ["25", undefined],
    ["h", undefined],
    ["-5m", undefined],
    ["5 m", undefined],
    ["5M", undefined],
    ["1.5ms", undefined],
    ["1y", undefined],
    ["5m junk", undefined],
  ];
  for (const [text, want] of table) assert.equal(parseDuration(text), want, text);
});

Deno.test("formatDuration() writes the shortest form that parses back", () => {
  const table: [number, string][] = [
    [0, "0s"],
    [500, "500ms"],
    [1_500, "1s500ms"],
    [60_000, "1m"],
    [5_400_000, "1h30m"],
    [25 * 3_600_000, "25h"],
  ];
  for (const [ms, want] of table) {
    assert.equal(formatDuration(ms), want);
    assert.equal(parseDuration(want), ms);
  }
});

Deno.test("parseBytes() reads sizes with decimal and binary units", () => {
  const table: [string, number | undefined][] = [
    ["512MiB", 512 * 1024 * 1024],
    ["512 MiB", 512 * 1024 * 1024],
    ["512mib", 512 * 1024 * 1024],
    ["4096", 4096],
    ["100B", 100],
    ["8MB", 8_000_000],
    ["1.5KiB", 1536],
    ["2GiB", 2 * 1024 ** 3],
    ["1TB", 1e12],
    ["0", 0],
    ["", undefined],
    ["MiB", undefined],
    ["1.5B", undefined],
    ["-1", undefined],
    ["5XB", undefined],
    ["5  MiB", undefined],
    ["99999999TiB", undefined],
  ];
  for (const [text, want] of table) assert.equal(parseBytes(text), want, text);
});

Deno.test("formatBytes() uses the largest exact binary unit", () => {
  const table: [number, string][] = [
    [0, "0B"],
    [100, "100B"],
    [4096, "4KiB"],
    [1536, "1536B"],
    [512 * 1024 * 1024, "512MiB"],
    [1024 ** 4, "1TiB"],
  ];
  for (const [n, want] of table) {
    assert.equal(formatBytes(n), want);
    assert.equal(parseBytes(want), n);
  }
});

Deno.test("parseHostPort() reads names, IPv4 and bracketed IPv6", () => {
  const table: [string, { host: string; port: number } | undefined][] = [
    ["127.0.0.1:7080", { host: "127.0.0.1", port: 7080 }],
    ["localhost:0", { host: "localhost", port: 0 }],
    ["node-1.example.com:65535", { host: "node-1.example.com", port: 65535 }],
    ["[::1]:7080", { host: "::1", port: 7080 }],
    ["[fe80::1:2]:1", { host: "fe80::1:2", port: 1 }],
    ["x", undefined],
    ["7080", undefined],
    [":7080", undefined],
    ["host:", undefined],
    ["host:65536", undefined],
    ["host:-1", undefined],
    ["host:80x", undefined],
    ["::1:7080", undefined],
    ["[nothex]:80", undefined],
    ["-bad:80", undefined],
    ["a b:80", undefined],
  ];
  for (const [text, want] of table) assert.deepEqual(parseHostPort(text), want, text);
});

Deno.test("formatHostPort() brackets IPv6 hosts", () => {
  assert.equal(formatHostPort({ host: "::1", port: 7080 }), "[::1]:7080");
  assert.equal(formatHostPort({ host: "10.0.0.1", port: 80 }), "10.0.0.1:80");
});
