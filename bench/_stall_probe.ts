/**
 * {@linkcode StallProbe}: how long each server's event loop stalled over an interval, seen from
 * outside: one `GET /healthz` after another on each node's admin port, recording the slowest
 * answer. A node answers `/healthz` from its event loop, so a scheduler turn that holds the loop
 * for 300 ms delays the probe's answer by about that much (plus the probe's own round trip of a
 * few ms). The node's own measurement is its "slow raft turn" warnings (`raft_scheduler.ts`).
 *
 * @module
 */

/** Probes the admin URLs of every node until stopped. */
export class StallProbe {
  readonly #max: number[];
  readonly #loops: Promise<void>[];
  #stopped = false;

  /**
   * Starts probing.
   *
   * @param adminUrls `http://host:port` of each node
   * @param pauseMs the pause between one answer and the next request
   */
  constructor(adminUrls: readonly string[], pauseMs = 20) {
    this.#max = adminUrls.map(() => 0);
    this.#loops = adminUrls.map(async (url, i) => {
      while (!this.#stopped) {
        const t0 = performance.now();
        try {
          const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(30_000) });
          await res.body?.cancel();
        } catch { /* a failed probe still measured how long the node took to answer */ }
        this.#max[i] = Math.max(this.#max[i], performance.now() - t0);
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    });
  }

  /** Stops probing; returns the slowest answer of each node in milliseconds. */
  async stop(): Promise<number[]> {
    this.#stopped = true;
    await Promise.all(this.#loops);
    return this.#max;
  }
}
