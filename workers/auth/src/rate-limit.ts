import { and, count, type Database, eq, gt, loginAttempts, min, sql } from "@codex/database";

/** Failed logins allowed per email and IP within the window before we answer 429. */
export const MAX_FAILURES_PER_EMAIL_IP = 5;
/** Failed logins allowed per IP, across all emails, within the window (credential stuffing). */
export const MAX_FAILURES_PER_IP = 50;
export const WINDOW_SECONDS = 15 * 60;

export interface RateLimitVerdict {
  limited: boolean;
  /** Seconds until the oldest counted failure leaves the window. */
  retryAfterSeconds: number;
}

/**
 * Counts recent failures for this email and IP, and for this IP alone. Failures older than
 * the window, or older than the last successful login from the same email and IP, do not count.
 */
export async function checkLoginRateLimit(
  db: Database,
  email: string,
  ip: string,
): Promise<RateLimitVerdict> {
  const windowStart = sql`now() - make_interval(secs => ${WINDOW_SECONDS})`;
  const lastSuccess = sql`coalesce((
    select max(${loginAttempts.attemptedAt}) from ${loginAttempts}
    where ${loginAttempts.email} = ${email} and ${loginAttempts.ip} = ${ip} and ${loginAttempts.succeeded}
  ), '-infinity'::timestamptz)`;
  const [pair] = await db
    .select({ failures: count(), oldest: min(loginAttempts.attemptedAt) })
    .from(loginAttempts)
    .where(
      and(
        eq(loginAttempts.email, email),
        eq(loginAttempts.ip, ip),
        eq(loginAttempts.succeeded, false),
        gt(loginAttempts.attemptedAt, windowStart),
        gt(loginAttempts.attemptedAt, lastSuccess),
      ),
    );
  const [byIp] = await db
    .select({ failures: count(), oldest: min(loginAttempts.attemptedAt) })
    .from(loginAttempts)
    .where(
      and(
        eq(loginAttempts.ip, ip),
        eq(loginAttempts.succeeded, false),
        gt(loginAttempts.attemptedAt, windowStart),
      ),
    );
  const over =
    (pair && pair.failures >= MAX_FAILURES_PER_EMAIL_IP ? pair : undefined) ??
    (byIp && byIp.failures >= MAX_FAILURES_PER_IP ? byIp : undefined);
  if (!over?.oldest) return { limited: false, retryAfterSeconds: 0 };
  const freesAt = over.oldest.getTime() + WINDOW_SECONDS * 1000;
  return {
    limited: true,
    retryAfterSeconds: Math.max(1, Math.ceil((freesAt - Date.now()) / 1000)),
  };
}

export async function recordLoginAttempt(
  db: Database,
  email: string,
  ip: string,
  succeeded: boolean,
): Promise<void> {
  await db.insert(loginAttempts).values({ email, ip, succeeded });
}
