/**
 * A preview's Stripe endpoint across deploys, against the Stripe stub (secret only at creation,
 * 16 endpoints per account) and the Cloudflare stub (which secrets each Worker holds). The
 * Workers deploy itself is left out: `deployWorkers` does to the stub's Workers what a
 * `wrangler deploy --secrets-file` does (sets the secrets the file names, keeps the others),
 * which the Cloudflare contract tests check with the real wrangler.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deriveStack, loadStack } from "../../core/derive";
import { previewEnvironment } from "../../core/environments";
import { PipelineError } from "../../errors";
import { REPO_ROOT } from "../../state";
import { startCloudflareStub, type CloudflareStub } from "../../testing/stubs/cloudflare";
import { startStripeStub, type StripeStub } from "../../testing/stubs/stripe";
import { CloudflareWorkerPlatform } from "../workers/cloudflare";
import { applyEndpoint, planEndpoint, retireReplaced, retiresAny } from "./preview-endpoint";
import { STRIPE_ENDPOINT_LIMIT } from "./shared";
import { StripePreviewWebhooks } from "./stripe";

const SECRET = "STRIPE_WEBHOOK_SECRET";
let stripe: StripeStub;
let cf: CloudflareStub;
let webhooks: StripePreviewWebhooks;
let workers: CloudflareWorkerPlatform;

beforeEach(async () => {
  [stripe, cf] = await Promise.all([startStripeStub(), startCloudflareStub()]);
  webhooks = new StripePreviewWebhooks({
    secretKey: stripe.apiKey,
    host: stripe.host,
    port: stripe.port,
    protocol: "http",
  });
  workers = new CloudflareWorkerPlatform({
    apiToken: cf.apiToken,
    accountId: cf.accountId,
    apiBaseUrl: cf.url,
    workersSubdomain: cf.subdomain,
    stateFile: "/nonexistent/cloudflare.json",
  });
});

afterEach(async () => {
  await Promise.all([stripe.close(), cf.close()]);
});

const stackOf = (pr: number) => deriveStack(loadStack(REPO_ROOT), previewEnvironment(pr));
const urlOf = (pr: number) => `https://stripe-webhook-handler-preview-${pr}.example.test/webhook`;
const takers = (pr: number) => stackOf(pr).workers.filter((w) => w.secrets.includes(SECRET));
const creates = () =>
  stripe.requests.filter((r) => r.method === "POST" && r.path === "/v1/webhook_endpoints");
const deletes = () => stripe.requests.filter((r) => r.method === "DELETE");
const endpointsOf = (pr: number) =>
  stripe.endpoints.filter((e) => e.metadata.codex_environment === `preview-${pr}`);

/** What `wrangler deploy --secrets-file` does to the Workers: names set, the others kept. */
function deployWorkers(pr: number, secret: string | undefined) {
  for (const worker of stackOf(pr).workers) {
    const script = cf.scripts.get(worker.name) ?? cf.seed(worker.name);
    if (secret !== undefined && worker.secrets.includes(SECRET)) script.secrets[SECRET] = secret;
  }
}

/** preview-deploy's endpoint steps, in its order: plan (preflight), apply, deploy, retire. */
async function deploy(pr: number) {
  const environment = previewEnvironment(pr);
  const stack = stackOf(pr);
  const plan = await planEndpoint(webhooks, environment, urlOf(pr), () =>
    workers.holdsSecret(stack, SECRET),
  );
  const endpoint = await applyEndpoint(webhooks, plan);
  deployWorkers(pr, endpoint.secret);
  if (retiresAny(plan)) await retireReplaced(webhooks, plan, endpoint.id);
  return endpoint;
}

async function refused(promise: Promise<unknown>): Promise<PipelineError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PipelineError);
  return error as PipelineError;
}

/** Every preview's Workers hold the signing secret of the preview's one endpoint. */
function expectOneWorkingEndpoint(pr: number) {
  const [endpoint, ...more] = endpointsOf(pr);
  expect(more, `preview-${pr} has one endpoint`).toHaveLength(0);
  expect(endpoint?.url).toBe(urlOf(pr));
  for (const worker of takers(pr))
    expect(cf.scripts.get(worker.name)?.secrets[SECRET], worker.name).toBe(endpoint?.secret);
}

