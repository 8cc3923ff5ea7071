/**
 * Tests of {@linkcode NetnsHosts} on real namespaces: which pairs a partition cuts (refused vs
 * silently dropped connections), open connections stalled and resumed, teardown on every exit
 * path, and real clusters under an isolated leader and a bridge partition. They need root, `ip`
 * and `iptables`; without them they are skipped, unless RANGEDB_REQUIRE_NETNS=1 (CI as root),
 * which makes them fail instead.
 */
import assert from "node:assert/strict";
import { connect } from "../../src/client/mod.ts";
import { type TestCluster, withCluster } from "./cluster.ts";
import { isCallError, KV, withNodeGrpc } from "./cluster_grpc.ts";
import { eventually } from "./cluster_workload.ts";
import { NetnsHosts, netnsUnavailable, removeLeftovers } from "./netns.ts";
import { partitionShapes } from "./partition_shapes.ts";

const unavailable = await netnsUnavailable();
const required = Deno.env.get("RANGEDB_REQUIRE_NETNS") === "1";
const ignore = unavailable !== undefined && !required;
if (ignore) console.log(`netns tests skipped: ${unavailable}`);

/** Fails a test that must run (RANGEDB_REQUIRE_NETNS=1) where namespaces are unavailable. */
function requireNetns(): void {
  if (unavailable !== undefined) {
    throw new Error(`Cannot run the netns test as ${unavailable} (RANGEDB_REQUIRE_NETNS=1)`);
  }
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const NETNS_TS = new URL("./netns.ts", import.meta.url).href;
/** Status codes of a refused or timed-out call (grpc UNAVAILABLE, DEADLINE_EXCEEDED). */
const REFUSALS = [14, 4];

async function ipOutput(args: string[]): Promise<string> {
  const out = await new Deno.Command("ip", { args, stdout: "piped", stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout);
}

/** Which of `names` still exist as a namespace or a link. */
async function remaining(names: readonly string[]): Promise<string[]> {
  const namespaces = (await ipOutput(["netns", "list"])).split("\n").map((l) => l.split(" ")[0]);
  const links = [...(await ipOutput(["-o", "link", "show"])).matchAll(/^\d+:\s+([^:@\s]+)/gm)]
    .map((m) => m[1]);
  return names.filter((n) => namespaces.includes(n) || links.includes(n));
}

/**
 * Whether a TCP connection from node `from` to node `to` (port 9, nothing listens) is answered:
 * "refused" (the RST came back) or "dropped" (no answer within 700 ms).
 */
async function probe(hosts: NetnsHosts, from: number, to: number): Promise<string> {
  const script = `exec 3<>/dev/tcp/${hosts.ip(to)}/9`;
  const [command, ...prefix] = hosts.prefix(from);
  const out = await new Deno.Command(command, {
    args: [...prefix, "timeout", "0.7", "bash", "-c", script],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (out.code === 124) return "dropped";
  const stderr = new TextDecoder().decode(out.stderr);
  return stderr.includes("refused") ? "refused" : `unexpected: ${stderr}`;
}

/** Every ordered pair's probe result, as `i>j` → result. */
async function reachability(hosts: NetnsHosts): Promise<Record<string, string>> {
  const pairs: [number, number][] = [];
  for (let i = 0; i < hosts.capacity; i++) {
    for (let j = 0; j < hosts.capacity; j++) if (i !== j) pairs.push([i, j]);
  }
  const results = await Promise.all(pairs.map(([i, j]) => probe(hosts, i, j)));
  return Object.fromEntries(pairs.map(([i, j], k) => [`${i}>${j}`, results[k]]));
}

/** The expected {@linkcode reachability} when exactly `cut` pairs are separated. */
function expectReach(n: number, cut: [number, number][]): Record<string, string> {
  const out: Record<string, string> = {};
  const isCut = (i: number, j: number) =>
    cut.some(([a, b]) => (a === i && b === j) || (a === j && b === i));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) if (i !== j) out[`${i}>${j}`] = isCut(i, j) ? "dropped" : "refused";
  }
  return out;
}

/** Whether the test process (root namespace) reaches node `i`: a refused connection. */
async function rootReaches(hosts: NetnsHosts, i: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: hosts.ip(i), port: 9 });
    conn.close();
    return true;
  } catch (err) {
    return err instanceof Deno.errors.ConnectionRefused;
  }
}

