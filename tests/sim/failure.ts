/**
 * How a simulation run fails. The kinds map to distinct exit codes of `deno task sim` (VOPR
 * style), so scripts can tell a broken invariant from a cluster that stopped making progress.
 *
 * @module
 */

/** Why a run failed. */
export type FailureKind =
  /** A safety checker saw an invariant broken. */
  | "safety"
  /** The healed cluster did not elect a leader and commit within the bound. */
  | "liveness"
  /** Raft or the simulation threw an unexpected error. */
  | "crash";

/** Exit codes of `deno task sim` per failure kind (0 is success). */
export const EXIT_CODES: Readonly<Record<FailureKind, number>> = {
  safety: 10,
  liveness: 11,
  crash: 12,
};

/** A failed run: thrown by checkers, caught by the runner. */
export class SimFailure extends Error {
  override name = "SimFailure";

  /**
   * @param kind the class of failure
   * @param checker the checker (or phase) that detected it, e.g. "leader_per_term"
   * @param message "Cannot X as Y: facts"
   */
  constructor(readonly kind: FailureKind, readonly checker: string, message: string) {
    super(message);
  }
}

/** Throws a safety failure for `checker`. */
export function violation(checker: string, message: string): never {
  throw new SimFailure("safety", checker, message);
}
