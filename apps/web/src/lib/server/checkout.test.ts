import { describe, expect, it } from "vitest";
import { checkoutMode, runTestCheckout, TestCheckoutRefused } from "./checkout";
import type { WebEnv } from "./env";

const fetcherThatMustNotBeCalled = {
  fetch: () => {
    throw new Error("the webhook Worker must not be called");
  },
  connect: () => {
    throw new Error("unused");
  },
} as unknown as Fetcher;

function env(vars: Partial<WebEnv>): WebEnv {
  return { AUTH: fetcherThatMustNotBeCalled, WEBHOOK: fetcherThatMustNotBeCalled, ...vars };
}

describe("checkoutMode", () => {
  it("uses Stripe wherever it is configured", () => {
    expect(
      checkoutMode(
        env({
          ENVIRONMENT: "production",
          STRIPE_SECRET_KEY: "sk_live_x",
          STRIPE_PRICE_ID: "price_1",
        }),
      ),
    ).toEqual({ kind: "stripe" });
    expect(
      checkoutMode(
        env({
          ENVIRONMENT: "preview-3",
          STRIPE_SECRET_KEY: "sk_test_x",
          STRIPE_PRICE_ID: "price_1",
        }),
      ),
    ).toEqual({ kind: "stripe" });
  });

  it("offers the test checkout outside production when it can sign", () => {
    expect(
      checkoutMode(env({ ENVIRONMENT: "preview-3", STRIPE_WEBHOOK_SECRET: "whsec_x" })),
    ).toEqual({ kind: "test" });
    expect(checkoutMode(env({ ENVIRONMENT: "preview-3" }))).toMatchObject({ kind: "unavailable" });
  });

  it("never offers the test checkout in production", () => {
    expect(
      checkoutMode(env({ ENVIRONMENT: "production", STRIPE_WEBHOOK_SECRET: "whsec_x" })),
    ).toEqual({
      kind: "unavailable",
      reason: "Payments are not configured in production.",
    });
  });
});

describe("runTestCheckout", () => {
  it("refuses to run in production, before calling anything", async () => {
    await expect(
      runTestCheckout(env({ ENVIRONMENT: "production", STRIPE_WEBHOOK_SECRET: "whsec_x" }), {
        id: "u",
      }),
    ).rejects.toThrow(TestCheckoutRefused);
  });

  it("sends a correctly signed checkout.session.completed to the environment's webhook Worker", async () => {
    const sent: Request[] = [];
    const webhook = {
      fetch: async (input: RequestInfo, init?: RequestInit) => {
        sent.push(new Request(input, init));
        return new Response("{}", { status: 200 });
      },
    } as unknown as Fetcher;
    const secret = "whsec_codex_unit_test";
    const result = await runTestCheckout(
      { ...env({ ENVIRONMENT: "preview-9", STRIPE_WEBHOOK_SECRET: secret }), WEBHOOK: webhook },
      { id: "3b241101-e2bb-4255-8caf-4136c566a962" },
    );
    expect(sent).toHaveLength(1);
    const request = sent[0]!;
    const payload = await request.text();
    const { default: Stripe } = await import("stripe");
    const event = await Stripe.webhooks.constructEventAsync(
      payload,
      request.headers.get("stripe-signature") ?? "",
      secret,
      undefined,
      Stripe.createSubtleCryptoProvider(),
    );
    expect(event.id).toBe(result.eventId);
    expect(event.type).toBe("checkout.session.completed");
    expect(event.livemode).toBe(false);
    expect(event.data.object).toMatchObject({
      client_reference_id: "3b241101-e2bb-4255-8caf-4136c566a962",
      amount_total: 1200,
      currency: "usd",
      payment_status: "paid",
    });
  });
});