Deno.test({
  name: "NetnsHosts.partition() drops exactly the separated pairs, never the root namespace",
  ignore,
  async fn() {
    requireNetns();
    await using hosts = await NetnsHosts.create(3);
    assert.deepEqual(await reachability(hosts), expectReach(3, []));
    await hosts.partition([[0, 1], [1, 2]]);
    assert.equal(hosts.describe(), "{0,1} | {1,2}");
    assert.deepEqual(await reachability(hosts), expectReach(3, [[0, 2]]));
    await hosts.cut([[1, 0]]);
    assert.equal(hosts.describe(), "{0,1} | {1,2} + 0-1");
    assert.deepEqual(await reachability(hosts), expectReach(3, [[0, 2], [0, 1]]));
    for (let i = 0; i < 3; i++) assert.ok(await rootReaches(hosts, i), `root reaches ${i}`);
    await hosts.partition([[2, 1]]);
    assert.equal(hosts.describe(), "{1,2} | {0}");
    assert.deepEqual(await reachability(hosts), expectReach(3, [[0, 1], [0, 2]]));
    await hosts.heal();
    assert.equal(hosts.describe(), "none");
    assert.deepEqual(await reachability(hosts), expectReach(3, []));
    await assert.rejects(() => hosts.partition([[0, 3]]), /node 3 is outside/);
  },
});

/** A process in a namespace whose stdout lines the test waits for. */
function spawnIn(hosts: NetnsHosts, i: number, code: string) {
  const [command, ...prefix] = hosts.prefix(i);
  const child = new Deno.Command(command, {
    args: [...prefix, Deno.execPath(), "eval", code],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const text = { out: "", err: "" };
  const collect = (stream: ReadableStream<Uint8Array>, key: "out" | "err") =>
    stream.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (s) => void (text[key] += s) }),
    );
  const pumps = Promise.all([collect(child.stdout, "out"), collect(child.stderr, "err")]);
  const writer = child.stdin.getWriter();
  return {
    lines: () => text.out.split("\n").filter((l) => l !== ""),
    /** stdout and stderr so far, for failure messages. */
    output: () => `stdout: ${text.out}\nstderr: ${text.err}`,
    send: (line: string) => writer.write(enc(`${line}\n`)),
    async close(): Promise<void> {
      await writer.close().catch(() => undefined);
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await pumps.catch(() => undefined);
    },
  };
}

async function waitForLines(
  proc: ReturnType<typeof spawnIn>,
  count: number,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.lines().length >= count) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return proc.lines().length >= count;
}

Deno.test({
  name: "NetnsHosts.cut() stalls an open TCP connection without resetting it; heal() resumes it",
  ignore,
  async fn() {
    requireNetns();
    await using hosts = await NetnsHosts.create(2);
    const echo = spawnIn(
      hosts,
      1,
      `const l = Deno.listen({ hostname: "${hosts.ip(1)}", port: 9100 });
       console.log("listening");
       for await (const c of l) c.readable.pipeTo(c.writable).catch(() => {});`,
    );
    try {
      assert.ok(await waitForLines(echo, 1, 10_000), `the echo server listens: ${echo.output()}`);
      // Each stdin line sends one byte; each echoed byte prints "pong"; the end prints "closed".
      const client = spawnIn(
        hosts,
        0,
        `const c = await Deno.connect({ hostname: "${hosts.ip(1)}", port: 9100 });
         console.log("connected");
         (async () => {
           for await (const chunk of c.readable) for (const _ of chunk) console.log("pong");
           console.log("closed");
         })().catch((e) => console.log("closed " + e.name));
         const w = c.writable.getWriter();
         for await (const _ of Deno.stdin.readable) await w.write(new Uint8Array([1]));`,
      );
      try {
        await roundTrips(hosts, client);
      } finally {
        await client.close();
      }
    } finally {
      await echo.close();
    }
  },
});

/** Echoes before, during and after two cut/heal rounds over one connection. */
async function roundTrips(hosts: NetnsHosts, client: ReturnType<typeof spawnIn>): Promise<void> {
  assert.ok(await waitForLines(client, 1, 10_000), `the client connects: ${client.output()}`);
  await client.send("ping");
  assert.ok(await waitForLines(client, 2, 5_000), "an echo before the cut");
  // Twice: the second cut meets a connection that the first heal saw flowing again (with
  // connection tracking on, an ACCEPT of ESTABLISHED would let it through).
  for (const round of [1, 2]) {
    await hosts.cut([[0, 1]]);
    await client.send("ping");
    const lines = client.lines().length;
    assert.equal(await waitForLines(client, lines + 1, 1_500), false, `cut ${round} holds`);
    await hosts.heal();
    assert.ok(await waitForLines(client, lines + 1, 15_000), `heal ${round} resumes`);
    await client.send("ping");
    assert.ok(await waitForLines(client, lines + 2, 5_000), `an echo after heal ${round}`);
  }
  assert.deepEqual(client.lines(), ["connected", ...Array(5).fill("pong")], "one connection");
}

