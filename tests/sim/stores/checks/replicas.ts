/**
 * Checks of the replicas' contents, once the cluster is quiet and every replica of a range has
 * applied the same index: identical applied state, identical content of the range's span in every
 * keyspace (`data`, `locks`, `dedupe`, `txn`), stats and intent count that match that content,
 * and no intent left anywhere (the final reads settled every batch).
 *
 * @module
 */

import { encodeAppliedState } from "../../../../src/kv/command.ts";
import { keySpan } from "../../../../src/kv/keys.ts";
import type { Replica } from "../../../../src/kv/replica.ts";
import { MvccBatch } from "../../../../src/mvcc/mod.ts";
import type { Engine, Keyspace } from "../../../../src/storage/mod.ts";
import { violation } from "../../failure.ts";
import type { SimCluster } from "../cluster.ts";
import { describeState } from "./applied_state.ts";
import { type Held, show, span } from "./layout.ts";

/** The checker's name in failures. */
export const REPLICA_CONTENT_CHECK = "replica_content";

const LOWEST = new Uint8Array([0x00]);
const HIGHEST = new Uint8Array([0xff, 0xff]);

/** The keys of `keyspace` that a range's span covers. */
function bounds(r: Replica, keyspace: Keyspace): { start: Uint8Array; end: Uint8Array } {
  const d = r.applied!.descriptor!;
  if (keyspace !== "locks") return keySpan(d);
  return {
    start: d.start.length === 0 ? LOWEST : d.start,
    end: d.end.length === 0 ? HIGHEST : d.end,
  };
}

function pairsIn(engine: Engine, r: Replica, keyspace: Keyspace): [Uint8Array, Uint8Array][] {
  return [...engine.scan(keyspace, bounds(r, keyspace))].map((kv) => [kv.key, kv.value]);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Where two lists of pairs first differ, as text; undefined when they are equal. */
function firstDifference(
  a: [Uint8Array, Uint8Array][],
  b: [Uint8Array, Uint8Array][],
): string | undefined {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i], y = b[i];
    if (x === undefined || y === undefined) {
      const extra = (x ?? y)!;
      return `${x === undefined ? "the second" : "the first"} has ${
        Math.abs(a.length - b.length)
      } more, from key ${show(extra[0])}`;
    }
    if (!equalBytes(x[0], y[0])) {
      return `keys differ at position ${i}: ${show(x[0])} / ${show(y[0])}`;
    }
    if (!equalBytes(x[1], y[1])) return `values of ${show(x[0])} differ`;
  }
  return undefined;
}

/**
 * Checks one range's replicas against each other and against their own content. Call only when
 * all of them applied the same index.
 */
export function checkRangeReplicas(cluster: SimCluster, rangeId: number, held: Held[]): void {
  const engineOf = (h: Held) => cluster.node(h.node).running!.store.engine;
  const first = held[0];
  const firstState = encodeAppliedState(first.replica.applied!);
  for (const h of held) {
    const st = h.replica.applied!;
    const engine = engineOf(h);
    const d = st.descriptor!;
    const live = new MvccBatch(engine, engine.batch()).liveStats(d.start, d.end);
    const stats = st.stats;
    if (
      BigInt(live.keys) !== (stats?.liveKeys ?? 0n) ||
      BigInt(live.bytes) !== (stats?.liveBytes ?? 0n)
    ) {
      violation(
        REPLICA_CONTENT_CHECK,
        `Cannot accept node ${h.node}'s ${
          span(d)
        } as its stats do not match its data: stats say ${stats?.liveKeys} keys, ${stats?.liveBytes} bytes; the span holds ${live.keys} keys, ${live.bytes} bytes`,
      );
    }
    const intents = pairsIn(engine, h.replica, "locks").length;
    if (BigInt(intents) !== st.intentCount) {
      violation(
        REPLICA_CONTENT_CHECK,
        `Cannot accept node ${h.node}'s ${
          span(d)
        } as its intent count is ${st.intentCount} while its span holds ${intents} intents`,
      );
    }
    if (h === first) continue;
    if (!equalBytes(encodeAppliedState(st), firstState)) {
      violation(
        REPLICA_CONTENT_CHECK,
        `Cannot accept range ${rangeId} as its replicas' applied states differ at one index: node ${first.node} has ${
          describeState(first.replica.applied!)
        }, node ${h.node} has ${describeState(st)}`,
      );
    }
    for (const ks of ["data", "locks", "dedupe", "txn"] as const) {
      const diff = firstDifference(
        pairsIn(engineOf(first), first.replica, ks),
        pairsIn(engine, h.replica, ks),
      );
      if (diff !== undefined) {
        violation(
          REPLICA_CONTENT_CHECK,
          `Cannot accept ${
            span(d)
          } as the ${ks} of its replicas on nodes ${first.node} and ${h.node} differ: ${diff}`,
        );
      }
    }
  }
}

/** Fails when any node's engine still holds an intent. */
export function checkNoIntents(cluster: SimCluster): void {
  for (const n of cluster.nodes) {
    const engine = n.running?.store.engine;
    if (engine === undefined) continue;
    for (const { key } of engine.scan("locks", { limit: 1 })) {
      violation(
        REPLICA_CONTENT_CHECK,
        `Cannot accept node ${n.id}'s state as an intent is left on ${
          show(key)
        } after every key was read`,
      );
    }
  }
}
