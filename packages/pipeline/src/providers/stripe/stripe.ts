/**
 * Per-preview webhook endpoints on Stripe, through Stripe's official Node library. An
 * endpoint is found again by its metadata (`codex_environment = preview-<N>`), so `ensure` is
 * idempotent and `delete` needs no stored state. Only previews get endpoints, and only with a
 * test-mode key: a live key is refused before any request is made.
 */
import Stripe from "stripe";
import { checkEnvironment, showInput, type Environment } from "../../core/environments";
import { createScrubber } from "../../core/scrub";
import { PipelineError, userError } from "../../errors";
import { assertTestKey, type PreviewWebhooks } from "./shared";

export const STRIPE_METADATA_KEY = "codex_environment";
export const STRIPE_PREVIEW_EVENTS = [
  "checkout.session.completed",
  "invoice.paid",
  "customer.subscription.deleted",
] as const;

const PAGE_SIZE = 100;

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
  #client: Stripe | undefined;

  constructor(options: StripePreviewWebhooksOptions) {
    const { secretKey, ...rest } = options;
    this.#secretKey = secretKey;
    this.#options = rest;
  }

  async ensure(
    environment: Environment,
    url: string,
  ): Promise<{ id: string; secret?: string; created: boolean }> {
    const env = this.#preview(environment);
    const stripe = this.#stripe();
    return this.#call("ensure", env, async () => {
      const [existing] = await this.#find(stripe, env);
      if (existing) {
        if (existing.url !== url) await stripe.webhookEndpoints.update(existing.id, { url });
        return { id: existing.id, created: false };
      }
      const made = await stripe.webhookEndpoints.create({
        url,
        enabled_events: [...STRIPE_PREVIEW_EVENTS],
        metadata: { [STRIPE_METADATA_KEY]: env.name },
        description: `codex ${env.name}`,
      });
      return {
        id: made.id,
        ...(made.secret === undefined ? {} : { secret: made.secret }),
        created: true,
      };
    });
  }

  async delete(environment: Environment): Promise<boolean> {
    const env = this.#preview(environment);
    const stripe = this.#stripe();
    return this.#call("delete", env, async () => {
      const found = await this.#find(stripe, env);
      for (const endpoint of found) await stripe.webhookEndpoints.del(endpoint.id);
      return found.length > 0;
    });
  }

  async #find(stripe: Stripe, env: Environment): Promise<Stripe.WebhookEndpoint[]> {
    const found: Stripe.WebhookEndpoint[] = [];
    for await (const endpoint of stripe.webhookEndpoints.list({ limit: PAGE_SIZE })) {
      if (endpoint.metadata?.[STRIPE_METADATA_KEY] === env.name) found.push(endpoint);
    }
    return found;
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

  #stripe(): Stripe {
    this.#client ??= new Stripe(this.#secretKey, {
      ...(this.#options.host === undefined ? {} : { host: this.#options.host }),
      ...(this.#options.port === undefined ? {} : { port: this.#options.port }),
      ...(this.#options.protocol === undefined ? {} : { protocol: this.#options.protocol }),
      httpClient: Stripe.createNodeHttpClient(),
      telemetry: false,
    });
    return this.#client;
  }

  /** Runs a Stripe call, turning Stripe's errors into ones that never carry the key. */
  async #call<T>(what: string, env: Environment, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof PipelineError) throw error;
      const scrub = createScrubber([this.#secretKey], [/\b(?:sk|rk)_\w+/g]);
      const message = scrub(error instanceof Error ? error.message : String(error));
      if (error instanceof Stripe.errors.StripeAuthenticationError) {
        throw userError(
          "CONFIG_INVALID",
          `Stripe refused the API key while trying to ${what} the webhook endpoint of ${env.name}: ${message}`,
          "Check STRIPE_SECRET_KEY: it must be a valid test-mode secret key.",
        );
      }
      throw new PipelineError(
        "HOST_FAILED",
        `Stripe failed to ${what} the webhook endpoint of ${env.name}: ${message}`,
      );
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
