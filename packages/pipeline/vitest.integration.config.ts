import { defineProject } from "vitest/config";
import { COPY_TESTS } from "./vitest.copies.config.ts";

// Integration tests that drive the real CLI: they start a local host and deploy previews, so
// they run one file at a time, and never inside a preview's own test step (CODEX_NESTED_RUN).
export default defineProject({
  test: {
    name: "pipeline-integration",
    include: ["test/integration/**/*.test.ts"],
    // Those on a copy of the checkout run in their own project, beside these.
    exclude: COPY_TESTS,
    environment: "node",
    // Requests a vendor would refuse fail the test (src/testing/stubs/contract.ts).
    setupFiles: ["./src/testing/stubs/vitest-setup.ts"],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
