import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  closeDb,
  count,
  createDb,
  eq,
  payments,
  stripeEvents,
  type Database,
} from "@codex/database";
import { useTestDatabase } from "@codex/database/testing";
import { startStack, type Stack } from "./stack";
import { location, Visitor } from "./client";

const database = useTestDatabase();
const SECRETS = {
  stripeWebhookSecret: "whsec_codex_web_test_secret",
  sessionSecret: "web-test-session-secret-of-at-least-32-chars",
  logLevel: "warn",
};
let preview: Stack;
let production: Stack;
let db: Database;

beforeAll(async () => {
  const databaseUrl = database().url;
  [preview, production] = await Promise.all([
    startStack({ ...SECRETS, databaseUrl, environment: "preview-42" }),
    startStack({ ...SECRETS, databaseUrl, environment: "production" }),
  ]);
  db = createDb(databaseUrl);
});
afterAll(async () => {
  await Promise.all([preview?.dispose(), production?.dispose(), db && closeDb(db)]);
});

let n = 0;
const email = (label: string) => `${label}-${++n}-${Date.now().toString(36)}@example.com`;
const PASSWORD = "correct horse battery";

async function signedUp(stack: Stack, label: string): Promise<Visitor> {
  const visitor = new Visitor(stack.url);
  const response = await visitor.submit("/signup", { email: email(label), password: PASSWORD });
  expect(response.status).toBe(303);
  return visitor;
}

describe("pages and the environment banner", () => {
  it("names the environment on every page outside production", async () => {
    const home = await new Visitor(preview.url).get("/");
    expect(home.status).toBe(200);
    const html = await home.text();
    expect(html).toContain('data-testid="env-banner"');
    expect(html).toMatch(/<strong>preview-42<\/strong> environment/);
  });

  it("shows no banner in production", async () => {
    const html = await (await new Visitor(production.url).get("/")).text();
    expect(html).not.toContain('data-testid="env-banner"');
  });

  it("serves the static assets but not the server bundle", async () => {
    const visitor = new Visitor(preview.url);
    expect((await visitor.get("/favicon.svg")).status).toBe(200);
    expect((await visitor.get("/_worker.js")).status).toBe(404);
  });

  it("reports health of itself and both sibling Workers", async () => {
    const response = await new Visitor(preview.url).get("/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: "ok",
      service: "web",
      environment: "preview-42",
      database: "ok",
      auth: "ok",
      webhook: "ok",
    });
  });

  it("with ?schema=1, reads what its pages read (the account page's payments)", async () => {
    const response = await new Visitor(preview.url).get("/health?schema=1");
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: "ok",
      schema: "ok",
      checks: ["payments of a user (account page)"],
    });
  });
});