Deno.test({
  name: "NetnsHosts.destroy() leaves no namespace, veth or bridge, also when the body throws",
  ignore,
  async fn() {
    requireNetns();
    let names: string[] = [];
    await assert.rejects(async () => {
      await using hosts = await NetnsHosts.create(3);
      names = [...hosts.namespaces, ...hosts.links];
      assert.deepEqual(await remaining(names), names);
      await hosts.partition([[0, 1]]);
      throw new Error("the body failed");
    }, /the body failed/);
    assert.equal(names.length, 7);
    assert.deepEqual(await remaining(names), []);
    const hosts = await NetnsHosts.create(1);
    await hosts.destroy();
    await hosts.destroy();
    assert.deepEqual(await remaining([...hosts.namespaces, ...hosts.links]), []);
    await assert.rejects(() => hosts.heal(), /namespaces were destroyed/);
  },
});

/**
 * Runs `code` in a child process after it created 2 namespaces under the prefix "rdbt" and
 * printed their names (line 0); `code` sees them as `hosts`.
 */
function spawnOwner(code: string) {
  const script = `import { NetnsHosts } from "${NETNS_TS}";
    const hosts = await NetnsHosts.create(2, { prefix: "rdbt" });
    console.log(JSON.stringify([...hosts.namespaces, ...hosts.links]));
    ${code}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  return {
    child,
    /** Line `k` of stdout, once printed. */
    async line(k: number): Promise<string> {
      while (out.split("\n").length <= k + 1) {
        const { value, done } = await reader.read();
        if (done) {
          throw new Error(`Cannot read line ${k} of the owner: stdout ${out}, ${await stderr}`);
        }
        out += value;
      }
      return out.split("\n")[k];
    },
    /** SIGKILLs the child unless it ended; returns how it ended. */
    async end(): Promise<Deno.CommandStatus> {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await reader.cancel().catch(() => undefined);
      await stderr;
      return await child.status;
    },
  };
}

/** Whether `pid` runs (a zombie counts as ended). */
function runs(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

Deno.test({
  name: "NetnsHosts tears down when its process gets SIGTERM or ends without destroy()",
  ignore,
  async fn() {
    requireNetns();
    const terminated = spawnOwner("setTimeout(() => {}, 60_000);");
    try {
      const names: string[] = JSON.parse(await terminated.line(0));
      assert.equal((await remaining(names)).length, 5);
      terminated.child.kill("SIGTERM");
      const status = await terminated.child.status;
      assert.equal(status.signal, "SIGTERM", "the signal still ends the process");
      assert.deepEqual(await remaining(names), []);
    } finally {
      await terminated.end();
    }
    const forgotten = spawnOwner("");
    try {
      const names: string[] = JSON.parse(await forgotten.line(0));
      const status = await forgotten.child.status;
      assert.equal(status.code, 0);
      assert.deepEqual(await remaining(names), [], "the unload listener tore down");
    } finally {
      await forgotten.end();
    }
  },
});

Deno.test({
  name: "NetnsHosts.create() removes the leftovers of a killed owner and what runs in them",
  ignore,
  async fn() {
    requireNetns();
    const owner = spawnOwner(
      `const sleeper = new Deno.Command("ip", {
         args: ["netns", "exec", hosts.namespaces[0], "sleep", "60"],
         stdin: "null", stdout: "null", stderr: "null",
       }).spawn();
       console.log(sleeper.pid);
       setTimeout(() => {}, 60_000);`,
    );
    let names: string[] = [];
    let sleeper = 0;
    try {
      try {
        names = JSON.parse(await owner.line(0));
        sleeper = Number(await owner.line(1));
      } finally {
        assert.equal((await owner.end()).signal, "SIGKILL");
      }
      assert.equal((await remaining(names)).length, 5, "SIGKILL leaves everything behind");
      assert.ok(runs(sleeper), "the process in the namespace outlives its owner");
      const hosts = await NetnsHosts.create(1, { prefix: "rdbt" });
      try {
        assert.deepEqual(await remaining(names), []);
        await eventually(
          "the leftover process ended",
          5_000,
          () => Promise.resolve(runs(sleeper) ? [`${sleeper} runs`] : []),
        );
        assert.equal((await remaining([...hosts.namespaces, ...hosts.links])).length, 3);
      } finally {
        await hosts.destroy();
      }
    } finally {
      await removeLeftovers("rdbt");
      if (sleeper > 0 && runs(sleeper)) Deno.kill(sleeper, "SIGKILL");
    }
  },
});

/** Waits until every node of `among` names the same leader, one of `among`; returns its index. */
async function leaderAmong(cluster: TestCluster, among: number[], timeoutMs: number) {
  let leader = -1;
  await eventually(`a leader among ${among}`, timeoutMs, async () => {
    const views = await Promise.all(among.map((i) => cluster.clusterView(i)));
    const ids = new Set(views.map((v) => v?.leaderNodeId ?? 0));
    const index = among.find((_, k) => views[k]?.selfNodeId === views[0]?.leaderNodeId);
    if (ids.size !== 1 || ids.has(0) || index === undefined) {
      return [`views: ${JSON.stringify(views.map((v) => v?.leaderNodeId))}`];
    }
    leader = index;
    return [];
  });
  return leader;
}

Deno.test({
  name: "NetnsHosts.partition() isolating the leader: the rest elect another and take writes, " +
    "the old leader serves no linearizable read, and catches up after heal()",
  ignore,
  async fn() {
    requireNetns();
    await using hosts = await NetnsHosts.create(3);
    await withCluster({ nodes: 3, hosts, timeoutMs: 120_000 }, async (cluster) => {
      await cluster.waitAllReady();
      const old = await cluster.leaderIndex();
      const rest = [0, 1, 2].filter((i) => i !== old);
      const key = enc("/netns/register");
      await withNodeGrpc(
        cluster.nodes[old].client,
        (n) => n.unary(KV.method.put, { key, value: enc("before") }),
      );
      await eventually("the write on every node", 10_000, async () => {
        const got = await Promise.all(
          [0, 1, 2].map((i) =>
            withNodeGrpc(
              cluster.nodes[i].client,
              (n) => n.unary(KV.method.get, { key, serializable: true }),
            )
          ),
        );
        return got.filter((g) => dec(g.value) !== "before").map((g) => dec(g.value));
      });

      await hosts.partition([rest]);
      const next = await leaderAmong(cluster, rest, 20_000);
      assert.notEqual(next, old);
      await withNodeGrpc(
        cluster.nodes[rest[1 - rest.indexOf(next)]].client,
        (n) => n.unary(KV.method.put, { key, value: enc("after") }, 10_000),
      );

      const deadlineMs = 3_000;
      const started = Date.now();
      const outcome = await withNodeGrpc(
        cluster.nodes[old].client,
        (n) => n.unary(KV.method.get, { key }, deadlineMs),
      ).then(
        (res) => `a value: ${dec(res.value)}`,
        (err) => err,
      );
      assert.ok(isCallError(outcome), `the old leader answered ${outcome}`);
      assert.ok(REFUSALS.includes(outcome.code), `status ${outcome.code}: ${outcome.details}`);
      assert.ok(Date.now() - started < deadlineMs + 1_000, "within the deadline");
      console.log(`isolated old leader: status ${outcome.code} after ${Date.now() - started} ms`);
      const stale = await withNodeGrpc(
        cluster.nodes[old].client,
        (n) => n.unary(KV.method.get, { key, serializable: true }),
      );
      assert.equal(dec(stale.value), "before", "the old leader really is cut off");

      await hosts.heal();
      await eventually("the new value on the old leader", 30_000, async () => {
        const res = await withNodeGrpc(
          cluster.nodes[old].client,
          (n) => n.unary(KV.method.get, { key, serializable: true }, 2_000),
        );
        return dec(res.value) === "after" ? [] : [`it has ${dec(res.value)}`];
      });
    });
  },
});

Deno.test({
  name: "NetnsHosts.partition() with a bridge node on 5 nodes keeps the cluster writing",
  ignore,
  async fn() {
    requireNetns();
    await using hosts = await NetnsHosts.create(5);
    await withCluster({ nodes: 5, hosts, timeoutMs: 150_000 }, async (cluster) => {
      await cluster.waitAllReady();
      const leader = await cluster.leaderIndex();
      // The leader on one side, not the bridge: it cannot reach two of the four followers.
      const order = [leader, ...[0, 1, 2, 3, 4].filter((i) => i !== leader)];
      const bridge = partitionShapes(5).find((s) => s.name === "bridge")!;
      const groups = bridge.groups.map((g) => g.map((k) => order[k]));
      await hosts.partition(groups);
      const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 10_000 });
      try {
        // Longer than several election timeouts, so a leader churn would show as failures.
        const until = Date.now() + 5_000;
        let count = 0;
        for (; Date.now() < until || count < 20; count++) {
          await db.put(`/netns/bridge/${count}`, `v${count}`);
        }
        for (let i = 0; i < count; i += Math.ceil(count / 10)) {
          assert.equal(await db.getText(`/netns/bridge/${i}`), `v${i}`);
        }
        console.log(`${hosts.describe()}: ${count} writes in 5 s`);
      } finally {
        db.close();
      }
    });
  },
});
