/**
 * {@linkcode StoreMembership}: the cluster-level duties of a store around range 1: joins,
 * learner promotion, the first leader's `Bootstrap` command, this node's own node record, the
 * node list and addresses, and handing leadership away.
 *
 * @module
 */

import { ErrorCode, isRangeDbError, RangeDbError } from "../base/errors.ts";
import { MAX_TIMESTAMP } from "../base/key_encoding.ts";
import { SETTINGS } from "../base/config.ts";
import { formatClusterSetting, parseClusterSetting } from "../base/config_cluster.ts";
import { mvccGet, mvccScan } from "../mvcc/mod.ts";
import { ConfChangeTransition, ConfChangeType } from "../raft/mod.ts";
import {
  confStateOf,
  decodeNodeRecord,
  encodeDescriptor,
  newCommand,
  newNodeRecord,
  type NodeRecord,
} from "./command.ts";
import type { JoinRecord, JoinResult, NodeInfo } from "./kv_store.ts";
import { systemKeys } from "./keys.ts";
import type { Replica } from "./replica.ts";
import { lostDataMessage, sameIncarnation } from "./apply_system.ts";
import type { Store } from "./store.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Ticks between two attempts of a background duty (bootstrap, upsert, promotion). */
const DUTY_TICKS = 5;

/** The membership duties of one store. */
export class StoreMembership {
  readonly #store: Store;
  #records: Map<number, NodeRecord> | undefined;
  #ticks = 0;
  #bootstrapping = false;
  #upserting = false;
  #promoting = false;

  /** @param store the store */
  constructor(store: Store) {
    this.#store = store;
  }

  /** Forgets cached node records (system keys changed). */
  invalidate(): void {
    this.#records = undefined;
  }

