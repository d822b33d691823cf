import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { HTTPException } from "hono/http-exception";
import type { z } from "zod";
import { type Database, entitlements, eq, sql, users } from "@codex/database";
import { hashPassword, verifyPassword } from "@codex/database/password";
import {
  database,
  db,
  health,
  inRolledBackTransaction,
  NO_SUCH_EMAIL,
  onError,
  type SchemaProbe,
  type Transaction,
  type WorkerEnv,
} from "@codex/worker-kit";
import type { Bindings } from "./env";
import { checkLoginRateLimit, recordLoginAttempt } from "./rate-limit";
import {
  createSession,
  deleteSession,
  resolveSession,
  SESSION_COOKIE,
  SESSION_TTL_SECONDS,
} from "./sessions";
import { describeIssues, loginSchema, signupSchema } from "./validation";

/** Request bodies are small JSON objects; anything larger is refused before it is read. */
export const MAX_BODY_BYTES = 16 * 1024;
const MIN_SECRET_LENGTH = 32;

type AppEnv = WorkerEnv & { Bindings: Bindings };
type AppContext = Context<AppEnv>;

// Compared against when an email is unknown, so that a miss costs as long as a wrong password.
let decoyHash: string | undefined;

export const app = new Hono<AppEnv>();

app.use(database());
/**
 * `/health?schema=1`: the reads of signup, login and /session, through the same functions, with
 * values that match nothing; signup's inserts in a transaction that is rolled back.
 */
export const schemaProbes: Record<string, SchemaProbe> = {
  "users by email (login)": (database) => userByEmail(database, NO_SUCH_EMAIL),
  "login_attempts (rate limit)": (database) =>
    checkLoginRateLimit(database, NO_SUCH_EMAIL, "schema-check"),
  "sessions by token hash (session)": (database) =>
    resolveSession(database, "schema-check-token-matching-nothing", "schema-check-secret"),
  "users and entitlements insert (signup, rolled back)": (database) =>
    inRolledBackTransaction(database, (tx) =>
      insertUser(tx, { email: NO_SUCH_EMAIL, passwordHash: "x", displayName: null }),
    ),
};

app.get("/health", health("auth", schemaProbes));

const limit = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: (c) =>
    c.json(
      { error: "payload_too_large", message: `body must be at most ${MAX_BODY_BYTES} bytes` },
      413,
    ),
});

app.post("/signup", limit, async (c) => {
  const secret = sessionSecret(c);
  const input = await parseBody(c, signupSchema);
  const passwordHash = await hashPassword(input.password);
  const database = db(c);
  const user = await database.transaction((tx) =>
    insertUser(tx, {
      email: input.email,
      passwordHash,
      displayName: input.displayName ?? null,
    }),
  );
  if (!user) {
    return c.json(
      { error: "email_taken", message: "An account with this email already exists." },
      409,
    );
  }
  const session = await createSession(database, user.id, secret, requestMeta(c));
  setSessionCookie(c, session.token);
  c.env.obs.info("signup", { userId: user.id });
  return c.json(
    { user, plan: "free", token: session.token, expiresAt: session.expiresAt.toISOString() },
    201,
  );
});

app.post("/login", limit, async (c) => {
  const secret = sessionSecret(c);
  const input = await parseBody(c, loginSchema);
  const { ip } = requestMeta(c);
  const database = db(c);
  const verdict = await checkLoginRateLimit(database, input.email, ip);
  if (verdict.limited) {
    c.header("Retry-After", String(verdict.retryAfterSeconds));
    c.env.obs.warn("login rate limited", { ip, retryAfterSeconds: verdict.retryAfterSeconds });
    return c.json(
      {
        error: "too_many_attempts",
        message: "Too many failed logins. Try again later.",
        retryAfterSeconds: verdict.retryAfterSeconds,
      },
      429,
    );
  }
  const user = await userByEmail(database, input.email);
  const ok = user
    ? await verifyPassword(input.password, user.passwordHash)
    : (await verifyPassword(input.password, (decoyHash ??= await hashPassword("decoy-password"))),
      false);
  await recordLoginAttempt(database, input.email, ip, ok);
  if (!user || !ok) {
    return c.json({ error: "invalid_credentials", message: "Wrong email or password." }, 401);
  }
  const session = await createSession(database, user.id, secret, requestMeta(c));
  setSessionCookie(c, session.token);
  const view = await resolveSession(database, session.token, secret);
  return c.json({ ...view, token: session.token });
});

