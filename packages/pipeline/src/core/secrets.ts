/**
 * The secrets policy: which secrets each Worker of the stack needs in each kind of environment,
 * which it takes when a value is provided, and so every secret name a Worker may hold.
 */
import type { WorkerKind } from "./derive";
import type { EnvironmentKind } from "./environments";

/**
 * The secrets each Worker needs, by environment kind. Production web needs no webhook secret:
 * there the test checkout (which signs its own event) is off and Stripe keys are optional.
 */
export const WORKER_SECRETS: Readonly<
  Record<WorkerKind, Readonly<Record<EnvironmentKind, readonly string[]>>>
> = Object.freeze({
  web: Object.freeze({
    production: Object.freeze(["DATABASE_URL"]),
    staging: Object.freeze(["DATABASE_URL", "STRIPE_WEBHOOK_SECRET"]),
    preview: Object.freeze(["DATABASE_URL", "STRIPE_WEBHOOK_SECRET"]),
  }),
  auth: Object.freeze({
    production: Object.freeze(["DATABASE_URL", "SESSION_SECRET"]),
    staging: Object.freeze(["DATABASE_URL", "SESSION_SECRET"]),
    preview: Object.freeze(["DATABASE_URL", "SESSION_SECRET"]),
  }),
  webhook: Object.freeze({
    production: Object.freeze(["DATABASE_URL", "STRIPE_WEBHOOK_SECRET"]),
    staging: Object.freeze(["DATABASE_URL", "STRIPE_WEBHOOK_SECRET"]),
    preview: Object.freeze(["DATABASE_URL", "STRIPE_WEBHOOK_SECRET"]),
  }),
});

/** Secrets a Worker gets when a value is provided; without one it still deploys. */
export const OPTIONAL_SECRETS: Readonly<Record<WorkerKind, readonly string[]>> = Object.freeze({
  web: Object.freeze(["STRIPE_SECRET_KEY", "STRIPE_PRICE_ID"]),
  auth: Object.freeze([]),
  webhook: Object.freeze(["STRIPE_SECRET_KEY"]),
});

/** Every secret name a Worker of the stack may hold, required or optional. */
export const SECRET_NAMES: readonly string[] = Object.freeze([
  ...new Set(
    [...Object.values(WORKER_SECRETS), OPTIONAL_SECRETS].flatMap((byKind) =>
      Object.values(byKind).flat(),
    ),
  ),
]);

/**
 * NAME_<KIND> (NAME_PRODUCTION, NAME_STAGING, NAME_PREVIEW) when set, else NAME: the one
 * convention for a value chosen per environment kind, for the Workers' secrets and the cloud
 * target's own credentials alike.
 */
export function valueForKind(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  kind: EnvironmentKind,
): string | undefined {
  return env[`${name}_${kind.toUpperCase()}`] || env[name] || undefined;
}

/** Environment variables whose values are secrets (CLOUDFLARE_API_TOKEN_PREVIEW, ...). */
export const SECRET_VARIABLE = /(?:TOKEN|SECRET|API_KEY|PASSWORD)(?:_[A-Z]+)?$/;

/**
 * The cloud target's own credentials (and the account's workers.dev subdomain, which goes with
 * the account). Each may be given per environment kind (NAME_PREVIEW,
 * NAME_PRODUCTION), so that a pull request's job holds a preview-only Cloudflare token and a
 * key to a preview-only Neon project, never production's (docs/cloud.md).
 */
export const CLOUD_CREDENTIALS = Object.freeze([
  "CLOUDFLARE_API_TOKEN",
  "CLOUDFLARE_ACCOUNT_ID",
  "CLOUDFLARE_WORKERS_SUBDOMAIN",
  "NEON_API_KEY",
  "NEON_PROJECT_ID",
] as const);

/** The credentials that are secrets: one environment kind's may never be another's. */
const CREDENTIAL_SECRETS = ["CLOUDFLARE_API_TOKEN", "NEON_API_KEY"] as const;

const KINDS: readonly EnvironmentKind[] = ["production", "staging", "preview"];

/**
 * `env` as the cloud target sees it for `kind`: each credential NAME set to NAME_<KIND>, else
 * NAME. Refuses, naming variables and never values, a token or key that another kind's own
 * variable holds: production deployed with CLOUDFLARE_API_TOKEN_PREVIEW's token, or a preview
 * with NEON_API_KEY_PRODUCTION's key.
 */
export function cloudCredentialsFor(
  env: Readonly<Record<string, string | undefined>>,
  kind: EnvironmentKind,
): { env: Record<string, string | undefined>; refused?: { message: string; hint: string } } {
  const resolved: Record<string, string | undefined> = { ...env };
  for (const name of CLOUD_CREDENTIALS) resolved[name] = valueForKind(env, name, kind);
  for (const name of CREDENTIAL_SECRETS) {
    const value = resolved[name];
    if (!value) continue;
    for (const other of KINDS) {
      const variable = `${name}_${other.toUpperCase()}`;
      if (other === kind || env[variable] !== value) continue;
      const used = env[`${name}_${kind.toUpperCase()}`] ? `${name}_${kind.toUpperCase()}` : name;
      return {
        env: resolved,
        refused: {
          message: `refusing to run ${kind} with ${other} credentials: ${used} holds the same value as ${variable}`,
          hint: `Give ${kind} its own ${name} (${name}_${kind.toUpperCase()}, or ${name}), and keep ${variable} for ${other} only (docs/cloud.md, "Preview and production credentials").`,
        },
      };
    }
  }
  return { env: resolved };
}
