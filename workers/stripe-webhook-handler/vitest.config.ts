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
          // A made-up signing secret: tests sign their own events with it.
          STRIPE_WEBHOOK_SECRET: "whsec_codex_test_signing_secret",
          STRIPE_SECRET_KEY: "sk_test_codex_not_a_real_key",
        },
      },
    }),
  ],
  test: {
    name: "stripe-webhook-handler",
    include: ["src/**/*.test.ts"],
  },
});
