import { defineProject } from "vitest/config";

/**
 * Integration tests that run the CLI of a copy of the checkout (copyCheckout in
 * test/integration/cli.ts): a fresh clone's first run, migrations and code changed for the schema
 * and visual checks, the compiled CLI. They never build from or write to this checkout, so
 * `pnpm test:all` runs them beside the tests that do (vitest.integration.config.ts), in vitest
 * processes of their own; within a project, one file at a time. Two projects, so that test:all
 * can balance its streams: `pipeline-copies` (changed code and migrations) and `pipeline-fresh`
 * (a fresh clone's first run, and the compiled CLI an install makes), in vitest.fresh.config.ts.
 */
export const FRESH_TESTS = [
  "test/integration/fresh-clone.test.ts",
  "test/integration/compiled-cli.test.ts",
];

/** Every test on a copy of the checkout (the integration project leaves them out). */
export const COPY_TESTS = [
  "test/integration/schema.test.ts",
  "test/integration/old-code.test.ts",
  "test/integration/cloud-old-code.test.ts",
  "test/integration/visual.test.ts",
  ...FRESH_TESTS,
];

export default defineProject({
  test: {
    name: "pipeline-copies",
    include: COPY_TESTS,
    exclude: FRESH_TESTS,
    environment: "node",
    setupFiles: ["./src/testing/stubs/vitest-setup.ts"],
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 900_000,
  },
});
