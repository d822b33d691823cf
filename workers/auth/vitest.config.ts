import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineProject } from "vitest/config";

// Tests run inside workerd, against the real Postgres the root global setup starts.
export default defineProject({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.jsonc" },
      miniflare: {
        bindings: {
          ENVIRONMENT: "test",
          // Request lines are noise here; warnings and errors still show.
          LOG_LEVEL: "warn",
          SESSION_SECRET: "test-session-secret-of-at-least-32-characters",
        },
      },
    }),
  ],
  test: {
    name: "auth",
    include: ["src/**/*.test.ts"],
  },
});
