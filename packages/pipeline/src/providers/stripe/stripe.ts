/**
 * Per-preview webhook endpoints on Stripe, through Stripe's official Node library. An
 * endpoint is found again by its metadata (`codex_environment = preview-<N>`), so `delete`
 * needs no stored state. Whether to reuse or make one is decided in preview-endpoint.ts. Only previews get endpoints, and only with a
 * test-mode key: a live key is refused before any request is made.
 */
// The library is imported on the first call (`#stripe`): loading it takes a tenth of a second,
// which every command that never calls Stripe would pay at start-up.
import type Stripe from "stripe";
import { checkEnvironment, showInput, type Environment } from "../../core/environments";
import { createScrubber } from "../../core/scrub";
import { PipelineError, userError } from "../../errors";
import { assertTestKey, type PreviewWebhooks, type WebhookEndpoint } from "./shared";

export const STRIPE_METADATA_KEY = "codex_environment";
export const STRIPE_PREVIEW_EVENTS = [
  "checkout.session.completed",
  "invoice.paid",
  "customer.subscription.deleted",
] as const;

const PAGE_SIZE = 100;

/**
 * The API version the pinned `stripe` library speaks (its `Stripe.API_VERSION`, which
 * stripe.test.ts checks this against); new endpoints render events in it.
 */
export const STRIPE_API_VERSION = "2026-10-28.endive";

export interface StripePreviewWebhooksOptions {
  secretKey: string;
  /** The API host, Stripe's own by default; tests point it at a stub. */
  host?: string;
  port?: number;
  protocol?: "http" | "https";
}

export class StripePreviewWebhooks implements PreviewWebhooks {
  readonly #secretKey: string;
  readonly #options: Omit<StripePreviewWebhooksOptions, "secretKey">;
  #client: Promise<Stripe> | undefined;
  /** The library's authentication error class, once it is loaded (for #call). */
  #authError: (new (...args: never[]) => Error) | undefined;

  constructor(options: StripePreviewWebhooksOptions) {
    const { secretKey, ...rest } = options;
    this.#secretKey = secretKey;
    this.#options = rest;
  }

  async list(): Promise<WebhookEndpoint[]> {
    const stripe = await this.#stripe();
    return this.#call("list", undefined, async () => {
      const found: WebhookEndpoint[] = [];
      for await (const endpoint of stripe.webhookEndpoints.list({ limit: PAGE_SIZE })) {
        const environment = endpoint.metadata?.[STRIPE_METADATA_KEY];
        found.push({ id: endpoint.id, url: endpoint.url, ...(environment ? { environment } : {}) });
      }
      return found;
    });
  }

  async create(environment: Environment, url: string): Promise<{ id: string; secret: string }> {
    const env = this.#preview(environment);
    const stripe = await this.#stripe();
    return this.#call("create", env, async () => {
      const made = await stripe.webhookEndpoints.create({
        url,
        enabled_events: [...STRIPE_PREVIEW_EVENTS],
        metadata: { [STRIPE_METADATA_KEY]: env.name },
        description: `codex ${env.name}`,
        // Events are rendered in the API version this library speaks, whatever the account's
        // default is (https://docs.stripe.com/api/webhook_endpoints/create: `api_version`).
        api_version: STRIPE_API_VERSION,
      });
      if (!made.secret) {
        throw new PipelineError(
          "CLOUD_FAILED",
          `Stripe returned no signing secret for the new endpoint of ${env.name}`,
        );
      }
      return { id: made.id, secret: made.secret };
    });
  }

  async update(environment: Environment, id: string, url: string): Promise<void> {
    const env = this.#preview(environment);
    const stripe = await this.#stripe();
    await this.#call("update", env, () => stripe.webhookEndpoints.update(id, { url }));
  }

  async delete(environment: Environment, options: { keep?: string } = {}): Promise<boolean> {
    const env = this.#preview(environment);
    const stripe = await this.#stripe();
    return this.#call("delete", env, async () => {
      const found = (await this.list()).filter(
        (e) => e.environment === env.name && e.id !== options.keep,
      );
      for (const endpoint of found) await stripe.webhookEndpoints.del(endpoint.id);
      return found.length > 0;
    });
  }

  /** A checked preview environment, and a test-mode key for it; anything else is refused. */
  #preview(environment: Environment): Environment {
    const env = checkEnvironment(environment);
    if (env.kind !== "preview") {
      throw userError(
        "INVALID_ENVIRONMENT",
        `Stripe webhook endpoints are per preview only; "${showInput(env.name)}" is not a preview`,
        "Configure production and staging webhooks in the Stripe dashboard.",
      );
    }
    assertTestKey(this.#secretKey, env);
    return env;
  }

  #stripe(): Promise<Stripe> {
    this.#client ??= import("stripe").then(({ default: Library }) => {
      this.#authError = Library.errors.StripeAuthenticationError;
      return new Library(this.#secretKey, {
        ...(this.#options.host === undefined ? {} : { host: this.#options.host }),
        ...(this.#options.port === undefined ? {} : { port: this.#options.port }),
        ...(this.#options.protocol === undefined ? {} : { protocol: this.#options.protocol }),
        httpClient: Library.createNodeHttpClient(),
        telemetry: false,
      });
    });
    return this.#client;
  }

  /** Runs a Stripe call, turning Stripe's errors into ones that never carry the key. */
  async #call<T>(what: string, env: Environment | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof PipelineError) throw error;
      const scrub = createScrubber([this.#secretKey], [/\b(?:sk|rk)_\w+/g]);
      const message = scrub(error instanceof Error ? error.message : String(error));
      const subject = env
        ? `the webhook endpoint of ${env.name}`
        : "the account's webhook endpoints";
      if (this.#authError && error instanceof this.#authError) {
        throw userError(
          "CONFIG_INVALID",
          `Stripe refused the API key while trying to ${what} ${subject}: ${message}`,
          "Check STRIPE_SECRET_KEY: it must be a valid test-mode secret key.",
        );
      }
      throw new PipelineError("HOST_FAILED", `Stripe failed to ${what} ${subject}: ${message}`);
    }
  }
}

/**
 * The Stripe webhooks of the environment variables: STRIPE_SECRET_KEY, and optionally
 * STRIPE_API_HOST (for example "http://127.0.0.1:1234"). Undefined without a key: per-PR
 * endpoints are optional.
 */
export function stripeFromEnv(
  env: Record<string, string | undefined> = process.env,
): StripePreviewWebhooks | undefined {
  const secretKey = env.STRIPE_SECRET_KEY?.trim();
  if (!secretKey) return undefined;
  const host = env.STRIPE_API_HOST?.trim();
  if (!host) return new StripePreviewWebhooks({ secretKey });
  const parsed = URL.canParse(host) ? new URL(host) : undefined;
  const protocol = parsed?.protocol.slice(0, -1);
  if (!parsed || (protocol !== "http" && protocol !== "https") || !parsed.hostname) {
    throw userError(
      "CONFIG_INVALID",
      `STRIPE_API_HOST is not a valid http(s) URL (got "${showInput(host)}")`,
      'Set it like "http://127.0.0.1:12111", or unset it to use Stripe\'s API.',
    );
  }
  return new StripePreviewWebhooks({
    secretKey,
    host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
    ...(parsed.port ? { port: Number(parsed.port) } : {}),
    protocol,
  });
}
