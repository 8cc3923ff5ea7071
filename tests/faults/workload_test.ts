import assert from "node:assert/strict";
import { connect } from "../../src/client/mod.ts";
import { type TestCluster, withCluster } from "../harness/cluster.ts";
import { Rng } from "../sim/rng.ts";
import { createWorkload, type Workload, type WorkloadEnv } from "./workload.ts";

const OP_TIMEOUT_MS = 3_000;
const FINISH_MS = 30_000;

/** An environment for `runId` whose signal aborts after `seconds`. */
function envOf(cluster: TestCluster, runId: string, seed: number, seconds: number): WorkloadEnv {
  return {
    endpoints: cluster.clientAddresses(),
    rng: new Rng(seed),
    signal: AbortSignal.timeout(seconds * 1000),
    opTimeoutMs: OP_TIMEOUT_MS,
    runId,
    log: (message) => console.log(`${runId}: ${message}`),
  };
}

/** Runs `workload` for `seconds`, then `between`, then its final reads. */
async function runAndFinish(
  workload: Workload,
  env: WorkloadEnv,
  between: () => Promise<void> = () => Promise.resolve(),
): Promise<void> {
  await workload.run(env);
  await between();
  await workload.finish(env, Date.now() + FINISH_MS);
}

Deno.test("createWorkload() workloads pass against a healthy cluster and catch tampering", async (t) => {
  await withCluster({ nodes: 3, timeoutMs: 120_000 }, async (cluster) => {
    await cluster.waitAllReady();
    const db = await connect({ endpoints: cluster.clientAddresses(), timeoutMs: 10_000 });
    try {
      await t.step("register and set, 5 s each at once, are valid", async () => {
        // 40 ops per key: keys are retired and replaced during the run.
        const register = createWorkload("register", { opsPerKey: 40 });
        const set = createWorkload("set");
        await Promise.all([
          runAndFinish(register, envOf(cluster, "clean-register", 1, 5)),
          runAndFinish(set, envOf(cluster, "clean-set", 2, 5)),
        ]);
        for (const w of [register, set]) {
          const result = w.check();
          console.log(w.name, JSON.stringify(result));
          assert.equal(result.valid, true, result.anomalies.join("\n"));
          assert.ok(result.ok > 0, `${w.name}: no operation succeeded`);
          // Both client kinds did work: the SDK and raw gRPC to each node.
          const vias = viasOf(w);
          for (const via of ["sdk", "node 0", "node 1", "node 2"]) {
            assert.ok(vias.has(via), `${w.name}: no successful operation via ${via}`);
          }
        }
      });

      await t.step("a set insert deleted behind the workload's back is lost", async () => {
        const set = createWorkload("set");
        let victim = "";
        await runAndFinish(set, envOf(cluster, "tampered-set", 3, 2), async () => {
          const { inserts } = set.history() as { inserts: { key: string; status: string }[] };
          victim = inserts.find((i) => i.status === "ok")!.key;
          assert.equal(await db.delete(victim), true);
        });
        const result = set.check();
        assert.equal(result.valid, false);
        const lost = result.anomalies.filter((a) => a.startsWith(`lost: ${victim} `));
        // Missing from every node's final read.
        assert.equal(lost.length, 3, result.anomalies.join("\n"));
        assert.ok(lost.every((a) => / missing from read #\d+ by final read of node \d/.test(a)));
      });

      await t.step(
        "a register overwritten behind the workload's back fails the check",
        async () => {
          const register = createWorkload("register");
          let victim = "";
          await runAndFinish(register, envOf(cluster, "tampered-register", 4, 2), async () => {
            victim = (register.history() as { keys: string[] }).keys[0];
            await db.put(victim, "intruder");
          });
          const result = register.check();
          assert.equal(result.valid, false);
          assert.ok(
            result.anomalies.some((a) =>
              a.startsWith(`register ${victim}: `) &&
              a.endsWith(`saw "intruder", which no operation wrote`)
            ),
            result.anomalies.join("\n"),
          );
          assert.ok(
            result.anomalies.some((a) => a.startsWith(`register ${victim}: not linearizable`)),
          );
        },
      );
    } finally {
      db.close();
    }
  });
});

/** The clients that completed at least one operation of `w`'s history. */
function viasOf(w: Workload): Set<string> {
  const h = w.history() as {
    ops?: { via: string; status: string; worker: number }[];
    inserts?: { by: string; status: string }[];
  };
  if (h.ops !== undefined) {
    return new Set(h.ops.filter((o) => o.status === "ok" && o.worker >= 0).map((o) => o.via));
  }
  return new Set(h.inserts!.filter((i) => i.status === "ok").map((i) => i.by.split(" via ")[1]));
}
