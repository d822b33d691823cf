import { defineProject } from "vitest/config";
import { FRESH_TESTS } from "./vitest.copies.config.ts";

/** The tests of a fresh clone and of the compiled CLI, on copies of the checkout (see there). */
export default defineProject({
  test: {
    name: "pipeline-fresh",
    include: FRESH_TESTS,
    environment: "node",
    setupFiles: ["./src/testing/stubs/vitest-setup.ts"],
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 900_000,
  },
});