describe("sign up, log in, log out (forms without JavaScript)", () => {
  it("signs up, sets a session cookie and lands on the account page", async () => {
    const visitor = new Visitor(preview.url);
    const address = email("signup");
    const response = await visitor.submit("/signup", {
      email: address,
      password: PASSWORD,
      displayName: "Sig",
    });
    expect(response.status).toBe(303);
    expect(location(response)).toBe("/account");
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith("codex_session="));
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).not.toMatch(/Secure/i);
    const account = await (await visitor.get("/account")).text();
    expect(account).toContain(address);
    expect(account).toMatch(/data-testid="account-plan">free</);
    expect(account).toContain("No payments yet.");
  });

  it("answers a taken email with 409 and keeps what was typed", async () => {
    const address = email("taken");
    await new Visitor(preview.url).submit("/signup", { email: address, password: PASSWORD });
    const response = await new Visitor(preview.url).submit("/signup", {
      email: address,
      password: PASSWORD,
    });
    expect(response.status).toBe(409);
    const html = await response.text();
    expect(html).toContain("An account with this email already exists.");
    expect(html).toContain(`value="${address}"`);
  });

  it("explains a bad field", async () => {
    const response = await new Visitor(preview.url).submit("/signup", {
      email: "nope",
      password: "short",
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/role="alert"[^>]*>[^<]*email/);
  });

  it("refuses a wrong password with a clear message, then logs in and out", async () => {
    const address = email("login");
    await new Visitor(preview.url).submit("/signup", { email: address, password: PASSWORD });
    const visitor = new Visitor(preview.url);
    const wrong = await visitor.submit("/login", { email: address, password: "not it at all" });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain("Wrong email or password.");

    const ok = await visitor.submit("/login?redirectTo=%2Fmembers", {
      email: address,
      password: PASSWORD,
    });
    expect(ok.status).toBe(303);
    expect(location(ok)).toBe("/members");
    expect(visitor.cookie("codex_session")).toBeTruthy();

    const out = await visitor.submit("/logout", {});
    expect(out.status).toBe(303);
    expect(visitor.cookie("codex_session")).toBeUndefined();
    expect(location(await visitor.get("/account"))).toBe("/login?redirectTo=%2Faccount");
  });

  it("never redirects to another origin after login", async () => {
    const address = email("redirect");
    await new Visitor(preview.url).submit("/signup", { email: address, password: PASSWORD });
    const response = await new Visitor(preview.url).submit("/login?redirectTo=%2F%2Fevil.example", {
      email: address,
      password: PASSWORD,
    });
    expect(location(response)).toBe("/account");
  });

  it("refuses a form posted from another origin", async () => {
    const response = await new Visitor(preview.url).submit(
      "/signup",
      { email: email("csrf"), password: PASSWORD },
      "https://evil.example",
    );
    expect(response.status).toBe(403);
  });
});

describe("members area and the upgrade", () => {
  it("sends logged-out visitors to login and free users to pricing", async () => {
    expect(location(await new Visitor(preview.url).get("/members"))).toBe(
      "/login?redirectTo=%2Fmembers",
    );
    const free = await signedUp(preview, "free");
    expect(location(await free.get("/members"))).toBe("/pricing?reason=members");
    const pricing = await (await free.get("/pricing?reason=members")).text();
    expect(pricing).toContain("The members area is for pro members.");
  });

  it("upgrades through the test checkout and the real webhook Worker", async () => {
    const visitor = await signedUp(preview, "upgrade");
    const pricing = await (await visitor.get("/pricing")).text();
    expect(pricing).toContain("Test checkout.");
    expect(pricing).toContain("Upgrade with test checkout");

    const [before] = await db.select({ n: count() }).from(stripeEvents);
    const response = await visitor.submit("/pricing?/upgrade", {});
    expect(response.status).toBe(303);
    expect(location(response)).toBe("/account?upgraded=1");
    const [after] = await db.select({ n: count() }).from(stripeEvents);
    expect(after!.n).toBe(before!.n + 1);

    const account = await (await visitor.get("/account?upgraded=1")).text();
    expect(account).toMatch(/data-testid="account-plan">pro</);
    expect(account).toContain("$12.00");
    expect(account).toContain("cs_test_codex_");
    const members = await visitor.get("/members");
    expect(members.status).toBe(200);
    expect(await members.text()).toContain("Thank you for being a pro member.");
  });

  it("offers no test checkout in production, and refuses one if forced", async () => {
    const visitor = await signedUp(production, "prod");
    const pricing = await (await visitor.get("/pricing")).text();
    expect(pricing).not.toContain("test checkout");
    expect(pricing).toContain("Payments are not configured in production.");
    const [before] = await db.select({ n: count() }).from(payments);
    const forced = await visitor.submit("/pricing?/upgrade", {});
    expect(forced.status).toBe(503);
    const [after] = await db.select({ n: count() }).from(payments);
    expect(after!.n).toBe(before!.n);
    expect(location(await visitor.get("/members"))).toBe("/pricing?reason=members");
  });

  it("records the test checkout's payment against the right user only", async () => {
    const visitor = await signedUp(preview, "owner");
    await visitor.submit("/pricing?/upgrade", {});
    const other = await signedUp(preview, "bystander");
    expect(await (await other.get("/account")).text()).toContain("No payments yet.");
    const rows = await db.select().from(payments).where(eq(payments.currency, "usd"));
    expect(rows.every((p) => p.amount === 1200)).toBe(true);
  });
});
