import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import Stripe from "stripe";
import worker, { type Env } from "./index";

export const testEnv = env as unknown as Env;
const cryptoProvider = Stripe.createSubtleCryptoProvider();

export async function call(request: Request, overrides: Partial<Env> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    request as Request<unknown, IncomingRequestCfProperties>,
    { ...testEnv, ...overrides },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

export interface SignOptions {
  secret?: string;
  /** Seconds since the epoch to sign at; now by default. */
  timestamp?: number;
}

/** A Stripe-Signature header for `payload`, made by the stripe library itself. */
export function sign(payload: string, options: SignOptions = {}): Promise<string> {
  return Stripe.webhooks.generateTestHeaderStringAsync({
    payload,
    secret: options.secret ?? testEnv.STRIPE_WEBHOOK_SECRET,
    ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp }),
    cryptoProvider,
  });
}

export function webhookRequest(payload: string, signature?: string): Request {
  const headers = new Headers({ "content-type": "application/json" });
  if (signature !== undefined) headers.set("stripe-signature", signature);
  return new Request("http://localhost/webhook", { method: "POST", headers, body: payload });
}

/** Posts `event` to /webhook, correctly signed. */
export async function deliver(event: object, overrides: Partial<Env> = {}): Promise<Response> {
  const payload = JSON.stringify(event);
  return call(webhookRequest(payload, await sign(payload)), overrides);
}

let sequence = 0;
function eventId(): string {
  sequence++;
  return `evt_test_${Date.now().toString(36)}${sequence}${crypto.randomUUID().slice(0, 6)}`;
}

function envelope<T extends object>(type: string, object: T, livemode = false) {
  return {
    id: eventId(),
    object: "event",
    api_version: "2025-10-29.clover",
    created: Math.floor(Date.now() / 1000),
    livemode,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
  };
}

export function checkoutCompleted(
  userId: string,
  options: {
    customer?: string;
    subscription?: string;
    amount?: number;
    currency?: string;
    livemode?: boolean;
  } = {},
) {
  return envelope(
    "checkout.session.completed",
    {
      id: `cs_test_${crypto.randomUUID().replaceAll("-", "")}`,
      object: "checkout.session",
      client_reference_id: userId,
      customer: options.customer ?? `cus_${crypto.randomUUID().slice(0, 12)}`,
      subscription: options.subscription ?? `sub_${crypto.randomUUID().slice(0, 12)}`,
      payment_intent: `pi_${crypto.randomUUID().slice(0, 12)}`,
      payment_status: "paid",
      status: "complete",
      mode: "subscription",
      amount_total: options.amount ?? 1200,
      currency: options.currency ?? "usd",
    },
    options.livemode,
  );
}

export function invoicePaid(customer: string, periodEnd: number, amount = 1200) {
  return envelope("invoice.paid", {
    id: `in_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`,
    object: "invoice",
    customer,
    amount_paid: amount,
    currency: "usd",
    status: "paid",
    period_end: periodEnd - 60,
    lines: {
      object: "list",
      data: [{ period: { start: periodEnd - 30 * 86400, end: periodEnd } }],
    },
  });
}

export function subscriptionDeleted(subscription: string, customer: string) {
  return envelope("customer.subscription.deleted", {
    id: subscription,
    object: "subscription",
    customer,
    status: "canceled",
    ended_at: Math.floor(Date.now() / 1000),
  });
}

export function otherEvent(type: string) {
  return envelope(type, { id: `obj_${crypto.randomUUID().slice(0, 8)}`, object: "unknown" });
}

export const UNREACHABLE_DATABASE_URL = "postgres://nobody:nothing@127.0.0.1:1/none";
