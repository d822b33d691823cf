import type Stripe from "stripe";
import {
  type Database,
  entitlements,
  eq,
  or,
  payments,
  sql,
  stripeEvents,
  users,
} from "@codex/database";

export type Outcome = "applied" | "ignored";

export interface ProcessResult {
  /** True when this event id had already been processed: nothing was changed. */
  duplicate: boolean;
  outcome?: Outcome;
  detail?: string;
}

export type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];
interface Effect {
  outcome: Outcome;
  detail: string;
}

// A checkout grants a month until the subscription's first invoice.paid states the real period.
const CHECKOUT_GRANT_SECONDS = 31 * 24 * 60 * 60;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Applies one verified event exactly once. The event's id is inserted in the same transaction
 * as its effects: a redelivery finds the row and changes nothing, a concurrent delivery of the
 * same event waits on the primary key and then finds the row, and a failure rolls back both.
 */
export async function processEvent(db: Database | Tx, event: Stripe.Event): Promise<ProcessResult> {
  return db.transaction(async (tx) => {
    const [fresh] = await tx
      .insert(stripeEvents)
      .values({ id: event.id, type: event.type, outcome: "ignored" })
      .onConflictDoNothing()
      .returning({ id: stripeEvents.id });
    if (!fresh) return { duplicate: true };
    const effect = await applyEvent(tx, event);
    await tx
      .update(stripeEvents)
      .set({ outcome: effect.outcome, detail: effect.detail, processedAt: sql`now()` })
      .where(eq(stripeEvents.id, event.id));
    return { duplicate: false, ...effect };
  });
}

async function applyEvent(tx: Tx, event: Stripe.Event): Promise<Effect> {
  switch (event.type) {
    case "checkout.session.completed":
      return checkoutCompleted(tx, event.data.object, event.created);
    case "invoice.paid":
      return invoicePaid(tx, event.data.object);
    case "customer.subscription.deleted":
      return subscriptionDeleted(tx, event.data.object);
    default:
      return { outcome: "ignored", detail: `no handler for ${event.type}` };
  }
}

async function checkoutCompleted(
  tx: Tx,
  session: Stripe.Checkout.Session,
  created: number,
): Promise<Effect> {
  const userId = session.client_reference_id;
  if (!userId || !UUID.test(userId)) {
    return {
      outcome: "ignored",
      detail: "checkout session has no client_reference_id naming a user",
    };
  }
  const [user] = await tx.select({ id: users.id }).from(users).where(eq(users.id, userId));
  if (!user) return { outcome: "ignored", detail: `no user ${userId}` };
  if (session.payment_status === "unpaid") {
    return { outcome: "ignored", detail: "checkout completed without payment yet" };
  }
  const customer = idOf(session.customer);
  const subscription = idOf(session.subscription);
  const periodEnd = new Date((created + CHECKOUT_GRANT_SECONDS) * 1000);
  await tx
    .insert(entitlements)
    .values({
      userId,
      plan: "pro",
      source: "stripe",
      stripeCustomerId: customer,
      stripeSubscriptionId: subscription,
      currentPeriodEnd: periodEnd,
    })
    .onConflictDoUpdate({
      target: entitlements.userId,
      set: {
        plan: "pro",
        source: "stripe",
        stripeCustomerId: sql`coalesce(excluded.stripe_customer_id, ${entitlements.stripeCustomerId})`,
        stripeSubscriptionId: sql`coalesce(excluded.stripe_subscription_id, ${entitlements.stripeSubscriptionId})`,
        currentPeriodEnd: sql`greatest(${entitlements.currentPeriodEnd}, excluded.current_period_end)`,
        updatedAt: sql`now()`,
      },
    });
  await tx
    .insert(payments)
    .values({
      userId,
      stripeCheckoutSessionId: session.id,
      stripePaymentIntentId: idOf(session.payment_intent),
      stripeCustomerId: customer,
      amount: session.amount_total ?? 0,
      currency: (session.currency ?? "usd").toLowerCase(),
      status: "succeeded",
    })
    .onConflictDoNothing();
  return { outcome: "applied", detail: `pro granted to ${userId}` };
}

