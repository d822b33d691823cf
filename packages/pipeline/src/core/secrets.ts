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
