import { defineProject } from "vitest/config";

/**
 * Integration tests that run the CLI of a copy of the checkout (copyCheckout in
 * test/integration/cli.ts): a fresh clone's first run, migrations and code changed for the schema
 * and visual checks, the compiled CLI. They never build from or write to this checkout, so
 * `pnpm test:all` runs them beside the tests that do (vitest.integration.config.ts), in a
 * vitest process of their own; among themselves, one file at a time.
 */
export const COPY_TESTS = [
  "test/integration/fresh-clone.test.ts",
  "test/integration/schema.test.ts",
  "test/integration/old-code.test.ts",
  "test/integration/cloud-old-code.test.ts",
  "test/integration/visual.test.ts",
  "test/integration/compiled-cli.test.ts",
];

export default defineProject({
  test: {
    name: "pipeline-copies",
    include: COPY_TESTS,
    environment: "node",
    setupFiles: ["./src/testing/stubs/vitest-setup.ts"],
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 900_000,
  },
});
