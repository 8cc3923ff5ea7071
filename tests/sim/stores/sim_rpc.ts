/**
 * Calls between the simulated nodes (the router's Peer.Forward) and from clients to nodes, over
 * the simulated network: the request and the answer each take a network delay; a cut link or a
 * crashed node loses them. A peer call whose answer does not arrive fails at its deadline with an
 * ambiguous TIMEOUT; a client call fails after its timeout, or (`untilSettled`) only when the
 * answer arrives or the node running it crashed.
 *
 * @module
 */

import type { ManualClock } from "../../../src/base/clock.ts";
import { ErrorCode, RangeDbError } from "../../../src/base/errors.ts";
import type { Store } from "../../../src/kv/mod.ts";
import type { SimNetwork } from "./sim_network.ts";
import type { NodeClock } from "./sim_time.ts";

/** A node's running incarnation. */
export interface Running {
  id: number;
  store: Store;
  clock: NodeClock;
}

/** What calls need from the cluster. */
export interface RpcWorld {
  readonly base: ManualClock;
  readonly net: SimNetwork;
  /** Node `id`'s running incarnation; undefined while it is down. */
  running(id: number): Running | undefined;
  /** A store call outlived its deadline on a running node (it must end by then). */
  hung?(what: string, node: number, ms: number): void;
}

/** The error of a call whose answer never came. */
export function lostError(what: string, ambiguous: boolean): RangeDbError {
  return new RangeDbError(ErrorCode.TIMEOUT, `Cannot ${what} as no answer came in time`, {
    details: { ambiguous, transport: true },
  });
}

/** The error of a call that could not reach its node. */
export function unreachableError(what: string, to: number): RangeDbError {
  return new RangeDbError(
    ErrorCode.UNAVAILABLE,
    `Cannot ${what} as node ${to} cannot be reached`,
    { details: { ambiguous: false, transport: true, unreachable: true } },
  );
}

/**
 * Runs `fn` on node `to`'s store for `from` (a running node), answering by `deadline` (absolute,
 * on `from`'s clock). Never settles once `from` crashed.
 */
export function peerCall<T>(
  world: RpcWorld,
  from: Running,
  to: number,
  deadline: number,
  what: string,
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  if (to === from.id) return fn(from.store);
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const settle = (f: () => void) => {
      if (done) return;
      done = true;
      f();
    };
    let sent = false;
    from.clock.after(
      Math.max(0, deadline - from.clock.now()),
      () => settle(() => reject(lostError(what, sent))),
    );
    from.clock.after(world.net.delay(), () => {
      const target = world.running(to);
      if (target === undefined || !world.net.connected(from.id, to)) {
        settle(() => reject(unreachableError(what, to)));
        return;
      }
      sent = true;
      const reply = (f: () => void) => {
        if (!target.clock.alive) return;
        world.base.after(world.net.delay(), () => {
          if (from.clock.alive && world.net.connected(to, from.id)) settle(f);
        });
      };
      invoke(fn, target.store).then(
        (v) => reply(() => resolve(v)),
        (e) => reply(() => reject(e)),
      );
    });
  });
}

/**
 * Runs `fn` on node `to`'s store for a client (clients are never partitioned from nodes).
 *
 * @param timeoutMs fail with an ambiguous TIMEOUT when no answer came by then; with
 *   `untilSettled` there is no timeout: the call fails only when the node running it crashes
 * @param settleWithinMs the store's own deadline for `fn` plus a grace: a call still running on
 *   its (running) node after that is reported as hung
 */
export function clientCall<T>(
  world: RpcWorld,
  to: number,
  timeoutMs: number | "untilSettled",
  what: string,
  fn: (store: Store) => Promise<T>,
  settleWithinMs?: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let unlisten = () => {};
    const settle = (f: () => void) => {
      if (done) return;
      done = true;
      unlisten();
      f();
    };
    if (timeoutMs !== "untilSettled") {
      world.base.after(timeoutMs, () => settle(() => reject(lostError(what, true))));
    }
    world.base.after(world.net.delay(), () => {
      const target = world.running(to);
      if (target === undefined) {
        settle(() => reject(unreachableError(what, to)));
        return;
      }
      unlisten = target.clock.onKill(() => settle(() => reject(lostError(what, true))));
      const reply = (f: () => void) => {
        if (target.clock.alive) world.base.after(world.net.delay(), () => settle(f));
      };
      let ended = false;
      if (settleWithinMs !== undefined) {
        target.clock.after(settleWithinMs, () => {
          if (!ended) world.hung?.(what, to, settleWithinMs);
        });
      }
      invoke(fn, target.store).then(
        (v) => {
          ended = true;
          reply(() => resolve(v));
        },
        (e) => {
          ended = true;
          reply(() => reject(e));
        },
      );
    });
  });
}

function invoke<T>(fn: (store: Store) => Promise<T>, store: Store): Promise<T> {
  try {
    return fn(store);
  } catch (err) {
    return Promise.reject(err);
  }
}
