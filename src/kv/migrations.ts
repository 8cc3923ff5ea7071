/**
 * {@linkcode Migrations}: the splits and merges this node coordinates right now, for
 * `admin partition list --show-migrations` and the console. Each coordinator registers its
 * operation, moves it through its states and removes it when done (whatever the outcome).
 *
 * @module
 */

import type { MigrationInfo } from "./kv_store.ts";

/** A registered operation; `set` moves it to another state. */
export interface MigrationHandle {
  readonly info: MigrationInfo;
  set(state: MigrationInfo["state"], otherRangeId?: number): void;
  done(): void;
}

/** The registry of one node. */
export class Migrations {
  readonly #live = new Set<MigrationInfo>();

  /** Registers an operation. */
  start(info: MigrationInfo): MigrationHandle {
    this.#live.add(info);
    return {
      info,
      set: (state, otherRangeId) => {
        info.state = state;
        if (otherRangeId !== undefined) info.otherRangeId = otherRangeId;
      },
      done: () => {
        this.#live.delete(info);
      },
    };
  }

  /** Copies of the operations in flight, oldest first. */
  list(): MigrationInfo[] {
    return [...this.#live].map((m) => ({ ...m, key: m.key.slice() }));
  }

  /** Whether an operation of `kind` is in flight (the queues run one of each at a time). */
  busy(kind: MigrationInfo["kind"]): boolean {
    for (const m of this.#live) if (m.kind === kind) return true;
    return false;
  }

  /** Whether range `rangeId` takes part in an operation in flight. */
  involves(rangeId: number): boolean {
    for (const m of this.#live) {
      if (m.rangeId === rangeId || m.otherRangeId === rangeId) return true;
    }
    return false;
  }
}
