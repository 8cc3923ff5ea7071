/**
 * The endpoints of one SDK client: one grpc client per address, created on first use and closed
 * with the pool; the leader's client address as last learned; and a round robin over the
 * configured endpoints for calls that any node may serve.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { CHANNEL_OPTIONS, RangeDbGrpcClient } from "./client_grpc.ts";

/** Addresses and their grpc clients. */
export class EndpointPool {
  readonly #endpoints: readonly string[];
  readonly #clients = new Map<string, grpc.Client>();
  #next = 0;
  #leader: string | undefined;
  #closed = false;

  /**
   * @param endpoints the configured `host:port` addresses, at least one
   * @param start the round robin's first position (spreads clients over endpoints)
   */
  constructor(endpoints: readonly string[], start = 0) {
    this.#endpoints = [...endpoints];
    this.#next = start % this.#endpoints.length;
  }

  /** The configured endpoints. */
  get endpoints(): readonly string[] {
    return this.#endpoints;
  }

  /** The leader's client address as last learned, if known. */
  get leader(): string | undefined {
    return this.#leader;
  }

  /** Records the leader's client address (undefined: unknown). */
  set leader(address: string | undefined) {
    this.#leader = address;
  }

  /** Whether {@linkcode EndpointPool.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The next configured endpoint in round-robin order, skipping `avoid` when another exists.
   *
   * @param avoid an address that just failed
   * @returns an address
   */
  nextEndpoint(avoid?: string): string {
    for (let i = 0; i < this.#endpoints.length; i++) {
      const address = this.#endpoints[this.#next];
      this.#next = (this.#next + 1) % this.#endpoints.length;
      if (address !== avoid || this.#endpoints.length === 1) return address;
    }
    return this.#endpoints[0];
  }

  /**
   * The grpc client of `address`, created on first use.
   *
   * @param address `host:port`
   * @returns the client
   */
  client(address: string): grpc.Client {
    let client = this.#clients.get(address);
    if (!client) {
      client = new RangeDbGrpcClient(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      this.#clients.set(address, client);
    }
    return client;
  }

  /** Closes every grpc client; calls made afterwards fail. */
  close(): void {
    this.#closed = true;
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }
}
