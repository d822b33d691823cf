import { userError } from "./errors";

/**
 * A duration in milliseconds from an environment variable: `fallback` when it is unset or
 * empty, and a clear error, naming the variable, when it is not a whole number of milliseconds.
 */
export function durationFromEnv(
  name: string,
  fallback: number,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw)) {
    throw userError(
      "CONFIG_INVALID",
      `${name} must be a whole number of milliseconds (got "${raw.slice(0, 40)}")`,
      `Unset it for the default (${fallback} ms).`,
    );
  }
  return Number(raw);
}
