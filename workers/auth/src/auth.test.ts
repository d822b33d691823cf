import { beforeAll, describe, expect, it } from "vitest";
import { createDb, type Database, eq, sessions, users } from "@codex/database";
import { useTestDatabase } from "@codex/database/testing";
import {
  call,
  cookieFrom,
  uniqueEmail,
  UNREACHABLE_DATABASE_URL,
  type CallOptions,
} from "./test-helpers";

const database = useTestDatabase();
let db: Database;
beforeAll(() => {
  db = createDb(database().url);
  return () => db.$client.end();
});

const PASSWORD = "correct horse battery";
const send = (path: string, options: CallOptions = {}) =>
  call(path, { ...options, env: { DATABASE_URL: database().url, ...options.env } });

async function signup(email: string, extra: Record<string, unknown> = {}) {
  return send("/signup", { json: { email, password: PASSWORD, ...extra } });
}

describe("signup", () => {
  it("creates the account, a free plan and a session cookie", async () => {
    const email = uniqueEmail("Signup");
    const res = await signup(email, { displayName: "Sig Nup" });
    expect(res.status).toBe(201);
    const body = await res.json<{
      user: { id: string; email: string };
      plan: string;
      token: string;
    }>();
    expect(body.user.email).toBe(email.toLowerCase());
    expect(body.plan).toBe("free");
    const cookie = res.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^codex_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
    expect(cookie).not.toContain("Secure");

    const [stored] = await db.select().from(users).where(eq(users.id, body.user.id));
    expect(stored?.passwordHash).toMatch(/^pbkdf2-sha256\$100000\$/);
    expect(stored?.passwordHash).not.toContain(PASSWORD);
    const [session] = await db.select().from(sessions).where(eq(sessions.userId, body.user.id));
    expect(session?.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(session?.tokenHash).not.toBe(body.token);
    expect(session!.expiresAt.getTime()).toBeGreaterThan(Date.now() + 29 * 24 * 3600 * 1000);
  });

  it("sets a Secure cookie on a public origin", async () => {
    const res = await send("/signup", {
      origin: "https://auth.example.com",
      json: { email: uniqueEmail("secure"), password: PASSWORD },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("set-cookie")).toContain("Secure");
  });

  it("answers 409 for an email that exists in another case", async () => {
    const email = uniqueEmail("dup");
    expect((await signup(email)).status).toBe(201);
    const again = await signup(email.toUpperCase());
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: "email_taken" });
  });

  it("answers 400 naming the bad field", async () => {
    const badEmail = await send("/signup", { json: { email: "not-an-email", password: PASSWORD } });
    expect(badEmail.status).toBe(400);
    expect((await badEmail.json<{ message: string }>()).message).toMatch(/email/);

    const short = await send("/signup", { json: { email: uniqueEmail("short"), password: "abc" } });
    expect(short.status).toBe(400);
    expect((await short.json<{ message: string }>()).message).toMatch(
      /password must be at least 8/,
    );

    const notJson = await send("/signup", {
      body: "email=a",
      headers: { "content-type": "text/plain" },
    });
    expect(notJson.status).toBe(400);
    expect((await notJson.json<{ message: string }>()).message).toMatch(/JSON/);
  });

  it("answers 413 for an oversized body, before parsing it", async () => {
    const res = await send("/signup", {
      json: { email: uniqueEmail("big"), password: PASSWORD, displayName: "x".repeat(20_000) },
    });
    expect(res.status).toBe(413);
    expect(
      await db
        .select()
        .from(users)
        .where(eq(users.displayName, "x".repeat(20_000))),
    ).toHaveLength(0);
  });
});

