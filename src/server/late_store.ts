/**
 * A {@linkcode KvStore} that exists before the real one: the gRPC listeners bind first (a node
 * that joins must know its real peer address before it asks to be admitted), and requests that
 * arrive before the store is open are refused with UNAVAILABLE instead of crashing.
 *
 * @module
 */
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { KvStore } from "../kv/mod.ts";

/** A store reference that is set once the store is open. */
export interface LateStore {
  /** The proxy to hand to services. */
  readonly store: KvStore;
  /** Sets the real store; later calls reach it. */
  set(store: KvStore): void;
}

/**
 * Creates a late-bound store proxy.
 *
 * @returns the proxy and its setter
 */
export function lateStore(): LateStore {
  let real: KvStore | undefined;
  const store = new Proxy({} as KvStore, {
    get(_target, prop) {
      if (real === undefined) {
        throw new RangeDbError(
          ErrorCode.UNAVAILABLE,
          "Cannot serve the request as the node is still starting: retry shortly",
        );
      }
      const value = Reflect.get(real, prop, real);
      return typeof value === "function" ? value.bind(real) : value;
    },
  });
  return {
    store,
    set(s) {
      real = s;
    },
  };
}
