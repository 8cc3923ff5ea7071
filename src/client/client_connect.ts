/**
 * {@linkcode connect}: checks the endpoints, creates a {@linkcode RangeDbClient} and learns the
 * leader before handing it out.
 *
 * @module
 */
import { ErrorCode } from "../base/errors.ts";
import { parseHostPort } from "../base/config_units.ts";
import { DEFAULT_TIMEOUT_MS, RangeDbClient } from "./client.ts";
import { EndpointPool } from "./client_endpoints.ts";
import { InvalidArgumentError } from "./client_errors.ts";
import type { ConnectOptions } from "./client_types.ts";

/**
 * Validates the endpoints of {@linkcode connect}.
 *
 * @param endpoints `host:port` addresses
 * @throws {InvalidArgumentError} when there is none or one is not host:port
 */
function validateEndpoints(endpoints: readonly string[]): void {
  if (endpoints.length === 0) {
    throw new InvalidArgumentError(
      ErrorCode.INVALID_ARGUMENT,
      "Cannot connect as no endpoint is given: pass at least one host:port",
    );
  }
  for (const endpoint of endpoints) {
    if (parseHostPort(endpoint) === undefined) {
      throw new InvalidArgumentError(
        ErrorCode.INVALID_ARGUMENT,
        `Cannot connect as an endpoint is not host:port: got '${endpoint}'`,
      );
    }
  }
}

/**
 * Connects to a RangeDB cluster: checks that an endpoint answers and learns the leader.
 *
 * @example
 * ```ts
 * import { connect } from "./mod.ts";
 * const db = await connect({ endpoints: ["127.0.0.1:7081", "127.0.0.1:7091"] });
 * await db.put("/user/123", JSON.stringify({ name: "John" }));
 * console.log(await db.getJson("/user/123"));
 * db.close();
 * ```
 *
 * @param options endpoints, default timeout, signal
 * @returns the client
 * @throws {InvalidArgumentError} for malformed endpoints
 * @throws {UnavailableError} when no endpoint answers within the timeout
 * @throws {CancelledError} when the signal aborts
 */
export async function connect(options: ConnectOptions): Promise<RangeDbClient> {
  validateEndpoints(options.endpoints);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const pool = new EndpointPool(
    options.endpoints,
    Math.floor(Math.random() * options.endpoints.length),
  );
  const client = new RangeDbClient(pool, timeoutMs);
  try {
    await client.findLeader({ timeoutMs, signal: options.signal });
  } catch (err) {
    client.close();
    throw err;
  }
  return client;
}
