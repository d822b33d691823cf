/**
 * Per-preview Stripe webhook endpoints: each pull request's preview gets its own endpoint, so
 * that test-mode events reach the preview that caused them. Endpoints are optional; without a
 * Stripe key the pipeline simply makes none.
 */
import { showInput, type Environment } from "../../core/environments";
import { userError } from "../../errors";

/** A webhook endpoint on the account; `environment` is the one its metadata names, if any. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  environment?: string;
}

/**
 * Stripe allows this many webhook endpoints per account, all of them counted (production's and
 * other tools' too): https://docs.stripe.com/webhooks ("You can register up to 16 webhook
 * endpoints on each Stripe account").
 */
export const STRIPE_ENDPOINT_LIMIT = 16;

export interface PreviewWebhooks {
  /** Every endpoint on the account (Stripe counts them all against its limit). */
  list(): Promise<WebhookEndpoint[]>;
  /**
   * Makes a new endpoint for `environment` (a preview) pointing at `url`. Its signing secret is
   * only known now: Stripe returns it on create and never again
   * (https://docs.stripe.com/api/webhook_endpoints/object: `secret`, "Only returned at creation").
   */
  create(environment: Environment, url: string): Promise<{ id: string; secret: string }>;
  /** Points the endpoint `id` of `environment` at `url`; its signing secret stays the same. */
  update(environment: Environment, id: string, url: string): Promise<void>;
  /** Deletes the preview's endpoints (all but `keep`, when given); false when there were none. */
  delete(environment: Environment, options?: { keep?: string }): Promise<boolean>;
}

const LIVE_KEY = /^(?:sk|rk)_live_/;

/**
 * Refuses a live-mode Stripe key outside production: a preview or staging must never create
 * endpoints in (or receive events from) the live account. The key itself is never shown.
 */
export function assertTestKey(key: string, environment: Environment): void {
  if (environment.kind === "production") return;
  if (LIVE_KEY.test(key.trim())) {
    throw userError(
      "INVALID_ARGUMENT",
      `refusing to use a live-mode Stripe key for the "${showInput(environment.name)}" environment`,
      "Set STRIPE_SECRET_KEY to a test-mode key (sk_test_… or rk_test_…) for previews and staging.",
    );
  }
}
