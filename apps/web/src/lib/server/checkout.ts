import Stripe from "stripe";
import { isProduction, type WebEnv } from "./env";

/** What the pro plan costs, in cents; shown on the pricing page and charged by the test checkout. */
export const PRO_PRICE_CENTS = 1200;
export const PRO_CURRENCY = "usd";

export type CheckoutMode =
  /** Real Stripe Checkout: STRIPE_SECRET_KEY and STRIPE_PRICE_ID are set. */
  | { kind: "stripe" }
  /** Outside production without Stripe: a signed event goes to this environment's webhook Worker. */
  | { kind: "test" }
  /** Neither is possible; the reason says why. */
  | { kind: "unavailable"; reason: string };

/**
 * How this environment takes upgrades. The test checkout is impossible in production whatever
 * else is configured, and needs the webhook signing secret to sign its event.
 */
export function checkoutMode(env: WebEnv): CheckoutMode {
  if (env.STRIPE_SECRET_KEY && env.STRIPE_PRICE_ID) return { kind: "stripe" };
  if (isProduction(env)) {
    return { kind: "unavailable", reason: "Payments are not configured in production." };
  }
  if (!env.STRIPE_WEBHOOK_SECRET) {
    return {
      kind: "unavailable",
      reason: "STRIPE_WEBHOOK_SECRET is not set, so the test checkout cannot sign its event.",
    };
  }
  return { kind: "test" };
}

function stripeClient(env: WebEnv): Stripe {
  return new Stripe(env.STRIPE_SECRET_KEY ?? "", { httpClient: Stripe.createFetchHttpClient() });
}

/** Creates a Stripe Checkout Session for the pro plan and returns its URL. */
export async function createStripeCheckout(
  env: WebEnv,
  user: { id: string; email: string },
  origin: string,
): Promise<string> {
  const session = await stripeClient(env).checkout.sessions.create({
    mode: "subscription",
    line_items: [{ price: env.STRIPE_PRICE_ID, quantity: 1 }],
    client_reference_id: user.id,
    customer_email: user.email,
    success_url: `${origin}/account?upgraded=1`,
    cancel_url: `${origin}/pricing?cancelled=1`,
  });
  if (!session.url) throw new Error("Stripe returned a Checkout Session without a URL");
  return session.url;
}

export class TestCheckoutRefused extends Error {
  override name = "TestCheckoutRefused";
}

/**
 * The test checkout: builds the `checkout.session.completed` event Stripe would send, signs it
 * with this environment's webhook secret (with the stripe library), and posts it to this
 * environment's own webhook Worker through its service binding. The webhook path is the real one.
 */
export async function runTestCheckout(
  env: WebEnv,
  user: { id: string },
): Promise<{ eventId: string; checkoutSessionId: string }> {
  const mode = checkoutMode(env);
  if (mode.kind !== "test") {
    throw new TestCheckoutRefused(
      mode.kind === "stripe" ? "Stripe is configured: use the real checkout." : mode.reason,
    );
  }
  const suffix = crypto.randomUUID().replaceAll("-", "");
  const checkoutSessionId = `cs_test_codex_${suffix}`;
  const event = {
    id: `evt_test_codex_${suffix}`,
    object: "event",
    api_version: "2025-10-29.clover",
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: "checkout.session.completed",
    data: {
      object: {
        id: checkoutSessionId,
        object: "checkout.session",
        mode: "subscription",
        status: "complete",
        payment_status: "paid",
        client_reference_id: user.id,
        customer: `cus_test_codex_${suffix.slice(0, 14)}`,
        subscription: `sub_test_codex_${suffix.slice(0, 14)}`,
        payment_intent: `pi_test_codex_${suffix.slice(0, 14)}`,
        amount_total: PRO_PRICE_CENTS,
        currency: PRO_CURRENCY,
      },
    },
  };
  const payload = JSON.stringify(event);
  const signature = await Stripe.webhooks.generateTestHeaderStringAsync({
    payload,
    secret: env.STRIPE_WEBHOOK_SECRET ?? "",
    cryptoProvider: Stripe.createSubtleCryptoProvider(),
  });
  const response = await env.WEBHOOK.fetch("https://webhook.internal/webhook", {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": signature },
    body: payload,
  });
  if (!response.ok) {
    throw new Error(`the webhook Worker answered ${response.status} to the test checkout`);
  }
  return { eventId: event.id, checkoutSessionId };
}
