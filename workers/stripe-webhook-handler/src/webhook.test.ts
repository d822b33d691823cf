import { beforeAll, describe, expect, it } from "vitest";
import {
  count,
  createDb,
  type Database,
  entitlements,
  eq,
  payments,
  stripeEvents,
  users,
} from "@codex/database";
import { useTestDatabase } from "@codex/database/testing";
import { captureLogs } from "@codex/observability/testing";
import {
  call,
  checkoutCompleted,
  deliver,
  invoicePaid,
  otherEvent,
  sign,
  subscriptionDeleted,
  UNREACHABLE_DATABASE_URL,
  webhookRequest,
} from "./test-helpers";

// Shaped like a live key so that the refusal triggers; assembled so that no scanner mistakes
// this file for a leaked credential.
const FAKE_LIVE_KEY = ["sk", "live", "codexfakelivekey"].join("_");

const database = useTestDatabase();
let db: Database;
beforeAll(() => {
  db = createDb(database().url, { max: 4 });
  return () => db.$client.end();
});
const dbEnv = () => ({ DATABASE_URL: database().url });

async function newFreeUser(): Promise<string> {
  const [user] = await db
    .insert(users)
    .values({ email: `${crypto.randomUUID()}@example.com`, passwordHash: "x" })
    .returning({ id: users.id });
  await db.insert(entitlements).values({ userId: user!.id, plan: "free", source: "signup" });
  return user!.id;
}

const entitlementOf = async (userId: string) =>
  (await db.select().from(entitlements).where(eq(entitlements.userId, userId)))[0];
const paymentsOf = (userId: string) =>
  db.select().from(payments).where(eq(payments.userId, userId));
const eventRow = async (id: string) =>
  (await db.select().from(stripeEvents).where(eq(stripeEvents.id, id)))[0];

describe("signature verification", () => {
  it("refuses a request without Stripe-Signature and writes nothing", async () => {
    const event = otherEvent("customer.created");
    const res = await call(webhookRequest(JSON.stringify(event)), dbEnv());
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "missing_signature" });
    expect(await eventRow(event.id)).toBeUndefined();
  });

  it("refuses a signature made with another secret", async () => {
    const event = otherEvent("customer.created");
    const payload = JSON.stringify(event);
    const signature = await sign(payload, { secret: "whsec_someone_else" });
    const res = await call(webhookRequest(payload, signature), dbEnv());
    expect(res.status).toBe(400);
    expect(await eventRow(event.id)).toBeUndefined();
  });

  it("refuses a tampered body and grants nothing", async () => {
    const userId = await newFreeUser();
    const event = checkoutCompleted(userId);
    const payload = JSON.stringify(event);
    const signature = await sign(payload);
    const tampered = payload.replace('"amount_total":1200', '"amount_total":1');
    expect(tampered).not.toBe(payload);
    const res = await call(webhookRequest(tampered, signature), dbEnv());
    expect(res.status).toBe(400);
    expect(await eventRow(event.id)).toBeUndefined();
    expect((await entitlementOf(userId))?.plan).toBe("free");
  });

  it("refuses a signature older than the default tolerance (a replayed capture)", async () => {
    const event = otherEvent("customer.created");
    const payload = JSON.stringify(event);
    const signature = await sign(payload, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    const res = await call(webhookRequest(payload, signature), dbEnv());
    expect(res.status).toBe(400);
  });
});

