/**
 * The SDK as a load target of `bench/_load.ts`: `connections` clients of the TypeScript SDK, each
 * with its range cache, so that every put goes straight to the leader of its key's range (the
 * path an application takes). Puts carry a request id, as every SDK write does.
 *
 * @module
 */

import { connect, type RangeDbClient } from "../src/client/mod.ts";
import type { LoadTarget } from "./_load.ts";

/** A pool of SDK clients; worker `w` uses client `w % connections`. */
export class SdkTarget implements LoadTarget {
  readonly protocol = { name: "RangeDB SDK" };
  readonly #clients: RangeDbClient[];
  readonly #timeoutMs: number;

  private constructor(clients: RangeDbClient[], timeoutMs: number) {
    this.#clients = clients;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Connects `connections` SDK clients to `endpoints`.
   *
   * @param timeoutMs each call's budget, retries included
   */
  static async connect(
    endpoints: string[],
    connections: number,
    timeoutMs: number,
  ): Promise<SdkTarget> {
    const clients: RangeDbClient[] = [];
    try {
      for (let i = 0; i < connections; i++) {
        clients.push(await connect({ endpoints, timeoutMs }));
      }
    } catch (err) {
      for (const c of clients) c.close();
      throw err;
    }
    return new SdkTarget(clients, timeoutMs);
  }

  async put(channel: number, key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.#client(channel).put(key, value, { timeoutMs: this.#timeoutMs });
  }

  async get(channel: number, key: Uint8Array): Promise<void> {
    await this.#client(channel).get(key, { timeoutMs: this.#timeoutMs });
  }

  /** Closes every client. */
  close(): void {
    for (const c of this.#clients) c.close();
  }

  #client(channel: number): RangeDbClient {
    return this.#clients[channel % this.#clients.length];
  }
}
