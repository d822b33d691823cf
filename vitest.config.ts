import { defineConfig } from "vitest/config";

/**
 * postgres.js in workerd leaves one rejection behind that nobody can catch, although the query
 * itself rejects (or succeeds) properly (docs/testing.md):
 * - "Stream was cancelled." after a socket closes;
 * - "proxy request failed, cannot connect to the specified address" when the database is down,
 *   which tests of the down-database paths provoke on purpose.
 * Exactly these messages are ignored, and nothing broader.
 */
const KNOWN_POSTGRES_JS_WORKERD_REJECTIONS = new Set([
  "Stream was cancelled.",
  "proxy request failed, cannot connect to the specified address",
]);

/**
 * One test run for the whole repository. The global setup starts one Postgres (embedded, or
 * TEST_DATABASE_URL) and a migrated template; each test file clones its own database from it.
 */
export default defineConfig({
  test: {
    globalSetup: ["./packages/database/src/testing/global-setup.ts"],
    projects: [
      "packages/*/vitest.config.ts",
      "workers/*/vitest.config.ts",
      "apps/*/vitest.config.ts",
      "packages/pipeline/vitest.integration.config.ts",
      "packages/pipeline/vitest.contract.config.ts",
      "packages/pipeline/vitest.copies.config.ts",
      // A pattern, not a path: the Dagger module's containers leave .dagger out of the source,
      // and a missing path would stop every run there.
      ".dagger/vitest.config.*",
    ],
    onUnhandledError(error) {
      return !KNOWN_POSTGRES_JS_WORKERD_REJECTIONS.has(error.message);
    },
  },
});