describe("events", () => {
  it("checkout.session.completed grants pro and records the payment", async () => {
    const userId = await newFreeUser();
    const event = checkoutCompleted(userId, {
      customer: "cus_checkout1",
      subscription: "sub_checkout1",
      amount: 2400,
    });
    const res = await deliver(event, dbEnv());
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      received: true,
      duplicate: false,
      outcome: "applied",
    });

    const entitlement = await entitlementOf(userId);
    expect(entitlement).toMatchObject({
      plan: "pro",
      source: "stripe",
      stripeCustomerId: "cus_checkout1",
      stripeSubscriptionId: "sub_checkout1",
    });
    expect(entitlement!.currentPeriodEnd!.getTime()).toBeGreaterThan(Date.now() + 28 * 86400_000);
    const paid = await paymentsOf(userId);
    expect(paid).toHaveLength(1);
    expect(paid[0]).toMatchObject({
      amount: 2400,
      currency: "usd",
      status: "succeeded",
      stripeCheckoutSessionId: event.data.object.id,
    });
    const row = await eventRow(event.id);
    expect(row).toMatchObject({ type: "checkout.session.completed", outcome: "applied" });
    expect(row?.processedAt).toBeInstanceOf(Date);
  });

  it("a redelivered event changes nothing and still gets 200", async () => {
    const userId = await newFreeUser();
    const event = checkoutCompleted(userId);
    expect((await deliver(event, dbEnv())).status).toBe(200);
    const before = await entitlementOf(userId);
    const again = await deliver(event, dbEnv());
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ duplicate: true });
    expect(await paymentsOf(userId)).toHaveLength(1);
    expect(await entitlementOf(userId)).toEqual(before);
  });

  it("two concurrent deliveries of one event apply it once", async () => {
    const userId = await newFreeUser();
    const event = checkoutCompleted(userId);
    const results = await Promise.all([
      deliver(event, dbEnv()),
      deliver(event, dbEnv()),
      deliver(event, dbEnv()),
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const bodies = await Promise.all(results.map((r) => r.json<{ duplicate: boolean }>()));
    expect(bodies.filter((b) => !b.duplicate)).toHaveLength(1);
    expect(await paymentsOf(userId)).toHaveLength(1);
    const [events] = await db
      .select({ n: count() })
      .from(stripeEvents)
      .where(eq(stripeEvents.id, event.id));
    expect(events?.n).toBe(1);
  });

  it("invoice.paid extends the period and records the payment", async () => {
    const userId = await newFreeUser();
    await deliver(checkoutCompleted(userId, { customer: "cus_invoice1" }), dbEnv());
    const periodEnd = Math.floor(Date.now() / 1000) + 90 * 86400;
    const res = await deliver(invoicePaid("cus_invoice1", periodEnd, 1500), dbEnv());
    expect(await res.json()).toMatchObject({ outcome: "applied" });
    const entitlement = await entitlementOf(userId);
    expect(entitlement?.plan).toBe("pro");
    expect(entitlement?.currentPeriodEnd?.getTime()).toBe(periodEnd * 1000);
    expect((await paymentsOf(userId)).map((p) => p.amount).sort()).toEqual([1200, 1500]);
  });

  it("invoice.paid for an unknown customer is recorded as ignored", async () => {
    const event = invoicePaid("cus_nobody", Math.floor(Date.now() / 1000) + 86400);
    const res = await deliver(event, dbEnv());
    expect(res.status).toBe(200);
    expect(await eventRow(event.id)).toMatchObject({ outcome: "ignored" });
  });

  it("customer.subscription.deleted revokes pro", async () => {
    const userId = await newFreeUser();
    await deliver(
      checkoutCompleted(userId, { customer: "cus_cancel1", subscription: "sub_cancel1" }),
      dbEnv(),
    );
    expect((await entitlementOf(userId))?.plan).toBe("pro");
    const res = await deliver(subscriptionDeleted("sub_cancel1", "cus_cancel1"), dbEnv());
    expect(await res.json()).toMatchObject({ outcome: "applied" });
    const entitlement = await entitlementOf(userId);
    expect(entitlement?.plan).toBe("free");
    expect(entitlement?.currentPeriodEnd!.getTime()).toBeLessThanOrEqual(Date.now());
  });

  it("records other event types as ignored and answers 200", async () => {
    const event = otherEvent("customer.created");
    const res = await deliver(event, dbEnv());
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: "ignored", duplicate: false });
    expect(await eventRow(event.id)).toMatchObject({
      outcome: "ignored",
      detail: "no handler for customer.created",
    });
  });
});