describe("login, session and logout", () => {
  it("logs in, resolves the session by cookie and by bearer token, and logs out", async () => {
    const email = uniqueEmail("flow");
    await signup(email);
    const login = await send("/login", {
      json: { email: email.toUpperCase(), password: PASSWORD },
    });
    expect(login.status).toBe(200);
    const body = await login.json<{ token: string; plan: string; user: { email: string } }>();
    expect(body.plan).toBe("free");
    expect(body.user.email).toBe(email.toLowerCase());

    const byCookie = await send("/session", { headers: { cookie: cookieFrom(login) } });
    expect(byCookie.status).toBe(200);
    expect(await byCookie.json()).toMatchObject({
      user: { email: email.toLowerCase() },
      plan: "free",
    });

    const byBearer = await send("/session", { headers: { authorization: `Bearer ${body.token}` } });
    expect(byBearer.status).toBe(200);

    const logout = await send("/logout", {
      method: "POST",
      headers: { cookie: cookieFrom(login) },
    });
    expect(logout.status).toBe(200);
    expect(logout.headers.get("set-cookie")).toMatch(/codex_session=;.*Max-Age=0/);
    expect(
      (await send("/session", { headers: { authorization: `Bearer ${body.token}` } })).status,
    ).toBe(401);
  });

  it("logout without a session is harmless", async () => {
    const res = await send("/logout", { method: "POST" });
    expect(res.status).toBe(200);
  });

  it("rejects a wrong password and an unknown email with the same message", async () => {
    const email = uniqueEmail("wrong");
    await signup(email);
    const wrong = await send("/login", { json: { email, password: "not the password" } });
    const unknown = await send("/login", {
      json: { email: uniqueEmail("ghost"), password: PASSWORD },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.json()).toEqual(await unknown.json());
  });

  it("refuses an expired session", async () => {
    const email = uniqueEmail("expired");
    const res = await signup(email);
    const { token, user } = await res.json<{ token: string; user: { id: string } }>();
    await db
      .update(sessions)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(sessions.userId, user.id));
    const session = await send("/session", { headers: { authorization: `Bearer ${token}` } });
    expect(session.status).toBe(401);
  });

  it("refuses a made-up token", async () => {
    const res = await send("/session", {
      headers: { cookie: "codex_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
    });
    expect(res.status).toBe(401);
  });
});

describe("rate limiting", () => {
  it("answers 429 with Retry-After after repeated failures for one email and IP", async () => {
    const email = uniqueEmail("limited");
    await signup(email);
    const ip = { "cf-connecting-ip": "203.0.113.7" };
    for (let i = 0; i < 5; i++) {
      const res = await send("/login", {
        json: { email, password: "wrong-password" },
        headers: ip,
      });
      expect(res.status).toBe(401);
    }
    const limited = await send("/login", { json: { email, password: PASSWORD }, headers: ip });
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);

    // Another address is not punished for this one's failures.
    const elsewhere = await send("/login", {
      json: { email, password: PASSWORD },
      headers: { "cf-connecting-ip": "198.51.100.4" },
    });
    expect(elsewhere.status).toBe(200);
  });

  it("forgets failures once a login from the same email and IP succeeds", async () => {
    const email = uniqueEmail("recovers");
    await signup(email);
    const ip = { "cf-connecting-ip": "203.0.113.8" };
    for (let i = 0; i < 4; i++) {
      await send("/login", { json: { email, password: "wrong-password" }, headers: ip });
    }
    expect(
      (await send("/login", { json: { email, password: PASSWORD }, headers: ip })).status,
    ).toBe(200);
    for (let i = 0; i < 4; i++) {
      expect(
        (await send("/login", { json: { email, password: "wrong-password" }, headers: ip })).status,
      ).toBe(401);
    }
    expect(
      (await send("/login", { json: { email, password: PASSWORD }, headers: ip })).status,
    ).toBe(200);
  });
});

describe("health and failures", () => {
  it("reports the database and the environment", async () => {
    const res = await send("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: "ok",
      service: "auth",
      environment: "test",
      database: "ok",
    });
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  it("reports an unreachable database as 503", async () => {
    const res = await send("/health", { env: { DATABASE_URL: UNREACHABLE_DATABASE_URL } });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ database: "unreachable" });
  });

  it("turns a database failure into a 500 that leaks nothing", async () => {
    const res = await send("/login", {
      json: { email: uniqueEmail("down"), password: PASSWORD },
      headers: { "x-request-id": "req-db-down-1" },
      env: { DATABASE_URL: UNREACHABLE_DATABASE_URL },
    });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: "internal_error", requestId: "req-db-down-1" });
    expect(text).not.toMatch(/postgres|ECONNREFUSED|at /);
  });

  it("refuses to issue sessions without a strong SESSION_SECRET", async () => {
    const res = await send("/signup", {
      json: { email: uniqueEmail("nosecret"), password: PASSWORD },
      env: { SESSION_SECRET: "short" },
    });
    expect(res.status).toBe(500);
  });

  it("answers 404 with a message for unknown routes", async () => {
    const res = await send("/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "not_found" });
  });
});
