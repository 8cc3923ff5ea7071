/**
 * The admin HTTP port: health and readiness probes, Prometheus metrics and a JSON API under
 * `/api/v1/` (`node`, `cluster`, `partitions`). The console is served here too once it exists.
 *
 * @module
 */

import { ErrorCode, isRangeDbError } from "../base/errors.ts";

/** What the admin port needs to know about the node. */
export interface AdminState {
  /** True once the node serves client requests. */
  ready(): boolean;
  /**
   * Why the node failed for good (a write to its data directory failed), if it has: `/readyz`
   * and `/healthz` then answer 503 with it as `reason`.
   */
  failure?(): string | undefined;
  /** The JSON document of `GET /api/v1/node`. */
  nodeInfo(): Record<string, unknown>;
  /** The JSON document of `GET /api/v1/cluster`; absent before the node has joined a cluster. */
  clusterInfo?(): Record<string, unknown> | undefined;
  /**
   * The JSON document of `GET /api/v1/partitions` (`?show_migrations=true` adds the splits and
   * merges in flight): every range of the cluster. Rejects with a RangeDbError when the list
   * cannot be read (no quorum, still starting).
   */
  partitions?(showMigrations: boolean): Promise<Record<string, unknown>>;
  /** The Prometheus text of `GET /metrics` and its content type. */
  metrics?(): Promise<{ contentType: string; body: string }>;
}

/** A running admin HTTP server. */
export interface AdminServer {
  /** The address it listens on (the real port when 0 was asked for). */
  readonly address: { hostname: string; port: number };
  /** Stops accepting connections and waits for in-flight requests. */
  close(): Promise<void>;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json" },
  });
}

/**
 * Routes one admin request.
 *
 * @param request the HTTP request
 * @param state the node's state
 * @returns the response
 */
export async function handleAdminRequest(
  request: Request,
  state: AdminState,
): Promise<Response> {
  const { pathname, searchParams } = new URL(request.url);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return json(405, { error: `Cannot ${request.method} ${pathname}: only GET is supported` });
  }
  const failure = state.failure?.();
  switch (pathname) {
    case "/healthz":
      return failure === undefined
        ? json(200, { status: "ok" })
        : json(503, { status: "failed", reason: failure });
    case "/readyz":
      if (failure !== undefined) return json(503, { status: "failed", reason: failure });
      return state.ready() ? json(200, { status: "ready" }) : json(503, { status: "starting" });
    case "/api/v1/node":
      return json(200, state.nodeInfo());
    case "/api/v1/cluster": {
      const info = state.clusterInfo?.();
      return info === undefined
        ? json(503, { error: "Cannot describe the cluster as this node has not joined one yet" })
        : json(200, info);
    }
    case "/api/v1/partitions": {
      if (state.partitions === undefined) return json(404, { error: `Cannot find ${pathname}` });
      try {
        return json(200, await state.partitions(searchParams.get("show_migrations") === "true"));
      } catch (err) {
        const code = isRangeDbError(err) ? err.code : ErrorCode.INTERNAL;
        return json(503, { error: err instanceof Error ? err.message : String(err), code });
      }
    }
    case "/metrics": {
      if (state.metrics === undefined) return json(404, { error: "Cannot find /metrics" });
      const { contentType, body } = await state.metrics();
      return new Response(body, { status: 200, headers: { "content-type": contentType } });
    }
    default:
      return json(404, { error: `Cannot find ${pathname}: no such admin endpoint` });
  }
}

/**
 * Starts the admin HTTP server.
 *
 * @param hostname interface to listen on
 * @param port port to listen on (0 picks a free one)
 * @param state the node's state
 * @returns the running server
 */
export async function startAdminServer(
  hostname: string,
  port: number,
  state: AdminState,
): Promise<AdminServer> {
  const { promise: listening, resolve } = Promise.withResolvers<{ port: number }>();
  const server = Deno.serve(
    { hostname, port, onListen: (addr) => resolve(addr) },
    (request) => handleAdminRequest(request, state),
  );
  const addr = await listening;
  return {
    address: { hostname, port: addr.port },
    close: () => server.shutdown(),
  };
}
