import type { Env } from "./env";

/** Why this Worker must not process events with its current configuration, if it must not. */
export function configurationProblem(env: Env): string | undefined {
  const production = env.ENVIRONMENT === "production";
  const key = env.STRIPE_SECRET_KEY ?? "";
  if (!production && /^(sk|rk)_live_/.test(key)) {
    return `a live Stripe key is configured in the "${env.ENVIRONMENT ?? "unknown"}" environment; live keys are only allowed in production`;
  }
  if (!env.STRIPE_WEBHOOK_SECRET) return "STRIPE_WEBHOOK_SECRET is not set";
  if (!env.DATABASE_URL) return "DATABASE_URL is not set";
  return undefined;
}
