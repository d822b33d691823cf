import { defineProject } from "vitest/config";

// The Dagger module, checked without an engine: the SDK's introspection, the pipelines its
// functions build (against a recording GraphQL stub), its types, and the workflows that call it.
// Run by `pnpm test:all`, not by `pnpm test`: the module's own containers leave .dagger out.
export default defineProject({
  test: {
    name: "dagger",
    include: ["test/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
