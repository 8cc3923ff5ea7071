import { createMemoryEngine } from "../../../src/storage/memory_engine.ts";
import { registerConformanceTests } from "./conformance.ts";

registerConformanceTests("MemoryEngine", () => {
  const engine = createMemoryEngine();
  return Promise.resolve({ engine, dispose: () => engine.close() });
});
