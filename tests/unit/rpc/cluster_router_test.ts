import assert from "node:assert/strict";
import { ErrorCode, isRangeDbError, RangeDbError } from "../../../src/base/errors.ts";
import { notLeader } from "./_grpc_fixture.ts";
import { rangeInfo, withNodes } from "./_cluster_fixture.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const KEY = enc.encode("/k");
const CMD = enc.encode("split");

function result(text: string) {
  return () => Promise.resolve(enc.encode(text));
}

function rangeNotFound(): RangeDbError {
  return new RangeDbError(ErrorCode.RANGE_NOT_FOUND, "Cannot propose as no replica holds the key");
}

const soon = (ms = 2_000) => Date.now() + ms;

Deno.test("GrpcClusterRouter.propose() runs on the local store when it leads", async () => {
  await withNodes({ 1: { proposeCommand: result("local") }, 2: {} }, async (c) => {
    assert.equal(dec.decode(await c.node(1).router.propose(KEY, CMD, soon())), "local");
    assert.deepEqual(c.received(), []);
  });
});

Deno.test("GrpcClusterRouter.propose() forwards to the leader a NOT_LEADER names", async () => {
  const seen: string[] = [];
  await withNodes({
    1: { proposeCommand: () => Promise.reject(notLeader(2)) },
    2: {
      proposeCommand: (key, command) => {
        seen.push(`${dec.decode(key)} ${dec.decode(command)}`);
        return result("remote")();
      },
    },
  }, async (c) => {
    assert.equal(dec.decode(await c.node(1).router.propose(KEY, CMD, soon())), "remote");
    assert.deepEqual(c.received(), ["2:Propose"]);
    assert.deepEqual(seen, ["/k split"]);
  });
});

Deno.test("GrpcClusterRouter.propose() follows the leader a forwarded NOT_LEADER names", async () => {
  await withNodes({
    1: { proposeCommand: () => Promise.reject(notLeader(2)) },
    2: { proposeCommand: () => Promise.reject(notLeader(3)) },
    3: { proposeCommand: result("node 3") },
  }, async (c) => {
    assert.equal(dec.decode(await c.node(1).router.propose(KEY, CMD, soon())), "node 3");
    assert.deepEqual(c.received(), ["2:Propose", "3:Propose"]);
  });
});

Deno.test("GrpcClusterRouter.propose() never has a forwarded Propose forwarded again", async () => {
  // Node 1 cannot reach node 3; node 2 could. Only node 1 may forward, so nothing reaches 3.
  let proposedOn3 = 0;
  await withNodes({
    1: { proposeCommand: () => Promise.reject(notLeader(2)) },
    2: { proposeCommand: () => Promise.reject(notLeader(3)) },
    3: {
      proposeCommand: () => {
        proposedOn3++;
        return result("node 3")();
      },
    },
  }, async (c) => {
    const node1 = c.node(1);
    const reach = node1.store.peerAddressOf;
    node1.store.peerAddressOf = (n) => n === 3 ? undefined : reach(n);
    const started = Date.now();
    // UNAVAILABLE, or TIMEOUT when the last forward to node 2 ran into the deadline.
    await assert.rejects(
      node1.router.propose(KEY, CMD, started + 400),
      (err) =>
        isRangeDbError(err) && (err.code === ErrorCode.TIMEOUT ||
          (err.code === ErrorCode.UNAVAILABLE &&
            /^Cannot propose on the range of key \/k as no leader took it before the deadline/
              .test(err.message))),
    );
    assert.ok(Date.now() - started < 1_000);
    assert.equal(proposedOn3, 0);
    assert.ok(c.received().every((r) => r === "2:Propose"), c.received().join(" "));
  });
});

Deno.test("GrpcClusterRouter.propose() finds a range without a local replica through the meta copy", async () => {
  await withNodes({
    1: {
      proposeCommand: () => Promise.reject(rangeNotFound()),
      lookupRange: () => rangeInfo(5, "/a", "/m", { voters: [2, 3] }),
    },
    2: { proposeCommand: () => Promise.reject(notLeader(3)) },
    3: { proposeCommand: result("range 5") },
  }, async (c) => {
    assert.equal(dec.decode(await c.node(1).router.propose(KEY, CMD, soon())), "range 5");
    assert.deepEqual(c.received(), ["2:Propose", "3:Propose"]);
  });
});

Deno.test("GrpcClusterRouter.propose() asks range 1's leader for the range without a meta copy", async () => {
  await withNodes({
    1: {
      leaderNodeId: () => 2,
      proposeCommand: () => Promise.reject(rangeNotFound()),
      lookupRange: () => {
        throw rangeNotFound();
      },
    },
    2: { lookupRange: () => rangeInfo(5, "/a", "/m", { leaderNodeId: 3, local: true }) },
    3: { proposeCommand: result("range 5") },
  }, async (c) => {
    assert.equal(dec.decode(await c.node(1).router.propose(KEY, CMD, soon())), "range 5");
    assert.deepEqual(c.received(), ["2:LookupRange", "3:Propose"]);
  });
});