async function invoicePaid(tx: Tx, invoice: Stripe.Invoice): Promise<Effect> {
  const customer = idOf(invoice.customer);
  if (!customer) return { outcome: "ignored", detail: "invoice has no customer" };
  const [entitlement] = await tx
    .select({ userId: entitlements.userId })
    .from(entitlements)
    .where(eq(entitlements.stripeCustomerId, customer));
  if (!entitlement) return { outcome: "ignored", detail: `no user for customer ${customer}` };
  const periodEndSeconds = invoice.lines?.data?.[0]?.period?.end ?? invoice.period_end;
  await tx
    .update(entitlements)
    .set({
      plan: "pro",
      source: "stripe",
      currentPeriodEnd: sql`greatest(${entitlements.currentPeriodEnd}, ${new Date(periodEndSeconds * 1000).toISOString()}::timestamptz)`,
      updatedAt: sql`now()`,
    })
    .where(eq(entitlements.userId, entitlement.userId));
  if (invoice.id) {
    await tx
      .insert(payments)
      .values({
        userId: entitlement.userId,
        stripeInvoiceId: invoice.id,
        stripeCustomerId: customer,
        amount: invoice.amount_paid,
        currency: invoice.currency.toLowerCase(),
        status: "succeeded",
      })
      .onConflictDoNothing();
  }
  return { outcome: "applied", detail: `period extended for ${entitlement.userId}` };
}

async function subscriptionDeleted(tx: Tx, subscription: Stripe.Subscription): Promise<Effect> {
  const customer = idOf(subscription.customer);
  const revoked = await tx
    .update(entitlements)
    .set({
      plan: "free",
      source: "stripe",
      currentPeriodEnd: new Date((subscription.ended_at ?? Math.floor(Date.now() / 1000)) * 1000),
      updatedAt: sql`now()`,
    })
    .where(
      or(
        eq(entitlements.stripeSubscriptionId, subscription.id),
        customer ? eq(entitlements.stripeCustomerId, customer) : sql`false`,
      ),
    )
    .returning({ userId: entitlements.userId });
  if (revoked.length === 0) {
    return { outcome: "ignored", detail: `no user for subscription ${subscription.id}` };
  }
  return {
    outcome: "applied",
    detail: `pro revoked for ${revoked.map((r) => r.userId).join(", ")}`,
  };
}

/** Stripe fields that may be an id or an expanded object. */
function idOf(value: string | { id: string } | null | undefined): string | null {
  if (!value) return null;
  return typeof value === "string" ? value : value.id;
}

/** The event types the handlers act on, each checked by `/health?schema=1`. */
export const HANDLED_EVENT_TYPES = [
  "checkout.session.completed",
  "invoice.paid",
  "customer.subscription.deleted",
] as const;

/**
 * An event of `type` that reaches the tables its handler uses and matches nothing (no such user,
 * customer or subscription), for the schema check, which processes it in a transaction that is
 * rolled back.
 */
export function schemaCheckEvent(type: (typeof HANDLED_EVENT_TYPES)[number]): Stripe.Event {
  const created = Math.floor(Date.now() / 1000);
  const objects: Record<typeof type, Record<string, unknown>> = {
    "checkout.session.completed": {
      id: "cs_codex_schema_check",
      client_reference_id: "00000000-0000-0000-0000-000000000000",
      payment_status: "paid",
    },
    "invoice.paid": { id: "in_codex_schema_check", customer: "cus_codex_schema_check" },
    "customer.subscription.deleted": {
      id: "sub_codex_schema_check",
      customer: "cus_codex_schema_check",
      ended_at: created,
    },
  };
  const id = `evt_codex_schema_check_${crypto.randomUUID().replaceAll("-", "")}`;
  const event = { id, type, created, livemode: false, data: { object: objects[type] } };
  return event as unknown as Stripe.Event;
}
