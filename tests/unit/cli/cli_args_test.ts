import assert from "node:assert/strict";
import {
  DEFAULT_ENDPOINT,
  parseBatchOps,
  parseClientArgs,
  UsageError,
} from "../../../src/cli/cli_args.ts";

Deno.test("parseClientArgs() reads commands, positionals and flags in any order", () => {
  const table: [string[], Record<string, unknown>][] = [
    [["get", "/a"], { name: "get", args: ["/a"], output: "text", timeoutMs: 5000 }],
    [["-o", "json", "get", "/a", "--serializable"], {
      name: "get",
      output: "json",
      serializable: true,
    }],
    [["range", "/a", "/b", "--limit", "10", "--reverse", "--keys-only"], {
      name: "range",
      args: ["/a", "/b"],
      limit: 10,
      reverse: true,
      keysOnly: true,
    }],
    [["put", "/n", "--", "-5"], { name: "put", args: ["/n", "-5"] }],
    [["put", "/a", "-"], { name: "put", args: ["/a", "-"] }],
    [["cas", "/a", "v", "--expect-absent", "--timeout=250ms"], {
      name: "cas",
      expectAbsent: true,
      timeoutMs: 250,
    }],
    [["admin", "cluster", "status", "-o=json"], { name: "admin cluster status", args: [] }],
    [["admin", "node", "list"], { name: "admin node list" }],
    [["get", "--help"], { name: "get", help: true }],
    [["--help"], { name: undefined, help: true }],
  ];
  for (const [argv, want] of table) {
    const cmd = parseClientArgs(argv, {});
    const got: Record<string, unknown> = {
      name: cmd.spec?.name,
      args: cmd.args,
      output: cmd.global.output,
      timeoutMs: cmd.global.timeoutMs,
      serializable: cmd.serializable,
      limit: cmd.limit,
      reverse: cmd.reverse,
      keysOnly: cmd.keysOnly,
      expectAbsent: cmd.expectAbsent,
      help: cmd.help,
    };
    for (const [k, v] of Object.entries(want)) {
      assert.deepEqual(got[k], v, `${argv.join(" ")}: ${k}`);
    }
  }
});

Deno.test("parseClientArgs() takes endpoints from the flag, then RANGEDB_ENDPOINTS, then the default", () => {
  const env = { RANGEDB_ENDPOINTS: "10.0.0.1:7081, 10.0.0.2:7081" };
  assert.deepEqual(parseClientArgs(["get", "/a"], {}).global.endpoints, [DEFAULT_ENDPOINT]);
  assert.deepEqual(parseClientArgs(["get", "/a"], env).global.endpoints, [
    "10.0.0.1:7081",
    "10.0.0.2:7081",
  ]);
  assert.deepEqual(
    parseClientArgs(["get", "/a", "--endpoints", "h:1,[::1]:2"], env).global.endpoints,
    ["h:1", "[::1]:2"],
  );
});

Deno.test("parseClientArgs() refuses mistakes with a UsageError naming the command", () => {
  const table: [string[], RegExp, string | undefined][] = [
    [["frob"], /Cannot run 'frob' as it is not a command/, undefined],
    [["admin", "nodes"], /Cannot run 'admin nodes' as it is not a command/, undefined],
    [["get"], /Cannot run 'get' as it takes 1 argument: got 0/, "get"],
    [["put", "/a"], /Cannot run 'put' as it takes 2 arguments: got 1/, "put"],
    [["range", "/a", "/b", "/c"], /takes 1 to 2 arguments: got 3/, "range"],
    [["admin", "node", "list", "x"], /takes no arguments: got 1/, "admin node list"],
    [["get", "/a", "--limit", "3"], /Cannot use --limit with 'get' as it does not take it/, "get"],
    [
      ["get", "/a", "-o", "yaml"],
      /Cannot parse -o as it is neither text nor json: got 'yaml'/,
      "get",
    ],
    [["get", "/a", "--timeout", "soon"], /not a positive duration: got 'soon'/, "get"],
    [["get", "/a", "--timeout", "0"], /not a positive duration: got '0'/, "get"],
    [["range", "/a", "--limit=x"], /Cannot parse --limit as it is not a whole number/, "range"],
    [
      ["get", "/a", "--endpoints", "nohost"],
      /an endpoint is not host:port: got 'nohost'/,
      undefined,
    ],
    [["get", "/a", "--frob"], /Cannot parse the command line: .*frob/, undefined],
  ];
  for (const [argv, message, command] of table) {
    assert.throws(() => parseClientArgs(argv, {}), (err: unknown) => {
      assert.ok(err instanceof UsageError, argv.join(" "));
      assert.match(err.message, message);
      assert.equal(err.command, command, argv.join(" "));
      return true;
    });
  }
});

Deno.test("parseBatchOps() reads groups of puts and deletes", () => {
  assert.deepEqual(parseBatchOps(["put", "/user/1", "a", "/user/2", "b"]), [
    { kind: "put", key: "/user/1", value: "a" },
    { kind: "put", key: "/user/2", value: "b" },
  ]);
  assert.deepEqual(parseBatchOps(["put", "/a", "1", "put", "/b", "put", "delete", "/c", "/d"]), [
    { kind: "put", key: "/a", value: "1" },
    { kind: "put", key: "/b", value: "put" },
    { kind: "delete", key: "/c" },
    { kind: "delete", key: "/d" },
  ]);
});

Deno.test("parseBatchOps() refuses malformed sequences", () => {
  const table: [string[], RegExp][] = [
    [["/a", "1"], /must start with put or delete: got '\/a'/],
    [["put", "/a"], /put of \/a has no value/],
    [["put", "delete", "/a"], /'put' has no key before 'delete'/],
    [["delete"], /'delete' has no key/],
  ];
  for (const [args, message] of table) assert.throws(() => parseBatchOps(args), message);
});
