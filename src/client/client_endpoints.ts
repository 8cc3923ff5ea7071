/**
 * The endpoints of one SDK client: one grpc client per address, created on first use and closed
 * with the pool; the leader's client address as last learned; a round robin over the
 * configured endpoints for calls that any node may serve; and addresses that recently failed at
 * the transport level, which are neither taken as the leader nor chosen by the round robin for a
 * few seconds.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { CHANNEL_OPTIONS, RangeDbGrpcClient } from "./client_grpc.ts";

/** How long an address that could not be reached is avoided. */
export const UNREACHABLE_FOR_MS = 5_000;

/** Addresses and their grpc clients. */
export class EndpointPool {
  readonly #endpoints: readonly string[];
  readonly #clients = new Map<string, grpc.Client>();
  #next = 0;
  #leader: string | undefined;
  #closed = false;
  /** Address → when it may be tried again (ms since the epoch). */
  readonly #unreachable = new Map<string, number>();

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

  /** Records the leader's client address (undefined: unknown; an unreachable one is ignored). */
  set leader(address: string | undefined) {
    this.#leader = address !== undefined && this.isUnreachable(address) ? undefined : address;
  }

  /**
   * Avoids `address` for {@linkcode UNREACHABLE_FOR_MS}: it stops being the leader and the round
   * robin skips it while another endpoint is not avoided.
   *
   * @param address an address that failed at the transport level
   * @param now the current time (ms since the epoch)
   */
  markUnreachable(address: string, now = Date.now()): void {
    this.#unreachable.set(address, now + UNREACHABLE_FOR_MS);
    if (this.#leader === address) this.#leader = undefined;
  }

  /**
   * Whether `address` failed at the transport level within the last {@linkcode UNREACHABLE_FOR_MS}.
   *
   * @param address the address
   * @param now the current time (ms since the epoch)
   */
  isUnreachable(address: string, now = Date.now()): boolean {
    const until = this.#unreachable.get(address);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#unreachable.delete(address);
    return false;
  }

  /** Whether {@linkcode EndpointPool.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The next configured endpoint in round-robin order, skipping `avoid` and unreachable ones while
   * another exists.
   *
   * @param avoid an address that just failed
   * @returns an address
   */
  nextEndpoint(avoid?: string): string {
    const n = this.#endpoints.length;
    let fallback: string | undefined;
    for (let i = 0; i < n; i++) {
      const address = this.#endpoints[this.#next];
      this.#next = (this.#next + 1) % n;
      if (n === 1) return address;
      if (address === avoid) continue;
      if (!this.isUnreachable(address)) return address;
      fallback ??= address;
    }
    return fallback ?? this.#endpoints[0];
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
