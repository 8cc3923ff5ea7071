import { createMemoryEngine } from "../../../src/storage/memory_engine.ts";
import { registerConformanceTests } from "./conformance.ts";
import { registerLongKeyConformanceTests } from "./conformance_long_keys.ts";

const makeFixture = () => {
  const engine = createMemoryEngine();
  return Promise.resolve({ engine, dispose: () => engine.close() });
};

registerConformanceTests("MemoryEngine", makeFixture);
registerLongKeyConformanceTests("MemoryEngine", makeFixture);
