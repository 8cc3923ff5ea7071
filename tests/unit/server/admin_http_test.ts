import assert from "node:assert/strict";
import { ErrorCode, RangeDbError } from "../../../src/base/errors.ts";
import { handleAdminRequest } from "../../../src/server/admin_http.ts";

const cases: { method: string; path: string; ready: boolean; status: number; body: unknown }[] = [
  { method: "GET", path: "/healthz", ready: false, status: 200, body: { status: "ok" } },
  { method: "GET", path: "/readyz", ready: true, status: 200, body: { status: "ready" } },
  { method: "GET", path: "/readyz", ready: false, status: 503, body: { status: "starting" } },
  { method: "GET", path: "/api/v1/node", ready: true, status: 200, body: { nodeId: 7 } },
  { method: "GET", path: "/api/v1/cluster", ready: true, status: 200, body: { clusterId: "c1" } },
  {
    method: "GET",
    path: "/nope",
    ready: true,
    status: 404,
    body: { error: "Cannot find /nope: no such admin endpoint" },
  },
  {
    method: "POST",
    path: "/healthz",
    ready: true,
    status: 405,
    body: { error: "Cannot POST /healthz: only GET is supported" },
  },
];

for (const c of cases) {
  Deno.test(`handleAdminRequest() answers ${c.method} ${c.path} (ready=${c.ready}) with ${c.status}`, async () => {
    const res = await handleAdminRequest(
      new Request(`http://node${c.path}`, { method: c.method }),
      {
        ready: () => c.ready,
        nodeInfo: () => ({ nodeId: 7 }),
        clusterInfo: () => ({ clusterId: "c1" }),
        metrics: () => Promise.resolve({ contentType: "text/plain", body: "m 1\n" }),
      },
    );
    assert.equal(res.status, c.status);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await res.json(), c.body);
  });
}

Deno.test("handleAdminRequest() serves /metrics as Prometheus text", async () => {
  const res = await handleAdminRequest(new Request("http://node/metrics"), {
    ready: () => true,
    nodeInfo: () => ({}),
    metrics: () => Promise.resolve({ contentType: "text/plain; version=0.0.4", body: "up 1\n" }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4");
  assert.equal(await res.text(), "up 1\n");
});

Deno.test("handleAdminRequest() answers /readyz and /healthz with 503 and the reason once the node failed", async () => {
  const reason = "Cannot write to the data directory as its disk is full: /d: no space left";
  for (const path of ["/readyz", "/healthz"]) {
    const res = await handleAdminRequest(new Request(`http://node${path}`), {
      ready: () => true,
      failure: () => reason,
      nodeInfo: () => ({}),
    });
    assert.equal(res.status, 503, path);
    assert.deepEqual(await res.json(), { status: "failed", reason }, path);
  }
});

Deno.test("handleAdminRequest() serves /api/v1/partitions, with migrations when asked, and 503 on failure", async () => {
  const asked: boolean[] = [];
  const state = {
    ready: () => true,
    nodeInfo: () => ({}),
    partitions: (showMigrations: boolean) => {
      asked.push(showMigrations);
      return Promise.resolve({ partitions: [{ range_id: 1 }], migrations: [] });
    },
  };
  const get = (path: string, s: Parameters<typeof handleAdminRequest>[1] = state) =>
    handleAdminRequest(new Request(`http://node${path}`), s);
  const res = await get("/api/v1/partitions");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { partitions: [{ range_id: 1 }], migrations: [] });
  await (await get("/api/v1/partitions?show_migrations=true")).body?.cancel();
  assert.deepEqual(asked, [false, true]);
  const failing = await get("/api/v1/partitions", {
    ...state,
    partitions: () =>
      Promise.reject(new RangeDbError(ErrorCode.UNAVAILABLE, "Cannot list partitions: no quorum")),
  });
  assert.equal(failing.status, 503);
  assert.deepEqual(await failing.json(), {
    error: "Cannot list partitions: no quorum",
    code: "UNAVAILABLE",
  });
});
