/**
 * {@linkcode StoreMeta}: the store's range API for the layers above (docs/design/0009): finding
 * the range of a key (`lookupRange`), listing every range from range 1's meta copy
 * (`listRanges`), raw reads of the system keyspace (`metaScan`, `metaGet`), internal commands
 * proposed on a range's leader (`proposeCommand`), waiting for a replica's applied index
 * (`waitApplied`), and the cluster settings stored in range 1 (`clusterSettings`,
 * `setClusterSetting`).
 *
 * @module
 */

import { clusterConfigFrom, withClusterSetting } from "../base/config_cluster.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { compareBytes, MAX_TIMESTAMP } from "../base/key_encoding.ts";
import { mvccGet, mvccScan } from "../mvcc/mod.ts";
import { decodeCommand, decodeDescriptor, encodeResult, type RangeDescriptor } from "./command.ts";
import { inSpan } from "./apply_context.ts";
import { infoOfDescriptor } from "./range_split.ts";
import { setClusterSetting, settingName, storedClusterSettings } from "./cluster_settings.ts";
import { FIRST_RANGE_ID } from "./bootstrap.ts";
import type { CallOptions, MetaEntry, RangeInfo, ReadOptions } from "./kv_store.ts";
import { SYSTEM_START, systemKeys } from "./keys.ts";
import type { Replica } from "./replica.ts";
import type { Store } from "./store.ts";
import { noReplicaError } from "./store_ranges.ts";
import { versionOf } from "./version.ts";

/** The key right after `key` (`key` + 0x00). */
function successor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

/** The first key after every key starting with `prefix`; undefined when there is none. */
function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  // A copy even for a node Buffer (gRPC hands requests' bytes over as Buffers), whose slice() is
  // a view: raising its last byte would raise the prefix too and empty the scan.
  const out = Uint8Array.from(prefix);
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] < 0xff) {
      out[i]++;
      return out.subarray(0, i + 1);
    }
  }
  return undefined;
}

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  return key.length >= prefix.length &&
    compareBytes(key.subarray(0, prefix.length), prefix) === 0;
}

/** The store's range API. */
export class StoreMeta {
  readonly #store: Store;

  /** @param store the store */
  constructor(store: Store) {
    this.#store = store;
  }

  /** Range 1's initialized replica here, else RANGE_NOT_FOUND. */
  #rangeOne(): Replica {
    const r1 = this.#store.firstRange();
    if (r1?.applied === undefined) {
      throw new RangeDbError(
        ErrorCode.RANGE_NOT_FOUND,
        `Cannot read the meta copy as this node holds no replica of range 1: node is ${this.#store.nodeId}`,
        { details: { rangeId: FIRST_RANGE_ID, leaderNodeId: this.#store.leaderNodeId() } },
      );
    }
    return r1;
  }

  async #readPointOnRangeOne(options: ReadOptions | undefined): Promise<void> {
    this.#store.checkRunning();
    const r1 = this.#rangeOne();
    if (!options?.serializable) await r1.reads.wait(this.#store.deadlineOf(options));
  }

  /** See `KvStore.lookupRange`. */
  lookupRange(key: Uint8Array): RangeInfo {
    const store = this.#store;
    store.checkRunning();
    const r = store.rangeSet.replicaHolding(key);
    if (r !== undefined) return store.rangeSet.rangeInfo(r);
    const d = this.#lookupMeta(key);
    if (d !== undefined) return infoOfDescriptor(d);
    throw new RangeDbError(
      ErrorCode.RANGE_NOT_FOUND,
      `Cannot find the range of the key as neither a local replica nor the local meta copy holds it: node is ${store.nodeId}`,
      { details: { key, leaderNodeId: store.leaderNodeId() } },
    );
  }

  /** The meta copy's descriptor of the range holding `key` (one seek in the by-end index). */
  #lookupMeta(key: Uint8Array): RangeDescriptor | undefined {
    if (this.#store.firstRange()?.applied === undefined) return undefined;
    const span = systemKeys.partitionsByEndSpan();
    const r = mvccScan(this.#store.engine, {
      start: successor(systemKeys.partitionByEnd(key)),
      end: span.end,
      timestamp: MAX_TIMESTAMP,
      limit: 1,
    });
    if (r.status !== "ok" || r.rows.length === 0) return undefined;
    const d = decodeDescriptor(r.rows[0].value);
    return inSpan(d, key) ? d : undefined;
  }

