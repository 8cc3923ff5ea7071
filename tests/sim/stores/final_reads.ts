/**
 * The reads of the liveness phase: every workload key once, through a random node, retried until
 * it answers. A read that meets a batch's intent settles it (waiting out its TTL), so afterwards
 * no intent may be left; the reads go into the history like any other, and the bank check uses
 * their balances.
 *
 * @module
 */

import type { HistoryOp } from "../../harness/linearizability.ts";
import type { Rng } from "../rng.ts";
import type { TraceHash } from "../trace.ts";
import { digest, readKey, retried, SETTLE_GRACE_MS } from "./client_calls.ts";
import type { SimCluster } from "./cluster.ts";
import { clientCall } from "./sim_rpc.ts";

const ATTEMPT_MS = 2000;

/**
 * Reads `keys` one by one, recording each in `history`.
 *
 * @returns the value of each key (null when absent)
 */
export async function readAll(
  cluster: SimCluster,
  rng: Rng,
  keys: readonly string[],
  history: HistoryOp[],
  clock: { tick(): number },
  trace: TraceHash,
  fail: (message: string) => void,
): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  for (const key of keys) {
    const call = clock.tick();
    for (;;) {
      const node = cluster.randomUp();
      if (node !== undefined) {
        try {
          const v = await clientCall(
            cluster,
            node.id,
            ATTEMPT_MS,
            "final read",
            (st) => readKey(st, key, st.clock.now() + ATTEMPT_MS - 20),
            ATTEMPT_MS + SETTLE_GRACE_MS,
          );
          history.push({
            id: history.length + 1,
            key,
            call,
            ret: clock.tick(),
            op: { kind: "read", value: v },
          });
          trace.add(7, node.id, digest(v));
          out.set(key, v);
          break;
        } catch (err) {
          if (!retried(err)) {
            fail(`Cannot read ${key} at the end as node ${node.id} failed it unexpectedly: ${err}`);
            return out;
          }
        }
      }
      await new Promise<void>((resolve) => cluster.base.after(rng.range(5, 50), resolve));
    }
  }
  return out;
}
