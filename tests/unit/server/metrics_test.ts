import assert from "node:assert/strict";
import { createNodeMetrics, METRICS_CONTENT_TYPE } from "../../../src/server/metrics.ts";

/**
 * The value of the sample `series` (`name{label="value",…}`, labels in any order) in the
 * Prometheus text, or undefined when there is no such sample.
 */
function sample(text: string, series: string): number | undefined {
  const key = (s: string) => {
    const open = s.indexOf("{");
    if (open < 0) return s;
    const labels = s.slice(open + 1, s.lastIndexOf("}")).split(",").sort().join(",");
    return `${s.slice(0, open)}{${labels}}`;
  };
  const want = key(series);
  for (const line of text.split("\n")) {
    const space = line.lastIndexOf(" ");
    if (!line.startsWith("#") && space > 0 && key(line.slice(0, space)) === want) {
      return Number(line.slice(space + 1));
    }
  }
  return undefined;
}

Deno.test("createNodeMetrics().render() holds every family after observations", async () => {
  const metrics = createNodeMetrics({ node: "n1" }, { defaultMetrics: false });
  metrics.observeRequest("Put", "OK", 0.002);
  metrics.observeRequest("Put", "OK", 0.004);
  metrics.observeRequest("Get", "UNAVAILABLE", 1.5);
  const store = metrics.storeMetrics;
  store.batchWritten(1.5, true, 4096);
  store.batchWritten(0.2, false, 100);
  store.proposed(3);
  store.applied(1, 3);
  store.leaderChanged(1, 2, 5);
  store.rangeState(1, { term: 5, commit: 10, applied: 7 });
  const text = await metrics.render();

  assert.equal(sample(text, 'rangedb_grpc_requests_total{method="Put",code="OK",node="n1"}'), 2);
  assert.equal(
    sample(text, 'rangedb_grpc_requests_total{method="Get",code="UNAVAILABLE",node="n1"}'),
    1,
  );
  assert.equal(sample(text, 'rangedb_grpc_request_seconds_count{method="Put",node="n1"}'), 2);
  assert.equal(
    sample(text, 'rangedb_grpc_request_seconds_bucket{le="0.0025",method="Put",node="n1"}'),
    1,
  );
  assert.equal(
    sample(text, 'rangedb_storage_batch_write_seconds_sum{sync="true",node="n1"}'),
    0.0015,
  );
  assert.equal(
    sample(text, 'rangedb_storage_batch_write_bytes_total{sync="true",node="n1"}'),
    4096,
  );
  assert.equal(sample(text, 'rangedb_raft_proposals_total{node="n1"}'), 3);
  assert.equal(sample(text, 'rangedb_raft_applied_entries_total{range="1",node="n1"}'), 3);
  assert.equal(sample(text, 'rangedb_raft_leader_changes_total{range="1",node="n1"}'), 1);
  assert.equal(sample(text, 'rangedb_raft_term{range="1",node="n1"}'), 5);
  assert.equal(sample(text, 'rangedb_raft_commit_index{range="1",node="n1"}'), 10);
  assert.equal(sample(text, 'rangedb_raft_applied_index{range="1",node="n1"}'), 7);
  assert.equal(sample(text, 'rangedb_raft_apply_lag_entries{range="1",node="n1"}'), 3);
  assert.equal(sample(text, 'rangedb_raft_is_leader{range="1",node="n1"}'), 0);
  assert.equal(metrics.contentType, METRICS_CONTENT_TYPE);
  assert.match(METRICS_CONTENT_TYPE, /^text\/plain; version=0\.0\.4/);
});

Deno.test("NodeMetrics.setLocalNodeId() marks the ranges this node leads", async () => {
  const metrics = createNodeMetrics({ node: "n2" }, { defaultMetrics: false });
  metrics.storeMetrics.leaderChanged(1, 2, 4);
  metrics.storeMetrics.leaderChanged(3, 1, 4);
  metrics.setLocalNodeId(2);
  let text = await metrics.render();
  assert.equal(sample(text, 'rangedb_raft_is_leader{range="1",node="n2"}'), 1);
  assert.equal(sample(text, 'rangedb_raft_is_leader{range="3",node="n2"}'), 0);
  metrics.storeMetrics.leaderChanged(1, 0, 5);
  text = await metrics.render();
  assert.equal(sample(text, 'rangedb_raft_is_leader{range="1",node="n2"}'), 0);
  assert.equal(sample(text, 'rangedb_raft_leader_changes_total{range="1",node="n2"}'), 2);
});

Deno.test("createNodeMetrics() collects the default process metrics under Deno", async () => {
  const metrics = createNodeMetrics({ node: "n3" });
  const text = await metrics.render();
  for (
    const family of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_open_fds",
      "nodejs_heap_size_used_bytes",
      "nodejs_eventloop_lag_p99_seconds",
    ]
  ) {
    assert.ok((sample(text, `${family}{node="n3"}`) ?? -1) >= 0, `${family} is missing`);
  }
});

Deno.test("createNodeMetrics() keeps nodes of one process apart", async () => {
  const a = createNodeMetrics({ node: "a" }, { defaultMetrics: false });
  const b = createNodeMetrics({ node: "b" }, { defaultMetrics: false });
  a.storeMetrics.proposed(1);
  assert.equal(sample(await a.render(), 'rangedb_raft_proposals_total{node="a"}'), 1);
  assert.equal(sample(await b.render(), 'rangedb_raft_proposals_total{node="b"}'), 0);
});

Deno.test("NodeMetrics.watchScheduler() reads the scheduler's state at every scrape", async () => {
  const metrics = createNodeMetrics({ node: "n4" }, { defaultMetrics: false });
  let text = await metrics.render();
  assert.equal(sample(text, 'rangedb_raft_replicas{node="n4"}'), 0, "0 before the store opens");
  const state = {
    replicas: 10_000,
    awake: 12,
    turns: 7,
    replicaTicks: 30,
    leaderQuiesces: 3,
    messagesSent: 40,
  };
  metrics.watchScheduler(() => state);
  metrics.storeMetrics.turnBlocked(150);
  metrics.storeMetrics.turnBlocked(2);
  text = await metrics.render();
  assert.equal(sample(text, 'rangedb_raft_replicas{node="n4"}'), 10_000);
  assert.equal(sample(text, 'rangedb_raft_awake_replicas{node="n4"}'), 12);
  assert.equal(sample(text, 'rangedb_raft_turns_total{node="n4"}'), 7);
  assert.equal(sample(text, 'rangedb_raft_replica_ticks_total{node="n4"}'), 30);
  assert.equal(sample(text, 'rangedb_raft_leader_quiesces_total{node="n4"}'), 3);
  assert.equal(sample(text, 'rangedb_raft_messages_sent_total{node="n4"}'), 40);
  assert.equal(sample(text, 'rangedb_raft_turn_blocked_seconds_count{node="n4"}'), 2);
  assert.equal(sample(text, 'rangedb_raft_turn_blocked_seconds_bucket{le="0.1",node="n4"}'), 1);
  state.awake = 0;
  state.turns = 9;
  text = await metrics.render();
  assert.equal(sample(text, 'rangedb_raft_awake_replicas{node="n4"}'), 0);
  assert.equal(sample(text, 'rangedb_raft_turns_total{node="n4"}'), 9);
});