app.post("/logout", limit, async (c) => {
  const token = sessionToken(c);
  if (token) await deleteSession(db(c), token, sessionSecret(c));
  deleteCookie(c, SESSION_COOKIE, {
    path: "/",
    secure: isSecureOrigin(c),
    httpOnly: true,
    sameSite: "Lax",
  });
  return c.json({ ok: true });
});

app.get("/session", async (c) => {
  const token = sessionToken(c);
  const view = token ? await resolveSession(db(c), token, sessionSecret(c)) : undefined;
  if (!view) {
    return c.json({ error: "unauthenticated", message: "No valid session." }, 401);
  }
  return c.json(view);
});

app.notFound((c) =>
  c.json(
    { error: "not_found", message: `No route for ${c.req.method} ${new URL(c.req.url).pathname}` },
    404,
  ),
);

app.onError(onError);

/** A new user and their free plan; undefined when the email is taken. */
async function insertUser(
  tx: Transaction,
  values: { email: string; passwordHash: string; displayName: string | null },
) {
  const [created] = await tx
    .insert(users)
    .values(values)
    .onConflictDoNothing()
    .returning({ id: users.id, email: users.email, displayName: users.displayName });
  if (!created) return undefined;
  await tx.insert(entitlements).values({ userId: created.id, plan: "free", source: "signup" });
  return created;
}

/** The user with this email, in any case (login). */
async function userByEmail(database: Database, email: string) {
  const [user] = await database
    .select()
    .from(users)
    .where(eq(sql`lower(${users.email})`, email));
  return user;
}

function sessionSecret(c: AppContext): string {
  const secret = c.env.SESSION_SECRET;
  if (!secret || secret.length < MIN_SECRET_LENGTH) {
    throw new Error(`SESSION_SECRET must be set to at least ${MIN_SECRET_LENGTH} characters`);
  }
  return secret;
}

async function parseBody<S extends z.ZodType>(c: AppContext, schema: S): Promise<z.output<S>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new HTTPException(400, {
      res: c.json({ error: "invalid_request", message: "body must be a JSON object" }, 400),
    });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new HTTPException(400, {
      res: c.json({ error: "invalid_request", message: describeIssues(parsed.error) }, 400),
    });
  }
  return parsed.data;
}

/** The session token from the cookie, or from an `Authorization: Bearer` header. */
function sessionToken(c: AppContext): string | undefined {
  const bearer = c.req.header("authorization")?.match(/^Bearer\s+([A-Za-z0-9_-]{20,200})$/)?.[1];
  return bearer ?? getCookie(c, SESSION_COOKIE) ?? undefined;
}

function requestMeta(c: AppContext): { ip: string; userAgent: string | null } {
  return {
    // Cloudflare sets cf-connecting-ip on public requests; the web Worker forwards it on bindings.
    ip: c.req.header("cf-connecting-ip") ?? "unknown",
    userAgent: c.req.header("user-agent") ?? null,
  };
}

function setSessionCookie(c: AppContext, token: string): void {
  setCookie(c, SESSION_COOKIE, token, {
    path: "/",
    httpOnly: true,
    sameSite: "Lax",
    secure: isSecureOrigin(c),
    maxAge: SESSION_TTL_SECONDS,
  });
}

/** Secure cookies everywhere but plain-http localhost, where browsers would drop them. */
function isSecureOrigin(c: AppContext): boolean {
  const host = new URL(c.req.url).hostname;
  const local =
    host === "localhost" || host.endsWith(".localhost") || host === "127.0.0.1" || host === "[::1]";
  return !local;
}
