import type { ObservabilityClient } from "@codex/observability";

/** The auth Worker's bindings, as declared in wrangler.jsonc. */
export interface Env {
  /** Connection string of this environment's database branch (a secret). */
  DATABASE_URL: string;
  /** Key for hashing session tokens before they are stored (a secret, at least 32 characters). */
  SESSION_SECRET: string;
  ENVIRONMENT?: string;
  ANALYTICS?: AnalyticsEngineDataset;
}

/**
 * What route handlers see as `c.env`: the bindings plus this request's logger. Hono has one
 * env slot per request, and withObservability creates the logger per request, so it rides here.
 */
export interface Bindings extends Env {
  obs: ObservabilityClient;
}