  /** See `KvStore.listRanges`. */
  async listRanges(options?: ReadOptions): Promise<RangeInfo[]> {
    await this.#readPointOnRangeOne(options);
    const store = this.#store;
    const r = mvccScan(store.engine, { ...systemKeys.partitionsSpan(), timestamp: MAX_TIMESTAMP });
    const byId = new Map<number, RangeInfo>();
    if (r.status === "ok") {
      for (const row of r.rows) {
        const d = decodeDescriptor(row.value);
        const id = Number(d.rangeId);
        if (!store.rangeSet.tombstones.has(id)) byId.set(id, infoOfDescriptor(d));
      }
    }
    for (const replica of store.rangeSet.inOrder()) {
      const local = store.rangeSet.rangeInfo(replica);
      const meta = byId.get(replica.rangeId);
      if (meta !== undefined && meta.generation > local.generation) {
        // The meta copy is newer than this (lagging) replica: its bounds, the replica's state.
        const { start, end, generation, voters, learners } = meta;
        byId.set(replica.rangeId, { ...local, start, end, generation, voters, learners });
      } else {
        byId.set(replica.rangeId, local);
      }
    }
    return [...byId.values()].sort((a, b) =>
      compareBytes(a.start, b.start) || a.rangeId - b.rangeId
    );
  }

  #checkSystemKey(key: Uint8Array, what: string): void {
    if (!startsWith(key, SYSTEM_START)) {
      throw new RangeDbError(
        ErrorCode.INVALID_ARGUMENT,
        `Cannot read ${what} as it is outside the system keyspace: it must start with "_/", got ${
          JSON.stringify(new TextDecoder().decode(key.subarray(0, 64)))
        }`,
      );
    }
  }

  /** See `KvStore.metaScan`. */
  async metaScan(
    prefix: Uint8Array,
    limit: number,
    options?: ReadOptions,
  ): Promise<{ entries: MetaEntry[]; more: boolean }> {
    this.#checkSystemKey(prefix, "the meta prefix");
    await this.#readPointOnRangeOne(options);
    const max = limit > 0 ? limit : Infinity;
    const r = mvccScan(this.#store.engine, {
      start: prefix,
      end: prefixEnd(prefix),
      timestamp: MAX_TIMESTAMP,
      limit: max === Infinity ? undefined : max + 1,
    });
    if (r.status !== "ok") {
      throw new RangeDbError(ErrorCode.UNAVAILABLE, "Cannot scan as a key is locked");
    }
    const rows = r.rows.slice(0, max === Infinity ? r.rows.length : max);
    return {
      entries: rows.map((row) => ({
        key: row.key,
        value: row.value,
        version: versionOf(row.timestamp),
      })),
      more: r.rows.length > rows.length,
    };
  }

  /** See `KvStore.metaGet`. */
  async metaGet(key: Uint8Array, options?: ReadOptions): Promise<MetaEntry | undefined> {
    this.#checkSystemKey(key, "the meta key");
    await this.#readPointOnRangeOne(options);
    const r = mvccGet(this.#store.engine, key, MAX_TIMESTAMP);
    if (r.status !== "found") return undefined;
    return { key, value: r.value, version: versionOf(r.timestamp) };
  }

  /** See `KvStore.clusterSettings`. */
  async clusterSettings(options?: ReadOptions): Promise<Map<string, string>> {
    await this.#readPointOnRangeOne(options);
    return storedClusterSettings(this.#store.engine);
  }

  /** See `KvStore.setClusterSetting`. */
  async setClusterSetting(
    name: string,
    value: string,
    options?: CallOptions & { dryRun?: boolean },
  ): Promise<void> {
    const setting = settingName(name);
    // Validated against the settings as range 1 holds them now (linearizable read), so a value
    // that breaks a rule together with another setting (range_min_bytes < range_max_bytes) is
    // refused before anything is written.
    const current = clusterConfigFrom(await this.clusterSettings(options));
    if (options?.dryRun) {
      withClusterSetting(current, setting, value);
      return;
    }
    const deadline = this.#store.deadlineOf(options);
    await setClusterSetting(this.#store.coordination.commands, current, setting, value, deadline);
  }

  /** See `KvStore.proposeCommand`. */
  async proposeCommand(
    key: Uint8Array,
    command: Uint8Array,
    options?: CallOptions,
  ): Promise<Uint8Array> {
    const store = this.#store;
    store.checkRunning();
    let cmd;
    try {
      cmd = decodeCommand(command);
    } catch (err) {
      throw new RangeDbError(
        ErrorCode.INVALID_ARGUMENT,
        `Cannot propose the command as it does not decode: ${err}`,
      );
    }
    const replica = store.replicaFor(key);
    if (!replica.isLeader) throw replica.notLeaderError();
    const result = await replica.propose(cmd, store.deadlineOf(options), true, true);
    return encodeResult(result);
  }

  /** See `KvStore.waitApplied`. */
  waitApplied(rangeId: number, index: number, options?: CallOptions): Promise<number> {
    const store = this.#store;
    store.checkRunning();
    const into = store.rangeSet.tombstones.get(rangeId);
    if (into !== undefined) return Promise.reject(noReplicaError(rangeId, into));
    const r = store.replicas.get(rangeId);
    if (r === undefined) return Promise.reject(noReplicaError(rangeId));
    if (r.appliedIndex >= index) return Promise.resolve(r.appliedIndex);
    return r.appliedWaiters.wait(index, store.deadlineOf(options), store.clock, rangeId);
  }
}
