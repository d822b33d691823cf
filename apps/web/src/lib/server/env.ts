import type { RequestEvent } from "@sveltejs/kit";

/** The web Worker's bindings, as declared in wrangler.jsonc. */
export interface WebEnv {
  ENVIRONMENT?: string;
  /** debug | info | warn | error; info by default. */
  LOG_LEVEL?: string;
  DATABASE_URL?: string;
  /** The auth Worker of the same environment. */
  AUTH: Fetcher;
  /** The webhook Worker of the same environment (used by the test checkout). */
  WEBHOOK: Fetcher;
  STRIPE_SECRET_KEY?: string;
  STRIPE_PRICE_ID?: string;
  STRIPE_WEBHOOK_SECRET?: string;
  ANALYTICS?: AnalyticsEngineDataset;
}

export interface SessionUser {
  user: { id: string; email: string; displayName: string | null };
  plan: "free" | "pro";
  periodEnd: string | null;
}

export function environmentName(env: Pick<WebEnv, "ENVIRONMENT">): string {
  return env.ENVIRONMENT || "unknown";
}

export function isProduction(env: Pick<WebEnv, "ENVIRONMENT">): boolean {
  return env.ENVIRONMENT === "production";
}

/** The platform's bindings; a clear error when the app runs without them (e.g. `vite dev`). */
export function platformEnv(event: Pick<RequestEvent, "platform">): WebEnv {
  const env = event.platform?.env;
  if (!env?.AUTH) {
    throw new Error(
      "no Cloudflare bindings: run the app in workerd (pnpm preview-deploy, or wrangler dev), not plain vite",
    );
  }
  return env;
}

/** Plain-http localhost (and *.localhost) is the one place where cookies cannot be Secure. */
export function isLocalOrigin(url: URL): boolean {
  const host = url.hostname;
  return (
    url.protocol === "http:" &&
    (host === "localhost" ||
      host.endsWith(".localhost") ||
      host === "127.0.0.1" ||
      host === "[::1]")
  );
}
