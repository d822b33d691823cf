/**
 * A preview's own Stripe endpoint across re-deploys. Stripe returns an endpoint's signing secret
 * only when it makes the endpoint, and an account holds at most {@link STRIPE_ENDPOINT_LIMIT}
 * endpoints. So a re-deploy keeps the endpoint its Workers already hold the secret of (a
 * `--secrets-file` deploy keeps the secrets it does not name), makes a new one only when a
 * Worker lacks the secret, makes it before the old one goes (which happens once the Workers hold
 * the new secret), and the room for a new endpoint is counted before anything is created.
 *
 *   plan     (preflight, before any branch, migration or test): reuse, or make, or refuse
 *   apply    (just before the Workers deploy): update the URL, or create the new endpoint
 *   retire   (once the Workers are deployed): delete the endpoints the new one replaces
 */
import type { Environment } from "../../core/environments";
import { userError } from "../../errors";
import { STRIPE_ENDPOINT_LIMIT, type PreviewWebhooks, type WebhookEndpoint } from "./shared";

export interface EndpointPlan {
  environment: Environment;
  url: string;
  /** The endpoint whose secret the Workers hold, kept as it is (its URL updated if it changed). */
  reuse?: WebhookEndpoint;
  /** The preview's endpoints a new one replaces: deleted by `retire`, or first when no room. */
  replace: WebhookEndpoint[];
  /** The account is full: the replaced endpoints (which no Worker can verify) go before the create. */
  deleteFirst: boolean;
}

/**
 * Decides what the deploy will do with the preview's endpoint, and refuses, before anything is
 * created, when the account has no room for the endpoint the preview needs. `workersHoldSecret`
 * says whether every Worker of the preview that takes STRIPE_WEBHOOK_SECRET already holds one.
 */
export async function planEndpoint(
  webhooks: PreviewWebhooks,
  environment: Environment,
  url: string,
  workersHoldSecret: () => Promise<boolean>,
): Promise<EndpointPlan> {
  const all = await webhooks.list();
  const own = all.filter((e) => e.environment === environment.name);
  // One endpoint and a Worker secret: that secret is this endpoint's. Two or more (a deploy
  // stopped before it retired the old one): which one the Workers hold is unknown, so make anew.
  const [only] = own;
  if (only && own.length === 1 && (await workersHoldSecret())) {
    return { environment, url, reuse: only, replace: [], deleteFirst: false };
  }
  if (all.length < STRIPE_ENDPOINT_LIMIT) {
    return { environment, url, replace: own, deleteFirst: false };
  }
  if (own.length > 0) return { environment, url, replace: own, deleteFirst: true };
  const codex = all.filter((e) => e.environment).map((e) => e.environment as string);
  throw userError(
    "CLOUD_FAILED",
    `Stripe allows ${STRIPE_ENDPOINT_LIMIT} webhook endpoints per account and this one has ` +
      `${all.length}: there is no room for ${environment.name}'s endpoint, and nothing was created`,
    `Close or clean up a preview (pnpm cleanup --pr N --target cloud), or delete an unused endpoint ` +
      `in the Stripe dashboard. Endpoints made by previews: ${codex.length ? [...new Set(codex)].sort().join(", ") : "none"}.`,
  );
}

/**
 * Gives the preview its endpoint as planned: the reused one (`secret` undefined: the Workers
 * keep theirs), or a new one with its signing secret, for the Workers to get.
 */
export async function applyEndpoint(
  webhooks: PreviewWebhooks,
  plan: EndpointPlan,
): Promise<{ id: string; secret?: string; created: boolean }> {
  if (plan.reuse) {
    if (plan.reuse.url !== plan.url)
      await webhooks.update(plan.environment, plan.reuse.id, plan.url);
    return { id: plan.reuse.id, created: false };
  }
  if (plan.deleteFirst) await webhooks.delete(plan.environment);
  const made = await webhooks.create(plan.environment, plan.url);
  return { ...made, created: true };
}

/** True when the plan leaves old endpoints for {@link retireReplaced} to delete. */
export function retiresAny(plan: EndpointPlan): boolean {
  return !plan.reuse && !plan.deleteFirst && plan.replace.length > 0;
}

/**
 * Once the Workers hold the new endpoint's secret: deletes the preview's other endpoints (those
 * it replaced, and any a concurrent run left), keeping `kept`, the new one.
 */
export async function retireReplaced(
  webhooks: PreviewWebhooks,
  plan: EndpointPlan,
  kept: string,
): Promise<boolean> {
  if (!retiresAny(plan)) return false;
  return webhooks.delete(plan.environment, { keep: kept });
}
