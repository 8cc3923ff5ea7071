import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { flagOptions, nodeFlagsFrom, parseNodeFlags } from "../../../src/base/config_flags.ts";
import { isRangeDbError, RangeDbError } from "../../../src/base/errors.ts";

function invalid(message: string) {
  return (e: unknown) => {
    assert.ok(isRangeDbError(e, "INVALID_ARGUMENT"), String(e));
    assert.equal((e as RangeDbError).message, message);
    return true;
  };
}

Deno.test("parseNodeFlags() applies the defaults of npm start", () => {
  assert.deepEqual(parseNodeFlags([]), {
    peerAddress: "127.0.0.1:7080",
    clientAddress: "127.0.0.1:7081",
    adminAddress: "127.0.0.1:7088",
    dataDir: "./data",
    nodeId: "",
    peers: [],
    join: [],
    clusterInit: false,
    maxSyncDuration: 20_000,
    logLevel: "info",
  });
});

Deno.test("parseNodeFlags() parses every flag into its typed value", () => {
  const flags = parseNodeFlags([
    "--peer-address=10.0.0.1:9000",
    "--client-address",
    "[::1]:9001",
    "--admin-address=localhost:0",
    "--data-dir=/tmp/n1",
    "--node-id=n1",
    "--peers=10.0.0.2:9000,10.0.0.3:9000",
    "--peers=10.0.0.4:9000",
    "--cluster-init",
    "--max-sync-duration=2s",
    "--log-level=debug",
  ]);
  assert.deepEqual(flags, {
    peerAddress: "10.0.0.1:9000",
    clientAddress: "[::1]:9001",
    adminAddress: "localhost:0",
    dataDir: "/tmp/n1",
    nodeId: "n1",
    peers: ["10.0.0.2:9000", "10.0.0.3:9000", "10.0.0.4:9000"],
    join: [],
    clusterInit: true,
    maxSyncDuration: 2_000,
    logLevel: "debug",
  });
});

Deno.test("parseNodeFlags() names the flag and the value when a value is invalid", () => {
  const table: [string[], string][] = [
    [["--admin-address=x"], "Cannot parse flag --admin-address as it is not host:port: got 'x'"],
    [
      ["--peer-address=1.2.3.4:99999"],
      "Cannot parse flag --peer-address as it is not host:port: got '1.2.3.4:99999'",
    ],
    [
      ["--log-level=trace"],
      "Cannot parse flag --log-level as it is not one of debug, info, warn, error: got 'trace'",
    ],
    [
      ["--join=a:1", "--join=b"],
      "Cannot parse flag --join as it is not a comma-separated list of host:port: got 'a:1,b'",
    ],
    [["--data-dir="], "Cannot parse flag --data-dir as it is empty: got ''"],
  ];
  for (const [args, message] of table) assert.throws(() => parseNodeFlags(args), invalid(message));
});

Deno.test("parseNodeFlags() refuses unknown flags and positionals as INVALID_ARGUMENT", () => {
  for (const args of [["--nope"], ["extra"], ["--cluster-init=yes"]]) {
    assert.throws(() => parseNodeFlags(args), (e) => isRangeDbError(e, "INVALID_ARGUMENT"));
  }
});

Deno.test("parseNodeFlags() refuses --cluster-init with --join", () => {
  assert.throws(
    () => parseNodeFlags(["--cluster-init", "--join=a:1"]),
    invalid("Cannot parse flags as --cluster-init and --join exclude each other: got --join a:1"),
  );
});

Deno.test("parseNodeFlags() refuses two listeners on one address unless the port is 0", () => {
  assert.throws(
    () => parseNodeFlags(["--admin-address=127.0.0.1:7081"]),
    invalid(
      "Cannot parse flags as two listeners share an address: " +
        "--client-address and --admin-address are both 127.0.0.1:7081",
    ),
  );
  const flags = parseNodeFlags([
    "--peer-address=h:0",
    "--client-address=h:0",
    "--admin-address=h:0",
  ]);
  assert.equal(flags.adminAddress, "h:0");
});

Deno.test("nodeFlagsFrom() parses strings for switches and refuses a bare switch for a value", () => {
  assert.equal(nodeFlagsFrom({ "cluster-init": "true" }).clusterInit, true);
  assert.throws(
    () => nodeFlagsFrom({ "data-dir": true }),
    invalid("Cannot parse flag --data-dir as it needs a value: got a bare --data-dir"),
  );
});

Deno.test("flagOptions() combines with a caller's own options in parseArgs", () => {
  const { values, positionals } = parseArgs({
    args: ["server", "--verbose", "--data-dir=/d", "--join=a:1"],
    options: { ...flagOptions(), verbose: { type: "boolean" } },
    allowPositionals: true,
  });
  assert.deepEqual(positionals, ["server"]);
  const flags = nodeFlagsFrom(values);
  assert.equal(flags.dataDir, "/d");
  assert.deepEqual(flags.join, ["a:1"]);
  assert.equal(flagOptions()["cluster-init"].type, "boolean");
  assert.equal(flagOptions().peers.multiple, true);
});
