/**
 * Per-preview Stripe webhook endpoints: each pull request's preview gets its own endpoint, so
 * that test-mode events reach the preview that caused them. Endpoints are optional; without a
 * Stripe key the pipeline simply makes none.
 */
import { showInput, type Environment } from "../../core/environments";
import { userError } from "../../errors";

export interface PreviewWebhooks {
  /**
   * Makes sure `environment` (a preview) has an endpoint pointing at `url`. `secret` (the
   * signing secret) is only known when the endpoint was just created: Stripe returns it once.
   */
  ensure(
    environment: Environment,
    url: string,
  ): Promise<{ id: string; secret?: string; created: boolean }>;
  /** Deletes the preview's endpoint; false when it had none. */
  delete(environment: Environment): Promise<boolean>;
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