  /** Node records by node id, read from the engine when the cache is stale. */
  records(): Map<number, NodeRecord> {
    if (this.#records !== undefined) return this.#records;
    const span = systemKeys.nodesSpan();
    const r = mvccScan(this.#store.engine, { ...span, timestamp: MAX_TIMESTAMP });
    const out = new Map<number, NodeRecord>();
    if (r.status === "ok") {
      for (const row of r.rows) {
        const rec = decodeNodeRecord(row.value);
        out.set(Number(rec.nodeId), rec);
      }
    }
    this.#records = out;
    return out;
  }

  /** Runs the background duties; called on every tick. */
  onTick(): void {
    if (++this.#ticks % DUTY_TICKS !== 0) return;
    const r1 = this.#store.firstRange();
    if (r1 === undefined || r1.applied === undefined || r1.lead === 0) return;
    if (r1.isLeader) {
      this.#maybeBootstrap(r1);
      this.#maybePromote(r1);
    }
    this.#maybeUpsertSelf(r1);
  }

  #deadline(): number {
    return this.#store.clock.now() + this.#store.tickIntervalMs * this.#store.electionTick * 2;
  }

  #maybeBootstrap(r1: Replica): void {
    if (this.#bootstrapping) return;
    if (Number(r1.applied!.appliedTerm) !== r1.term) return;
    const engine = this.#store.engine;
    if (mvccGet(engine, systemKeys.partition(r1.rangeId), MAX_TIMESTAMP).status !== "absent") {
      return;
    }
    this.#bootstrapping = true;
    const rf = SETTINGS.replication_factor.default;
    const cmd = newCommand({
      body: {
        case: "bootstrap",
        value: {
          descriptor: r1.descriptor,
          systemWrites: [{
            key: systemKeys.config("replication_factor"),
            value: encoder.encode(formatClusterSetting("replication_factor", rf)),
          }],
        },
      },
    });
    r1.propose(cmd, this.#deadline(), true).then(
      () => this.#store.logger.info("cluster bootstrapped", { range_id: r1.rangeId }),
      (err) => this.#store.logger.debug("bootstrap proposal failed", { error: String(err) }),
    ).finally(() => this.#bootstrapping = false);
  }

  #maybePromote(r1: Replica): void {
    if (this.#promoting) return;
    const status = r1.raw.status();
    if (status.progress === undefined) return;
    for (const id of status.config.learners) {
      const pr = status.progress.get(id);
      if (pr === undefined || pr.match < status.hardState.commit) continue;
      this.#promoting = true;
      this.#store.logger.info("promoting learner", { range_id: r1.rangeId, learner: id });
      r1.proposeConfChange({
        transition: ConfChangeTransition.Auto,
        changes: [{ type: ConfChangeType.AddNode, nodeId: id }],
      }, this.#deadline()).catch((err) =>
        this.#store.logger.debug("promotion failed", { learner: id, error: String(err) })
      ).finally(() => this.#promoting = false);
      return;
    }
  }

  #selfRecord(): NodeRecord {
    const s = this.#store;
    return newNodeRecord({
      name: s.options.identity.name,
      nodeId: s.nodeId,
      ...s.options.self,
      updatedAtMs: s.clock.now(),
      incarnation: s.options.identity.incarnation,
    });
  }

  #maybeUpsertSelf(r1: Replica): void {
    if (this.#upserting) return;
    const mine = this.records().get(this.#store.nodeId);
    const want = this.#selfRecord();
    if (
      mine !== undefined && mine.name === want.name && mine.peerAddress === want.peerAddress &&
      mine.clientAddress === want.clientAddress && mine.adminAddress === want.adminAddress &&
      mine.incarnation === want.incarnation
    ) return;
    this.#upserting = true;
    const cmd = newCommand({ body: { case: "upsertNode", value: { record: want } } });
    r1.propose(cmd, this.#deadline(), false).catch((err) =>
      this.#store.logger.debug("node record update failed", { error: String(err) })
    ).finally(() => this.#upserting = false);
  }

  /**
   * Adds a node: assigns its id (or finds the one its name has), then adds it to range 1 as a
   * learner; resolves once the conf change applied. Idempotent for a name already a member with
   * the same incarnation. The `AddNode` command is always proposed, even for a member: its apply
   * is where a name recorded with another incarnation is refused.
   *
   * @throws {RangeDbError} NOT_LEADER off range 1's leader, FAILED_PRECONDITION when the name is
   *   recorded with another incarnation, TIMEOUT/UNAVAILABLE at the deadline
   */
  async join(
    record: JoinRecord,
    deadline: number,
  ): Promise<JoinResult> {
    const store = this.#store;
    const r1 = store.firstRange();
    if (r1 === undefined || r1.applied === undefined) {
      throw new RangeDbError(
        ErrorCode.UNAVAILABLE,
        "Cannot join as this node holds no range 1 yet",
      );
    }
    if (!r1.isLeader) throw r1.notLeaderError();
    const rec = newNodeRecord({ ...record, nodeId: 0, updatedAtMs: store.clock.now() });
    const added = await r1.propose(
      newCommand({ body: { case: "addNode", value: { record: rec } } }),
      deadline,
      true,
    );
    const nodeId = Number(added.nodeId);
    store.logger.info("node joining", { name: record.name, joining_node_id: nodeId });
    const attempt = store.tickIntervalMs * store.electionTick;
    while (!this.#isMember(r1, nodeId)) {
      if (store.clock.now() >= deadline) {
        throw new RangeDbError(
          ErrorCode.TIMEOUT,
          `Cannot join node as its membership change did not apply before the deadline: node id is ${nodeId}`,
        );
      }
      try {
        await r1.proposeConfChange({
          transition: ConfChangeTransition.Auto,
          changes: [{ type: ConfChangeType.AddLearnerNode, nodeId }],
        }, Math.min(deadline, store.clock.now() + attempt));
      } catch (err) {
        if (isRangeDbError(err, ErrorCode.NOT_LEADER)) throw err;
        await new Promise<void>((resolve) => store.clock.after(store.tickIntervalMs, resolve));
      }
    }
    const peers = new Map<number, string>();
    for (const [id, addr] of store.options.initialPeers) peers.set(id, addr);
    for (const [id, r] of this.records()) peers.set(id, r.peerAddress);
    peers.set(nodeId, record.peerAddress);
    return { clusterId: store.clusterId, nodeId, peerAddresses: peers };
  }

  /**
   * Checks from the local applied state that a node may take part (see `KvStore.checkMember`).
   *
   * @throws {RangeDbError} FAILED_PRECONDITION for another cluster or a name recorded with another
   *   incarnation
   */
  checkMember(name: string, incarnation: string, clusterId: string): void {
    const store = this.#store;
    if (clusterId !== "" && clusterId !== store.clusterId) {
      throw new RangeDbError(
        ErrorCode.FAILED_PRECONDITION,
        `Cannot admit the node as it belongs to another cluster: its cluster is ${clusterId}, this is ${store.clusterId}`,
      );
    }
    const r = mvccGet(store.engine, systemKeys.node(name), MAX_TIMESTAMP);
    if (r.status !== "found") return;
    if (!sameIncarnation(decodeNodeRecord(r.value), { incarnation })) {
      throw new RangeDbError(ErrorCode.FAILED_PRECONDITION, lostDataMessage(name));
    }
  }

  #isMember(r1: Replica, nodeId: number): boolean {
    const cs = confStateOf(r1.descriptor);
    return cs.voters.includes(nodeId) || cs.learners.includes(nodeId);
  }

  /** The nodes known to the cluster. */
  nodes(): NodeInfo[] {
    const store = this.#store;
    const r1 = store.firstRange();
    const cs = confStateOf(r1?.descriptor);
    const status = r1?.isLeader ? r1.raw.status() : undefined;
    const ids = new Set<number>([...cs.voters, ...cs.learners, ...this.records().keys()]);
    const out: NodeInfo[] = [];
    for (const id of [...ids].sort((a, b) => a - b)) {
      const rec = this.records().get(id);
      const pr = status?.progress?.get(id);
      out.push({
        name: rec?.name ?? (id === store.nodeId ? store.options.identity.name : ""),
        nodeId: id,
        peerAddress: rec?.peerAddress ?? this.peerAddressOf(id) ?? "",
        clientAddress: rec?.clientAddress ?? this.clientAddressOf(id) ?? "",
        adminAddress: rec?.adminAddress ??
          (id === store.nodeId ? store.options.self.adminAddress : ""),
        role: cs.voters.includes(id) ? "voter" : cs.learners.includes(id) ? "learner" : "none",
        leader: r1?.lead === id,
        reachable: id === store.nodeId || (pr === undefined ? r1?.lead !== 0 : pr.recentActive),
        matchIndex: pr?.match ?? 0,
        updatedAtMs: Number(rec?.updatedAtMs ?? 0n),
      });
    }
    return out;
  }

  /** See `KvStore.incarnationMatches`. */
  incarnationMatches(nodeId: number, incarnation: string): boolean {
    const recorded = this.records().get(nodeId)?.incarnation ?? "";
    return recorded === "" || incarnation === "" || recorded === incarnation;
  }

  /** The configured replication factor. */
  replicationFactor(): number {
    const r = mvccGet(this.#store.engine, systemKeys.config("replication_factor"), MAX_TIMESTAMP);
    if (r.status !== "found") return SETTINGS.replication_factor.default;
    try {
      return parseClusterSetting("replication_factor", decoder.decode(r.value)) as number;
    } catch {
      return SETTINGS.replication_factor.default;
    }
  }

  /** Peer address of a node: its record, else the initial peers. */
  peerAddressOf(nodeId: number): string | undefined {
    const s = this.#store;
    if (nodeId === s.nodeId) return s.options.self.peerAddress;
    return this.records().get(nodeId)?.peerAddress ?? s.options.initialPeers.get(nodeId);
  }

  /** Client address of a node, from its record. */
  clientAddressOf(nodeId: number): string | undefined {
    const s = this.#store;
    if (nodeId === s.nodeId) return s.options.self.clientAddress;
    return this.records().get(nodeId)?.clientAddress;
  }

  /** Hands every range this node leads to its most caught-up voter; waits up to `timeoutMs`. */
  async transferLeadershipAway(timeoutMs: number): Promise<void> {
    const store = this.#store;
    const end = store.clock.now() + timeoutMs;
    const led: Replica[] = [];
    for (const r of store.replicas.values()) {
      if (!r.isLeader) continue;
      const status = r.raw.status();
      let best = 0;
      let bestMatch = -1;
      for (const id of status.config.voters) {
        const pr = status.progress?.get(id);
        if (id === store.nodeId || pr === undefined || pr.match <= bestMatch) continue;
        best = id;
        bestMatch = pr.match;
      }
      if (best === 0) continue;
      store.logger.info("transferring leadership", { range_id: r.rangeId, to: best });
      r.enqueueEvent(() => r.raw.transferLeader(best));
      led.push(r);
    }
    store.scheduler.wake();
    while (led.some((r) => r.isLeader) && store.clock.now() < end) {
      await new Promise<void>((resolve) => store.clock.after(store.tickIntervalMs, resolve));
    }
  }

  /** The descriptor bytes of range 1 (for tests and admin). */
  descriptorBytes(): Uint8Array | undefined {
    const d = this.#store.firstRange()?.descriptor;
    return d === undefined ? undefined : encodeDescriptor(d);
  }
}
