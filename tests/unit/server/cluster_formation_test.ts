import assert from "node:assert/strict";
import { parseNodeFlags } from "../../../src/base/config_flags.ts";
import { ErrorCode, isRangeDbError, RangeDbError } from "../../../src/base/errors.ts";
import {
  type CheckCall,
  clusterIdForPeers,
  deriveNodeName,
  establishIdentity,
  initialMemberIds,
  type JoinCall,
  validateNodeName,
} from "../../../src/server/cluster_formation.ts";
import { lockDataDir } from "../../../src/server/data_dir_lock.ts";
import { readNodeIdentity } from "../../../src/server/node_identity.ts";
import { openLmdbEngine } from "../../../src/storage/mod.ts";

const PEERS = ["127.0.0.1:7082", "127.0.0.1:7080", "127.0.0.1:7081"];
const noJoin = {
  join: (() => Promise.reject(new Error("join must not be called"))) as JoinCall,
  check: (() => Promise.resolve()) as CheckCall,
};
const addresses = { client: "127.0.0.1:1", admin: "127.0.0.1:2" };

async function withEngine(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-formation-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function flags(dir: string, extra: string[]) {
  return parseNodeFlags([`--data-dir=${dir}`, ...extra]);
}

Deno.test("deriveNodeName() turns a peer address into a name", () => {
  assert.equal(deriveNodeName("127.0.0.1:7080"), "127-0-0-1-7080");
  assert.equal(deriveNodeName("[::1]:7080"), "1-7080");
  assert.equal(deriveNodeName("node1.example:7080"), "node1-example-7080");
});

Deno.test("validateNodeName() refuses names that are not simple identifiers", () => {
  validateNodeName("node-1.a_b");
  for (const bad of ["", "-x", "a b", "a/b", "x".repeat(64)]) {
    assert.throws(
      () => validateNodeName(bad),
      (e) => isRangeDbError(e, ErrorCode.INVALID_ARGUMENT),
    );
  }
});

Deno.test("clusterIdForPeers() and initialMemberIds() ignore the order of --peers", () => {
  const shuffled = [PEERS[2], PEERS[0], PEERS[1]];
  assert.equal(clusterIdForPeers(PEERS), clusterIdForPeers(shuffled));
  assert.notEqual(clusterIdForPeers(PEERS), clusterIdForPeers(PEERS.slice(0, 2)));
  assert.deepEqual([...initialMemberIds(shuffled)], [
    [1, "127.0.0.1:7080"],
    [2, "127.0.0.1:7081"],
    [3, "127.0.0.1:7082"],
  ]);
});

Deno.test("establishIdentity() forms, then resumes, and refuses another cluster's --peers", async () => {
  await withEngine(async (dir) => {
    const engine = await openLmdbEngine(dir);
    try {
      const init = flags(dir, ["--cluster-init", `--peers=${PEERS.join(",")}`]);
      const formed = await establishIdentity(engine, init, "127.0.0.1:7081", addresses, noJoin);
      assert.equal(formed.how, "formed");
      assert.equal(formed.identity.nodeId, 2);
      assert.deepEqual(formed.identity.bootstrapVoters, [1, 2, 3]);
      assert.equal(formed.identity.name, "127-0-0-1-7081");
      assert.deepEqual(readNodeIdentity(engine), formed.identity);

      const again = await establishIdentity(engine, init, "127.0.0.1:7081", addresses, noJoin);
      assert.equal(again.how, "resumed");
      assert.deepEqual(again.identity, formed.identity);
      assert.equal(again.initialPeers.get(3), "127.0.0.1:7082");

      const other = flags(dir, ["--cluster-init", "--peers=127.0.0.1:7081,127.0.0.1:9999"]);
      await assert.rejects(
        establishIdentity(engine, other, "127.0.0.1:7081", addresses, noJoin),
        (e) =>
          isRangeDbError(e, ErrorCode.FAILED_PRECONDITION) && /another cluster/.test(e.message),
      );
      const renamed = flags(dir, ["--cluster-init", `--peers=${PEERS.join(",")}`, "--node-id=x"]);
      await assert.rejects(
        establishIdentity(engine, renamed, "127.0.0.1:7081", addresses, noJoin),
        (e) => isRangeDbError(e, ErrorCode.FAILED_PRECONDITION) && /--node-id/.test(e.message),
      );
      assert.deepEqual(readNodeIdentity(engine), formed.identity, "refusals modify nothing");
    } finally {
      await engine.close();
    }
  });
});

Deno.test("establishIdentity() refuses --peers without this node and a start with no cluster", async () => {
  await withEngine(async (dir) => {
    const engine = await openLmdbEngine(dir);
    try {
      await assert.rejects(
        establishIdentity(
          engine,
          flags(dir, ["--cluster-init", `--peers=${PEERS.join(",")}`]),
          "127.0.0.1:9000",
          addresses,
          noJoin,
        ),
        (e) =>
          isRangeDbError(e, ErrorCode.FAILED_PRECONDITION) &&
          /--peers does not include this node's --peer-address/.test(e.message),
      );
      await assert.rejects(
        establishIdentity(engine, flags(dir, []), "127.0.0.1:9000", addresses, noJoin),
        (e) =>
          isRangeDbError(e, ErrorCode.FAILED_PRECONDITION) && /holds no cluster/.test(e.message),
      );
      assert.equal(readNodeIdentity(engine), undefined);
    } finally {
      await engine.close();
    }
  });
});

Deno.test("establishIdentity() joins with the answer of a member", async () => {
  await withEngine(async (dir) => {
    const engine = await openLmdbEngine(dir);
    try {
      const asked: string[][] = [];
      const join: JoinCall = (members, record) => {
        asked.push(members);
        assert.equal(record.peerAddress, "127.0.0.1:7084");
        return Promise.resolve({
          clusterId: "abc",
          nodeId: 4,
          peerAddresses: new Map([[1, "127.0.0.1:7080"]]),
        });
      };
      const joinFlags = flags(dir, ["--join=127.0.0.1:7080", "--node-id=n4"]);
      const checks: string[][] = [];
      const calls = {
        join,
        check: ((members) => {
          checks.push(members);
          return Promise.resolve();
        }) as CheckCall,
      };
      const joined = await establishIdentity(engine, joinFlags, "127.0.0.1:7084", addresses, calls);
      assert.equal(joined.how, "joined");
      assert.deepEqual(asked, [["127.0.0.1:7080"]]);
      assert.equal(joined.identity.nodeId, 4);
      assert.equal(joined.identity.name, "n4");
      assert.deepEqual(joined.identity.bootstrapVoters, []);
      assert.equal(joined.initialPeers.get(4), "127.0.0.1:7084");
      assert.equal(typeof joined.identity.incarnation, "string");
      assert.equal(joined.identity.incarnation.length, 36);
      const resumed = await establishIdentity(
        engine,
        joinFlags,
        "127.0.0.1:7084",
        addresses,
        calls,
      );
      assert.equal(resumed.how, "resumed");
      assert.equal(asked.length, 1, "a restart does not join again");
      assert.deepEqual(checks, [["127.0.0.1:7080"]], "a restart checks in with the members");
      assert.equal(resumed.identity.incarnation, joined.identity.incarnation);
    } finally {
      await engine.close();
    }
  });
});

Deno.test("lockDataDir() refuses a second holder", async () => {
  await withEngine(async (dir) => {
    const lock = await lockDataDir(dir);
    try {
      const child = await new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `import { lockDataDir } from "${
            new URL("../../../src/server/data_dir_lock.ts", import.meta.url).href
          }"; try { await lockDataDir(${JSON.stringify(dir)}); console.log("locked"); } ` +
          `catch (e) { console.log(e.message); }`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(child.stdout);
      assert.match(out, /locked by another process/);
    } finally {
      lock.release();
    }
  });
});

Deno.test("establishIdentity() refuses to form or resume when a member objects, writing nothing", async () => {
  await withEngine(async (dir) => {
    const engine = await openLmdbEngine(dir);
    try {
      const refuse = {
        join: noJoin.join,
        check: (() =>
          Promise.reject(
            new RangeDbError(ErrorCode.FAILED_PRECONDITION, "name taken by another incarnation"),
          )) as CheckCall,
      };
      const init = flags(dir, ["--cluster-init", `--peers=${PEERS.join(",")}`]);
      await assert.rejects(
        establishIdentity(engine, init, "127.0.0.1:7081", addresses, refuse),
        (e) => isRangeDbError(e, ErrorCode.FAILED_PRECONDITION),
      );
      assert.equal(readNodeIdentity(engine), undefined, "nothing written");
    } finally {
      await engine.close();
    }
  });
});

Deno.test("establishIdentity() retries a failed join with the incarnation it announced first", async () => {
  await withEngine(async (dir) => {
    const engine = await openLmdbEngine(dir);
    try {
      const announced: string[] = [];
      let fail = true;
      const calls = {
        join: ((_members, record) => {
          announced.push(record.incarnation);
          if (fail) return Promise.reject(new Error("answer lost"));
          return Promise.resolve({ clusterId: "abc", nodeId: 4, peerAddresses: new Map() });
        }) as JoinCall,
        check: noJoin.check,
      };
      const joinFlags = flags(dir, ["--join=127.0.0.1:7080"]);
      await assert.rejects(
        establishIdentity(engine, joinFlags, "127.0.0.1:7084", addresses, calls),
      );
      fail = false;
      const joined = await establishIdentity(engine, joinFlags, "127.0.0.1:7084", addresses, calls);
      assert.equal(announced.length, 2);
      assert.equal(announced[0], announced[1], "the same incarnation both times");
      assert.equal(joined.identity.incarnation, announced[0]);
    } finally {
      await engine.close();
    }
  });
});
