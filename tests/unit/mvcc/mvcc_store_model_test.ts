import fc from "fast-check";
import { createMemoryEngine, type Engine, openLmdbEngine } from "../../../src/storage/mod.ts";
import { opsArb, runAgainstModel } from "./_mvcc_model.ts";

async function onMemory(ops: Parameters<typeof runAgainstModel>[1]): Promise<void> {
  const engine = createMemoryEngine();
  try {
    await runAgainstModel(engine, ops);
  } finally {
    await engine.close();
  }
}

/** Runs each sequence on a fresh LMDB environment in its own temp dir. */
function onLmdb(): {
  run: (ops: Parameters<typeof runAgainstModel>[1]) => Promise<void>;
  cleanup: () => Promise<void>;
} {
  const dirs: string[] = [];
  return {
    run: async (ops) => {
      const dir = await Deno.makeTempDir({ prefix: "mvcc_model_" });
      dirs.push(dir);
      const engine: Engine = await openLmdbEngine(dir);
      try {
        await runAgainstModel(engine, ops);
      } finally {
        await engine.close();
      }
    },
    cleanup: async () => {
      for (const dir of dirs) await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("MvccStore matches a versioned-map model on the memory engine", async () => {
  await fc.assert(fc.asyncProperty(opsArb(), onMemory), { numRuns: 300 });
});

Deno.test("MvccStore matches the model on keys with many versions (seek paths)", async () => {
  await fc.assert(fc.asyncProperty(opsArb(true), onMemory), { numRuns: 200 });
});

Deno.test("MvccStore matches the model on the LMDB engine", async () => {
  const lmdb = onLmdb();
  try {
    await fc.assert(fc.asyncProperty(opsArb(), lmdb.run), { numRuns: 20 });
    await fc.assert(fc.asyncProperty(opsArb(true), lmdb.run), { numRuns: 20 });
  } finally {
    await lmdb.cleanup();
  }
});
