import { and, type Database, entitlements, eq, gt, sessions, sql, users } from "@codex/database";

export const SESSION_COOKIE = "codex_session";
export const SESSION_TTL_SECONDS = 30 * 24 * 60 * 60;

/** A new session token: 32 random bytes, base64url. Only its keyed hash is stored. */
export function newSessionToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return base64url(bytes);
}

/** HMAC-SHA256 of the token under SESSION_SECRET: a leaked table alone cannot be replayed. */
export async function hashSessionToken(token: string, secret: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(token));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export interface SessionView {
  user: { id: string; email: string; displayName: string | null };
  plan: "free" | "pro";
  periodEnd: string | null;
  expiresAt: string;
}

/** Resolves a token to its user and plan, or undefined when it is unknown or expired. */
export async function resolveSession(
  db: Database,
  token: string,
  secret: string,
): Promise<SessionView | undefined> {
  const tokenHash = await hashSessionToken(token, secret);
  const [row] = await db
    .select({
      id: users.id,
      email: users.email,
      displayName: users.displayName,
      plan: entitlements.plan,
      periodEnd: entitlements.currentPeriodEnd,
      expiresAt: sessions.expiresAt,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .leftJoin(entitlements, eq(entitlements.userId, users.id))
    .where(and(eq(sessions.tokenHash, tokenHash), gt(sessions.expiresAt, sql`now()`)));
  if (!row) return undefined;
  // A pro plan whose period has ended is free until Stripe says otherwise.
  const active = row.plan === "pro" && (!row.periodEnd || row.periodEnd.getTime() > Date.now());
  return {
    user: { id: row.id, email: row.email, displayName: row.displayName },
    plan: active ? "pro" : "free",
    periodEnd: row.periodEnd?.toISOString() ?? null,
    expiresAt: row.expiresAt.toISOString(),
  };
}

export async function createSession(
  db: Database,
  userId: string,
  secret: string,
  meta: { userAgent: string | null; ip: string },
): Promise<{ token: string; expiresAt: Date }> {
  const token = newSessionToken();
  const expiresAt = new Date(Date.now() + SESSION_TTL_SECONDS * 1000);
  await db.insert(sessions).values({
    userId,
    tokenHash: await hashSessionToken(token, secret),
    expiresAt,
    userAgent: meta.userAgent?.slice(0, 512) ?? null,
    ip: meta.ip,
  });
  return { token, expiresAt };
}

export async function deleteSession(db: Database, token: string, secret: string): Promise<boolean> {
  const deleted = await db
    .delete(sessions)
    .where(eq(sessions.tokenHash, await hashSessionToken(token, secret)))
    .returning({ id: sessions.id });
  return deleted.length > 0;
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
