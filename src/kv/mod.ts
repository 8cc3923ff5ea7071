/**
 * The multi-raft store: a node's {@linkcode Store} of replicas (one Raft group per range), the
 * raft scheduler, the timestamp oracle, and cluster formation on disk. See
 * docs/design/0007-replicated-store.md.
 *
 * @example
 * ```ts ignore
 * import { bootstrapCluster, Store } from "./mod.ts";
 * await bootstrapCluster(engine, { voters: [1, 2, 3] });
 * const store = await Store.open({ engine, identity, self, initialPeers, transport, clock, logger });
 * await store.put(new TextEncoder().encode("/a"), new Uint8Array([1]));
 * await store.stop();
 * ```
 *
 * @module
 */

export * from "./kv_store.ts";
export * from "./transport.ts";
export * from "./metrics.ts";
export { timestampOf, versionOf } from "./version.ts";
export { bootstrapCluster, hasClusterState } from "./bootstrap.ts";
export { Store, type StoreOptions } from "./store.ts";
export { systemKeys } from "./keys.ts";
export { validatePlantedBugEnv } from "./planted_bugs.ts";
