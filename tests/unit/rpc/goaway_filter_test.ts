import assert from "node:assert/strict";
import fc from "fast-check";
import { GoawayFilter } from "../../../src/rpc/goaway_filter.ts";

const PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

function frame(type: number, payload: Uint8Array, streamId = 1): Uint8Array {
  const out = new Uint8Array(9 + payload.length);
  out[0] = payload.length >> 16;
  out[1] = (payload.length >> 8) & 0xff;
  out[2] = payload.length & 0xff;
  out[3] = type;
  out[4] = 0;
  new DataView(out.buffer).setUint32(5, streamId);
  out.set(payload, 9);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Feeds `bytes` cut at `cuts` and returns what the filter passes on. */
function run(bytes: Uint8Array, cuts: number[]): { out: Uint8Array; dropped: number } {
  const filter = new GoawayFilter();
  const parts: Uint8Array[] = [];
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const p of [...points, bytes.length]) {
    if (p > from) filter.push(bytes.subarray(from, p), (part) => parts.push(part.slice()));
    from = Math.max(from, p);
  }
  return { out: concat(parts), dropped: filter.dropped };
}

Deno.test("GoawayFilter.push() removes GOAWAY frames and passes everything else byte for byte", () => {
  const data = frame(0x0, new Uint8Array([1, 2, 3]));
  const goaway = frame(0x7, new Uint8Array(8), 0);
  const settings = frame(0x4, new Uint8Array(0), 0);
  const input = concat([PREFACE, settings, data, goaway, data]);
  const { out, dropped } = run(input, []);
  assert.deepEqual(out, concat([PREFACE, settings, data, data]));
  assert.equal(dropped, 1);
});

Deno.test("GoawayFilter.push() gives the same output however the bytes are split", () => {
  const frameArb = fc.record({
    type: fc.constantFrom(0x0, 0x1, 0x4, 0x6, 0x7, 0x8),
    payload: fc.uint8Array({ maxLength: 40 }),
  });
  fc.assert(
    fc.property(
      fc.array(frameArb, { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (frames, cuts) => {
        const input = concat([PREFACE, ...frames.map((f) => frame(f.type, f.payload))]);
        const expected = concat([
          PREFACE,
          ...frames.filter((f) => f.type !== 0x7).map((f) => frame(f.type, f.payload)),
        ]);
        const { out, dropped } = run(input, cuts);
        assert.deepEqual(out, expected);
        assert.equal(dropped, frames.filter((f) => f.type === 0x7).length);
      },
    ),
    { numRuns: 500 },
  );
});