describe("a preview's Stripe endpoint across deploys (Stripe and Cloudflare stubs)", () => {
  it("20 previews deployed and re-deployed keep one endpoint each; the 17th to 20th are refused up front, nothing created", async () => {
    expect(STRIPE_ENDPOINT_LIMIT).toBe(16);
    for (let pr = 1; pr <= 16; pr++) expect((await deploy(pr)).created).toBe(true);
    expect(stripe.endpoints).toHaveLength(16);

    for (let pr = 17; pr <= 20; pr++) {
      const requestsBefore = stripe.requests.length;
      const error = await refused(deploy(pr));
      expect(error.kind).toBe("user");
      expect(error.message).toMatch(
        new RegExp(
          `Stripe allows 16 webhook endpoints per account and this one has 16: there is no room for preview-${pr}'s endpoint, and nothing was created`,
        ),
      );
      expect(error.hint).toMatch(/pnpm cleanup --pr N --target cloud/);
      // Only reads: no endpoint made, none deleted, and the Workers never reached.
      expect(stripe.requests.slice(requestsBefore).every((r) => r.method === "GET")).toBe(true);
      for (const worker of stackOf(pr).workers) expect(cf.scripts.has(worker.name)).toBe(false);
    }
    expect(stripe.endpoints).toHaveLength(16);

    // Every re-deploy reuses its endpoint: no create, no delete, and the Workers keep the secret.
    const ids = new Map(stripe.endpoints.map((e) => [e.metadata.codex_environment, e.id]));
    const [createsBefore, deletesBefore] = [creates().length, deletes().length];
    for (let round = 0; round < 2; round++) {
      for (let pr = 1; pr <= 16; pr++) {
        const again = await deploy(pr);
        expect(again).toEqual({ id: ids.get(`preview-${pr}`), created: false });
      }
    }
    expect(creates()).toHaveLength(createsBefore);
    expect(deletes()).toHaveLength(deletesBefore);
    for (let pr = 1; pr <= 16; pr++) expectOneWorkingEndpoint(pr);

    // A preview cleaned up makes room for the next.
    await webhooks.delete(previewEnvironment(1));
    expect((await deploy(17)).created).toBe(true);
    expectOneWorkingEndpoint(17);
    expect(stripe.endpoints).toHaveLength(16);
  });

  it("a re-deploy whose Worker lacks the secret makes a new endpoint before deleting the old one", async () => {
    const first = await deploy(3);
    const [web] = takers(3);
    delete cf.scripts.get(web?.name ?? "")?.secrets[SECRET];

    const before = stripe.requests.length;
    const second = await deploy(3);
    expect(second.created).toBe(true);
    expect(second.id).not.toBe(first.id);
    const calls = stripe.requests
      .slice(before)
      .filter((r) => r.method !== "GET")
      .map((r) => `${r.method} ${r.path}`);
    expect(calls).toEqual([
      "POST /v1/webhook_endpoints",
      `DELETE /v1/webhook_endpoints/${first.id}`,
    ]);
    expectOneWorkingEndpoint(3);
  });

  it("a preview left with two endpoints (a deploy stopped before retiring one) ends with one", async () => {
    await deploy(4);
    await webhooks.create(previewEnvironment(4), urlOf(4));
    expect(endpointsOf(4)).toHaveLength(2);
    const again = await deploy(4);
    expect(again.created).toBe(true);
    expectOneWorkingEndpoint(4);
  });

  it("at the limit, a preview whose Workers lack the secret replaces its own endpoint", async () => {
    await deploy(5);
    for (let i = 0; i < 15; i++) stripe.seed({ url: `https://other-${i}.example.test` });
    for (const worker of takers(5)) delete cf.scripts.get(worker.name)?.secrets[SECRET];
    const again = await deploy(5);
    expect(again.created).toBe(true);
    expectOneWorkingEndpoint(5);
    expect(stripe.endpoints).toHaveLength(16);
  });

  it("updates a reused endpoint's URL in place", async () => {
    const first = await deploy(6);
    stripe.endpoints[0]!.url = "https://old.example.test/webhook";
    expect(await deploy(6)).toEqual({ id: first.id, created: false });
    expectOneWorkingEndpoint(6);
  });

  it("holdsSecret asks Cloudflare: false for a Worker that does not exist or lacks it", async () => {
    const stack = stackOf(8);
    expect(await workers.holdsSecret(stack, SECRET)).toBe(false);
    deployWorkers(8, "whsec_x");
    expect(await workers.holdsSecret(stack, SECRET)).toBe(true);
    expect(
      cf.requests.some(
        (r) => r.method === "GET" && r.path.endsWith(`/secrets`) && r.status === 200,
      ),
    ).toBe(true);
  });
});
