/**
 * Checked all along the run, at every replica of every running node:
 * - identical applied state at equal applied index: whenever a replica is seen at a new applied
 *   index, its applied state (descriptor, stats, versions, freeze, intent count, dedupe sweep …)
 *   must be byte for byte what every other replica of the range had at that index. Apply is
 *   deterministic, whether a replica got there by entries or by a snapshot;
 * - no replica, not even an uninitialized one, of a range its node merged away (a late message
 *   must not bring it back);
 * - at most one leader per range and term.
 *
 * @module
 */

import { encodeAppliedState } from "../../../../src/kv/command.ts";
import { violation } from "../../failure.ts";
import { digest } from "../client_calls.ts";
import type { SimCluster } from "../cluster.ts";

/** The checker's name in failures. */
export const APPLIED_STATE_CHECK = "applied_state";
/** The checker's name of a replica of a range merged away. */
export const TOMBSTONE_CHECK = "tombstone";
/** The checker's name of two leaders of one range in one term. */
export const LEADER_CHECK = "leader_per_term";

function hashBytes(b: Uint8Array): string {
  let h1 = 0x811c9dc5, h2 = 0x01000193;
  for (let i = 0; i < b.length; i++) {
    h1 = Math.imul(h1 ^ b[i], 0x01000193);
    h2 = Math.imul(h2 ^ b[i] ^ (h1 >>> 11), 0x85ebca6b);
  }
  return `${b.length}:${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}`;
}

/** Watches every replica's applied state. */
export class AppliedStateCheck {
  /** `range/index` → hash of the applied state and the node that first had it. */
  readonly #seen = new Map<string, { hash: string; node: number; text: string }>();
  /** `node/range` → the applied index last looked at. */
  readonly #last = new Map<string, number>();
  /** `range/term` → the node seen leading it. */
  readonly #leaders = new Map<string, number>();
  observations = 0;

  /** Looks at every running replica; fails on a mismatch. */
  observe(cluster: SimCluster): void {
    for (const n of cluster.nodes) {
      const store = n.running?.store;
      if (store === undefined) continue;
      for (const r of store.replicas.values()) {
        const into = store.rangeSet.tombstones.get(r.rangeId);
        if (into !== undefined && !r.destroyed) {
          violation(
            TOMBSTONE_CHECK,
            `Cannot accept node ${n.id}'s replica of range ${r.rangeId} as the node merged that range into range ${into}`,
          );
        }
        if (r.isLeader && !r.destroyed) {
          const at = `${r.rangeId}/${r.term}`;
          const other = this.#leaders.get(at);
          if (other === undefined) this.#leaders.set(at, n.id);
          else if (other !== n.id) {
            violation(
              LEADER_CHECK,
              `Cannot accept two leaders of range ${r.rangeId} in term ${r.term}: nodes ${other} and ${n.id}`,
            );
          }
        }
        const applied = r.applied;
        if (applied === undefined || r.destroyed) continue;
        const index = Number(applied.appliedIndex);
        const at = `${n.id}/${r.rangeId}`;
        if (this.#last.get(at) === index) continue;
        this.#last.set(at, index);
        this.observations++;
        const bytes = encodeAppliedState(applied);
        const hash = hashBytes(bytes);
        const key = `${r.rangeId}/${index}`;
        const first = this.#seen.get(key);
        if (first === undefined) {
          this.#seen.set(key, { hash, node: n.id, text: describeState(applied) });
        } else if (first.hash !== hash) {
          violation(
            APPLIED_STATE_CHECK,
            `Cannot accept range ${r.rangeId}'s applied state at index ${index} as two replicas differ: node ${first.node} had ${first.text}, node ${n.id} has ${
              describeState(applied)
            }`,
          );
        }
      }
    }
  }
}

/** The applied state as short text for failure messages. */
export function describeState(s: Parameters<typeof encodeAppliedState>[0]): string {
  const d = s.descriptor;
  const dec = (b: Uint8Array | undefined) => JSON.stringify(new TextDecoder().decode(b));
  return `{index ${s.appliedIndex} term ${s.appliedTerm} lastVersion ${s.lastVersion} span [${
    dec(d?.start)
  }, ${
    dec(d?.end)
  }) gen ${d?.generation} keys ${s.stats?.liveKeys} bytes ${s.stats?.liveBytes} intents ${s.intentCount} frozen ${s.frozenIntoRangeId} sweep ${s.dedupeSweepVersion}/${
    digest(dec(s.dedupeSweepCursor))
  } subsumed ${s.lastSubsumedRangeId} nextRange ${s.nextRangeId}}`;
}
