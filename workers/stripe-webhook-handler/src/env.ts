import type { ObservabilityClient } from "@codex/observability";

/** The webhook Worker's bindings, as declared in wrangler.jsonc. */
export interface Env {
  DATABASE_URL: string;
  STRIPE_WEBHOOK_SECRET: string;
  STRIPE_SECRET_KEY?: string;
  ENVIRONMENT?: string;
  ANALYTICS?: AnalyticsEngineDataset;
}

/** `c.env` in route handlers: the bindings plus this request's logger (see workers/auth). */
export interface Bindings extends Env {
  obs: ObservabilityClient;
}
