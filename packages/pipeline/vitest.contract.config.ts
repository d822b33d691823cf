import { defineProject } from "vitest/config";

// Contract tests of the cloud providers that drive real CLIs (wrangler) against recording stubs
// of the cloud APIs. Slow, so they run in `pnpm test:all` but not in a preview's own test step.
export default defineProject({
  test: {
    name: "pipeline-contract",
    include: ["src/**/*.contract.test.ts", "test/conformance/**/*.contract.test.ts"],
    environment: "node",
    // Requests a vendor would refuse fail the test (src/testing/stubs/contract.ts).
    setupFiles: ["./src/testing/stubs/vitest-setup.ts"],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