Deno.test("GrpcClusterRouter.propose() waits for a leader and retries RANGE_MOVED at once", async () => {
  const answers = [notLeader(0), notLeader(0), new RangeDbError(ErrorCode.RANGE_MOVED, "moved")];
  const at: number[] = [];
  await withNodes({
    1: {
      proposeCommand: () => {
        at.push(Date.now());
        const next = answers.shift();
        return next === undefined ? result("done")() : Promise.reject(next);
      },
    },
  }, async (c) => {
    assert.equal(dec.decode(await c.node(1).router.propose(KEY, CMD, soon())), "done");
    assert.equal(at.length, 4);
    assert.ok(at[1] - at[0] >= 15, "pauses while no leader is known");
    assert.ok(at[3] - at[2] < 15, "retries RANGE_MOVED at once");
  });
});

Deno.test("GrpcClusterRouter.propose() fails ambiguous UNAVAILABLE when a forwarded proposal was dropped", async () => {
  await withNodes({
    1: { proposeCommand: () => Promise.reject(notLeader(2)) },
    2: {
      proposeCommand: () =>
        Promise.reject(
          new RangeDbError(ErrorCode.UNAVAILABLE, "Cannot propose as leadership changed", {
            details: { ambiguous: true },
          }),
        ),
    },
  }, async (c) => {
    const started = Date.now();
    // UNAVAILABLE naming the last answer, or TIMEOUT when the last forward ran into the deadline.
    await assert.rejects(
      c.node(1).router.propose(KEY, CMD, started + 300),
      (err) =>
        isRangeDbError(err) && err.details.ambiguous === true &&
        (err.code === ErrorCode.TIMEOUT ||
          (err.code === ErrorCode.UNAVAILABLE &&
            /the outcome is unknown: last error: Cannot propose as leadership changed$/.test(
              err.message,
            ))),
    );
    assert.ok(c.node(2).received.length >= 2, "retried until the deadline");
  });
});

Deno.test("GrpcClusterRouter.propose() passes a TIMEOUT on as ambiguous and other refusals as they are", async () => {
  await withNodes({
    1: {
      proposeCommand: () => Promise.reject(new RangeDbError(ErrorCode.TIMEOUT, "Cannot wait")),
    },
    2: {
      proposeCommand: () => Promise.reject(new RangeDbError(ErrorCode.INVALID_ARGUMENT, "Bad")),
    },
  }, async (c) => {
    await assert.rejects(
      c.node(1).router.propose(KEY, CMD, soon()),
      (err) => isRangeDbError(err, ErrorCode.TIMEOUT) && err.details.ambiguous === true,
    );
    await assert.rejects(
      c.node(2).router.propose(KEY, CMD, soon()),
      (err) => isRangeDbError(err, ErrorCode.INVALID_ARGUMENT) && err.message === "Bad",
    );
  });
});

Deno.test("GrpcClusterRouter.waitApplied() waits locally or on the named node", async () => {
  const waits: string[] = [];
  await withNodes({
    1: {
      waitApplied: (rangeId, index) => {
        waits.push(`1:${rangeId}@${index}`);
        return Promise.resolve(index);
      },
    },
    2: {
      waitApplied: (rangeId, index) => {
        waits.push(`2:${rangeId}@${index}`);
        return Promise.resolve(index + 1);
      },
    },
  }, async (c) => {
    const router = c.node(1).router;
    assert.equal(await router.waitApplied(1, 7, 30, soon()), 30);
    assert.equal(await router.waitApplied(2, 7, 40, soon()), 41);
    assert.deepEqual(waits, ["1:7@30", "2:7@40"]);
    assert.deepEqual(c.received(), ["2:WaitApplied"]);
  });
});

Deno.test("GrpcClusterRouter.waitApplied() passes RANGE_NOT_FOUND on with its details", async () => {
  await withNodes({
    1: {},
    2: {
      waitApplied: () =>
        Promise.reject(
          new RangeDbError(ErrorCode.RANGE_NOT_FOUND, "Cannot wait as range 7 was merged", {
            details: { mergedIntoRangeId: 9 },
          }),
        ),
    },
  }, async (c) => {
    await assert.rejects(
      c.node(1).router.waitApplied(2, 7, 40, soon()),
      (err) =>
        isRangeDbError(err, ErrorCode.RANGE_NOT_FOUND) && err.details.mergedIntoRangeId === 9,
    );
  });
});

Deno.test("GrpcClusterRouter.waitApplied() fails UNAVAILABLE before the deadline for an unreachable node", async () => {
  await withNodes({ 1: {} }, async (c) => {
    const started = Date.now();
    await assert.rejects(
      c.node(1).router.waitApplied(9, 7, 40, started + 300),
      (err) =>
        isRangeDbError(err, ErrorCode.UNAVAILABLE) &&
        err.message ===
          "Cannot wait for node 9's replica of range 7 to apply index 40 as the node cannot be reached: its peer address is unknown",
    );
    assert.ok(Date.now() - started < 400);
  });
});
