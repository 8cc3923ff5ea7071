/**
 * A node's Prometheus metrics, rendered as text on the admin port's `/metrics`: gRPC requests
 * per method and status, the store's observations ({@linkcode StoreMetrics}: batch writes and
 * their fsync latency, proposals, applied entries, leader changes, term, commit and applied
 * index, apply lag), and prom-client's default process and runtime metrics, which all work
 * under Deno. Every series carries the `node` label.
 *
 * @example
 * ```ts
 * const metrics = createNodeMetrics({ node: "n1" });
 * metrics.observeRequest("Put", "OK", 0.002);
 * const text = await metrics.render(); // served with METRICS_CONTENT_TYPE
 * ```
 *
 * @module
 */

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { StoreMetrics } from "../kv/metrics.ts";

/** The content type of {@linkcode NodeMetrics.render}'s text (Prometheus text format 0.0.4). */
export const METRICS_CONTENT_TYPE: string = Registry.PROMETHEUS_CONTENT_TYPE;

/** Latency buckets in seconds: 100 µs (an fsync on fast flash) to 10 s (a request deadline). */
const LATENCY_BUCKETS = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** The metrics of one node. */
export interface NodeMetrics {
  /** The prom-client registry holding every metric of this node. */
  readonly registry: Registry;
  /** {@linkcode METRICS_CONTENT_TYPE}, for the HTTP handler. */
  readonly contentType: string;
  /** What the store reports, recorded into this registry. */
  readonly storeMetrics: StoreMetrics;
  /**
   * Counts one finished client request and observes its latency. A plain function (no `this`),
   * so it can be passed around as a callback.
   *
   * @param method the gRPC method name, e.g. "Put"
   * @param code the gRPC status name, e.g. "OK", "UNAVAILABLE"
   * @param seconds from receipt to response
   */
  observeRequest(method: string, code: string, seconds: number): void;
  /**
   * Names this node's numeric id once it is known (after joining or bootstrapping), so that
   * `rangedb_raft_is_leader` can tell whether this node leads a range. Until then it is 0.
   */
  setLocalNodeId(nodeId: number): void;
  /**
   * Reads the scheduler's state at every scrape from `read` (once the store is open): the local
   * replicas, how many are awake (not quiesced), and what the scheduler did since it started.
   */
  watchScheduler(read: () => SchedulerState): void;
  /** The Prometheus text of every metric. */
  render(): Promise<string>;
}

/** What {@linkcode NodeMetrics.watchScheduler} reads at a scrape. */
export interface SchedulerState {
  /** Local replicas. */
  replicas: number;
  /** Replicas that tick (the others are quiesced). */
  awake: number;
  /** Turns since start. */
  turns: number;
  /** Ticks handed to replicas since start. */
  replicaTicks: number;
  /** Times a leader quiesced its range since start. */
  leaderQuiesces: number;
  /** Raft messages sent to other nodes since start. */
  messagesSent: number;
}

/** Options of {@linkcode createNodeMetrics}. */
export interface NodeMetricsOptions {
  /** Whether to collect prom-client's default process and runtime metrics. @default true */
  defaultMetrics?: boolean;
}

/**
 * Creates the metrics of one node in a registry of its own (several nodes may share a process
 * in tests).
 *
 * @param labels labels on every series: `node` is the node's name
 * @param options see {@linkcode NodeMetricsOptions}
 * @returns the node's metrics
 */
