import assert from "node:assert/strict";
import { RATE_WINDOW_SECONDS, RateCounter } from "../../../src/kv/rate_counter.ts";

Deno.test("RateCounter.perSecond() averages the events of the last 10 s and forgets older ones", () => {
  const rate = new RateCounter();
  const t0 = 1_000_000;
  for (let sec = 0; sec < 5; sec++) rate.add(t0 + sec * 1000 + 300, 20);
  assert.equal(rate.perSecond(t0 + 4_500), (5 * 20) / RATE_WINDOW_SECONDS);
  // Nine seconds later the first second has left the window; reused buckets start at zero.
  rate.add(t0 + 10_200, 7);
  assert.equal(rate.perSecond(t0 + 10_500), (4 * 20 + 7) / RATE_WINDOW_SECONDS);
  assert.equal(rate.perSecond(t0 + 60_000), 0);
});