describe("failures", () => {
  it("answers 500 when the database is down, so that Stripe retries", async () => {
    const event = otherEvent("customer.created");
    const res = await deliver(event, { DATABASE_URL: UNREACHABLE_DATABASE_URL });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toMatch(/ECONNREFUSED|postgres|at /);
  });

  it("a failure part-way through an event leaves nothing half-written, and the retry applies", async () => {
    const userId = await newFreeUser();
    // An invalid currency fails the payments insert, after the event row and the entitlement were written.
    const broken = checkoutCompleted(userId, { currency: "US dollars" });
    const res = await deliver(broken, dbEnv());
    expect(res.status).toBe(500);
    expect(await eventRow(broken.id)).toBeUndefined();
    expect((await entitlementOf(userId))?.plan).toBe("free");
    expect(await paymentsOf(userId)).toHaveLength(0);

    // Stripe retries the same event id; once the cause is fixed it applies normally.
    broken.data.object.currency = "usd";
    const retry = await deliver(broken, dbEnv());
    expect(await retry.json()).toMatchObject({ outcome: "applied", duplicate: false });
    expect((await entitlementOf(userId))?.plan).toBe("pro");
  });

  it("a failed query is logged without the customer's identifiers", async () => {
    const userId = await newFreeUser();
    const event = checkoutCompleted(userId, {
      customer: "cus_KnownCustomer42",
      currency: "US dollars",
    });
    const logs = captureLogs();
    try {
      const res = await deliver(event, { ...dbEnv(), ANALYTICS: logs.dataset });
      expect(res.status).toBe(500);
    } finally {
      logs.restore();
    }
    expect(
      logs.lines.some((line) => line.includes('Failed query: insert into \\"payments\\"')),
    ).toBe(true);
    const identifiers = [
      userId,
      "cus_KnownCustomer42",
      event.data.object.id,
      event.data.object.payment_intent,
    ];
    for (const line of logs.lines) {
      for (const value of identifiers) {
        expect(line).not.toContain(value);
      }
    }
  });
});

describe("configuration", () => {
  it("refuses to run with a live key outside production", async () => {
    const userId = await newFreeUser();
    const event = checkoutCompleted(userId);
    const res = await deliver(event, {
      ...dbEnv(),
      STRIPE_SECRET_KEY: FAKE_LIVE_KEY,
      ENVIRONMENT: "preview-12",
    });
    expect(res.status).toBe(500);
    const body = await res.json<{ error: string; message: string }>();
    expect(body.error).toBe("misconfigured");
    expect(body.message).toMatch(/live Stripe key.*preview-12/);
    expect(body.message).not.toContain(FAKE_LIVE_KEY);
    expect(await eventRow(event.id)).toBeUndefined();
    const health = await call(new Request("http://localhost/health"), {
      ...dbEnv(),
      STRIPE_SECRET_KEY: FAKE_LIVE_KEY,
    });
    expect(health.status).toBe(500);
  });

  it("accepts a live key in production", async () => {
    const res = await call(new Request("http://localhost/health"), {
      ...dbEnv(),
      STRIPE_SECRET_KEY: FAKE_LIVE_KEY,
      ENVIRONMENT: "production",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ environment: "production", database: "ok" });
  });

  it("refuses live-mode events outside production", async () => {
    const userId = await newFreeUser();
    const event = checkoutCompleted(userId, { livemode: true });
    const res = await deliver(event, dbEnv());
    expect(res.status).toBe(400);
    expect((await entitlementOf(userId))?.plan).toBe("free");
  });

  it("refuses test-mode events in production", async () => {
    const userId = await newFreeUser();
    const event = checkoutCompleted(userId);
    const res = await deliver(event, { ...dbEnv(), ENVIRONMENT: "production" });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "test_event_refused" });
    expect(await eventRow(event.id)).toBeUndefined();
    expect((await entitlementOf(userId))?.plan).toBe("free");
  });

  it("reports health with the environment from its bindings", async () => {
    const res = await call(new Request("http://localhost/health"), dbEnv());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: "ok",
      service: "stripe-webhook-handler",
      environment: "test",
      database: "ok",
    });
  });

  it("answers 405 to other methods on /webhook", async () => {
    const res = await call(new Request("http://localhost/webhook"), dbEnv());
    expect(res.status).toBe(405);
  });
});