export function createNodeMetrics(
  labels: { node: string },
  options: NodeMetricsOptions = {},
): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: labels.node });
  const registers = [registry];
  const requests = new Counter({
    name: "rangedb_grpc_requests_total",
    help: "Client gRPC requests finished, by method and status code.",
    labelNames: ["method", "code"] as const,
    registers,
  });
  const requestSeconds = new Histogram({
    name: "rangedb_grpc_request_seconds",
    help: "Latency of client gRPC requests from receipt to response, by method.",
    labelNames: ["method"] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const store = createStoreMetrics(registry);
  const scheduler = createSchedulerMetrics(registry);
  return {
    registry,
    contentType: METRICS_CONTENT_TYPE,
    storeMetrics: store.storeMetrics,
    observeRequest: (method, code, seconds) => {
      requests.inc({ method, code });
      requestSeconds.observe({ method }, seconds);
    },
    setLocalNodeId: store.setLocalNodeId,
    watchScheduler: scheduler.watch,
    render: () => registry.metrics(),
  };
}

/** The store's collectors and the {@linkcode StoreMetrics} that feeds them. */
function createStoreMetrics(registry: Registry): {
  storeMetrics: StoreMetrics;
  setLocalNodeId(nodeId: number): void;
} {
  const registers = [registry];
  const batchSeconds = new Histogram({
    name: "rangedb_storage_batch_write_seconds",
    help: "Time to write one engine batch until durable (sync=true: includes the fsync).",
    labelNames: ["sync"] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const batchBytes = new Counter({
    name: "rangedb_storage_batch_write_bytes_total",
    help: "Bytes written in engine batches.",
    labelNames: ["sync"] as const,
    registers,
  });
  const turnBlocked = new Histogram({
    name: "rangedb_raft_turn_blocked_seconds",
    help: "Time a scheduler turn held the event loop (its synchronous work, the write excluded).",
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const proposals = new Counter({
    name: "rangedb_raft_proposals_total",
    help: "Proposals handed to Raft.",
    registers,
  });
  const applied = new Counter({
    name: "rangedb_raft_applied_entries_total",
    help: "Raft log entries applied, by range.",
    labelNames: ["range"] as const,
    registers,
  });
  const leaderChanges = new Counter({
    name: "rangedb_raft_leader_changes_total",
    help: "Times a range saw a new leader or lost its leader, by range.",
    labelNames: ["range"] as const,
    registers,
  });
  const gauge = (name: string, help: string) =>
    new Gauge({ name, help, labelNames: ["range"] as const, registers });
  const term = gauge("rangedb_raft_term", "Current Raft term of the range's local replica.");
  const commit = gauge("rangedb_raft_commit_index", "Commit index of the range's local replica.");
  const appliedIndex = gauge(
    "rangedb_raft_applied_index",
    "Applied index of the range's local replica.",
  );
  const applyLag = gauge(
    "rangedb_raft_apply_lag_entries",
    "Committed entries not yet applied by the range's local replica (commit - applied).",
  );
  const isLeader = gauge(
    "rangedb_raft_is_leader",
    "1 when this node leads the range, else 0.",
  );
  /** Range id → leader node id as last reported (0: none). */
  const leaders = new Map<number, number>();
  let localNodeId = 0;
  const setIsLeader = (rangeId: number, leader: number) =>
    isLeader.set({ range: String(rangeId) }, localNodeId !== 0 && leader === localNodeId ? 1 : 0);
  const storeMetrics: StoreMetrics = {
    batchWritten(ms, sync, bytes) {
      const label = { sync: sync ? "true" : "false" };
      batchSeconds.observe(label, ms / 1000);
      batchBytes.inc(label, bytes);
    },
    proposed(count) {
      proposals.inc(count);
    },
    turnBlocked(ms) {
      turnBlocked.observe(ms / 1000);
    },
    applied(rangeId, count) {
      applied.inc({ range: String(rangeId) }, count);
    },
    leaderChanged(rangeId, leaderNodeId, newTerm) {
      const range = String(rangeId);
      leaderChanges.inc({ range });
      leaders.set(rangeId, leaderNodeId);
      setIsLeader(rangeId, leaderNodeId);
      term.set({ range }, newTerm);
    },
    rangeState(rangeId, state) {
      const range = String(rangeId);
      term.set({ range }, state.term);
      commit.set({ range }, state.commit);
      appliedIndex.set({ range }, state.applied);
      applyLag.set({ range }, Math.max(0, state.commit - state.applied));
    },
  };
  return {
    storeMetrics,
    setLocalNodeId(nodeId) {
      localNodeId = nodeId;
      for (const [rangeId, leader] of leaders) setIsLeader(rangeId, leader);
    },
  };
}

/** The scheduler's gauges and counters, read at scrape time from the watched state. */
function createSchedulerMetrics(registry: Registry): {
  watch(read: () => SchedulerState): void;
} {
  let read: (() => SchedulerState) | undefined;
  const registers = [registry];
  new Gauge({
    name: "rangedb_raft_replicas",
    help: "Replicas on this node.",
    registers,
    collect() {
      const s = read?.();
      if (s !== undefined) this.set(s.replicas);
    },
  });
  new Gauge({
    name: "rangedb_raft_awake_replicas",
    help: "Replicas on this node that tick; the others are quiesced.",
    registers,
    collect() {
      const s = read?.();
      if (s !== undefined) this.set(s.awake);
    },
  });
  const counter = (name: string, help: string, pick: (s: SchedulerState) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        const s = read?.();
        if (s === undefined) return;
        this.reset();
        this.inc(pick(s));
      },
    });
  counter("rangedb_raft_turns_total", "Scheduler turns since start.", (s) => s.turns);
  counter(
    "rangedb_raft_replica_ticks_total",
    "Ticks handed to awake replicas since start.",
    (s) => s.replicaTicks,
  );
  counter(
    "rangedb_raft_leader_quiesces_total",
    "Times a leader quiesced its range since start.",
    (s) => s.leaderQuiesces,
  );
  counter(
    "rangedb_raft_messages_sent_total",
    "Raft messages sent to other nodes since start (snapshots not included).",
    (s) => s.messagesSent,
  );
  return { watch: (fn) => read = fn };
}
