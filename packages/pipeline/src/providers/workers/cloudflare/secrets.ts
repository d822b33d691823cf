/**
 * The Workers' secrets on Cloudflare: which a Worker gets, and their values, per environment.
 * They travel to wrangler in a `--secrets-file` (see index.ts), never in argv or its environment.
 */
import type { DerivedWorker } from "../../../core/derive";
import type { Environment } from "../../../core/environments";
import { OPTIONAL_SECRETS, SECRET_NAMES, valueForKind } from "../../../core/secrets";
import { userError } from "../../../errors";

/** Secret values by name (SESSION_SECRET, STRIPE_WEBHOOK_SECRET, ...); DATABASE_URL comes from deploy. */
export type SecretValues = Readonly<Record<string, string>>;

/** The same values for every environment, or values chosen per environment. */
export type SecretSource =
  SecretValues | ((environment: Environment) => SecretValues | Promise<SecretValues>);

/**
 * The Workers' secret values for `environment` from environment variables: NAME_<KIND>
 * (NAME_PRODUCTION, NAME_STAGING, NAME_PREVIEW) when set, else NAME. DATABASE_URL is not read:
 * it comes from the deploy (the environment's own branch).
 */
export function secretsFromEnv(env: NodeJS.ProcessEnv, environment: Environment): SecretValues {
  const values: Record<string, string> = {};
  for (const name of SECRET_NAMES) {
    if (name === "DATABASE_URL") continue;
    const value = valueForKind(env, name, environment.kind);
    if (value) values[name] = value;
  }
  return values;
}

/** The values `source` gives for `environment`; none without a source. */
export async function secretValues(
  source: SecretSource | undefined,
  environment: Environment,
): Promise<SecretValues> {
  const values = source ?? {};
  return typeof values === "function" ? values(environment) : values;
}

/**
 * The values of every secret `worker` needs; a required one that is missing fails here. Names in
 * `kept` are left as the Worker holds them: neither sent nor required.
 */
export function secretsOf(
  worker: DerivedWorker,
  values: SecretValues,
  database: string,
  environment: Environment,
  kept: readonly string[] = [],
): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const name of worker.secrets) {
    if (kept.includes(name)) continue;
    const value = name === "DATABASE_URL" ? database : values[name];
    if (!value) {
      const suffix = environment.kind.toUpperCase();
      throw userError(
        "INVALID_ARGUMENT",
        `${name} is not set: ${worker.name} needs it, and nothing was created`,
        `Set ${name}_${suffix} (or ${name}) in the environment of the cloud target.`,
      );
    }
    secrets[name] = value;
  }
  for (const name of OPTIONAL_SECRETS[worker.kind]) {
    if (kept.includes(name)) continue;
    const value = values[name];
    if (value && !(name in secrets)) secrets[name] = value;
  }
  return secrets;
}
