import { openLmdbEngine } from "../../../src/storage/lmdb_engine.ts";
import { registerConformanceTests } from "./conformance.ts";

registerConformanceTests("LmdbEngine", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-lmdb-" });
  const engine = await openLmdbEngine(dir);
  return {
    engine,
    dispose: async () => {
      await engine.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
});
