import { openLmdbEngine } from "../../../src/storage/lmdb_engine.ts";
import { registerConformanceTests } from "./conformance.ts";
import { registerLongKeyConformanceTests } from "./conformance_long_keys.ts";

const makeFixture = async () => {
  const dir = await Deno.makeTempDir({ prefix: "rangedb-lmdb-" });
  const engine = await openLmdbEngine(dir);
  return {
    engine,
    dispose: async () => {
      await engine.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
};

registerConformanceTests("LmdbEngine", makeFixture);
registerLongKeyConformanceTests("LmdbEngine", makeFixture);
