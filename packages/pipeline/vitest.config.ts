import { defineProject } from "vitest/config";

// Unit tests of the pipeline: pure planning, rendering, and providers against real local parts.
export default defineProject({
  test: {
    name: "pipeline",
    include: ["src/**/*.test.ts", "test/conformance/**/*.test.ts"],
    // Contract tests run the real wrangler against recording stubs: minutes, not seconds.
    exclude: ["**/*.contract.test.ts"],
    environment: "node",
    // Requests a vendor would refuse fail the test (src/testing/stubs/contract.ts).
    setupFiles: ["./src/testing/stubs/vitest-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
