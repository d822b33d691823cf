import { afterEach, describe, expect, it } from "vitest";
import { startStripeStub, type StripeStub } from "../../testing/stubs/stripe";
import { PRODUCTION, STAGING, previewEnvironment } from "../../core/environments";
import { PipelineError } from "../../errors";
import { assertTestKey } from "./shared";
import {
  STRIPE_API_VERSION,
  STRIPE_PREVIEW_EVENTS,
  StripePreviewWebhooks,
  stripeFromEnv,
} from "./stripe";

// Built by concatenation so that no scanner mistakes the fixture for a real credential.
const LIVE_KEY = "sk_" + "live_abcdefghijklmnop0123456789";

const stubs: StripeStub[] = [];

afterEach(async () => {
  await Promise.all(stubs.splice(0).map((stub) => stub.close()));
});

async function setup(secretKey?: string) {
  const stub = await startStripeStub();
  stubs.push(stub);
  const webhooks = new StripePreviewWebhooks({
    secretKey: secretKey ?? stub.apiKey,
    host: stub.host,
    port: stub.port,
    protocol: "http",
  });
  return { stub, webhooks };
}

const creates = (stub: StripeStub) =>
  stub.requests.filter((r) => r.method === "POST" && r.path === "/v1/webhook_endpoints");

function caught(run: () => unknown): PipelineError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PipelineError);
    return error as PipelineError;
  }
  throw new Error("expected an error");
}

async function rejected(promise: Promise<unknown>): Promise<PipelineError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PipelineError);
  return error as PipelineError;
}

describe("StripePreviewWebhooks (recording stub)", () => {
  it("creates an endpoint with its secret, pinned to the library's API version; reads never show the secret", async () => {
    const { stub, webhooks } = await setup();
    const env = previewEnvironment(7);
    const made = await webhooks.create(env, "https://pr-7.example.test/stripe");
    expect(made.id).toMatch(/^we_/);
    expect(made.secret).toMatch(/^whsec_/);

    const [create] = creates(stub);
    expect(create?.body).toMatchObject({
      url: "https://pr-7.example.test/stripe",
      "metadata[codex_environment]": "preview-7",
      "enabled_events[]": [...STRIPE_PREVIEW_EVENTS],
      description: "codex preview-7",
      api_version: STRIPE_API_VERSION,
    });
    expect(STRIPE_API_VERSION).toMatch(/^\d{4}-\d{2}-\d{2}/);
    // The constant (kept so that the library loads only when called) is the library's own.
    expect(STRIPE_API_VERSION).toBe((await import("stripe")).default.API_VERSION);
    expect(stub.endpoints[0]?.api_version).toBe(STRIPE_API_VERSION);

    expect(await webhooks.list()).toEqual([
      { id: made.id, url: "https://pr-7.example.test/stripe", environment: "preview-7" },
    ]);
    // Stripe returns `secret` on create only: neither a list nor a retrieve carries it.
    const reads = await fetch(`${stub.url}/v1/webhook_endpoints/${made.id}`, {
      headers: { authorization: `Bearer ${stub.apiKey}` },
    }).then((r) => r.json());
    expect(reads).not.toHaveProperty("secret");
    expect(JSON.stringify(stub.requests)).not.toContain(made.secret);
  });

  it("updates the url in place, with no new endpoint and no secret", async () => {
    const { stub, webhooks } = await setup();
    const env = previewEnvironment(7);
    const first = await webhooks.create(env, "https://old.example.test/stripe");
    await webhooks.update(env, first.id, "https://new.example.test/stripe");
    expect(creates(stub)).toHaveLength(1);
    const update = stub.requests.find((r) => r.path === `/v1/webhook_endpoints/${first.id}`);
    expect(update).toMatchObject({
      method: "POST",
      body: { url: "https://new.example.test/stripe" },
    });
    expect(stub.endpoints.map((e) => e.url)).toEqual(["https://new.example.test/stripe"]);
  });

  it("lists endpoints across pages (an account whose limit Stripe raised)", async () => {
    const stub = await startStripeStub({ endpointLimit: 200 });
    stubs.push(stub);
    const webhooks = new StripePreviewWebhooks({
      secretKey: stub.apiKey,
      host: stub.host,
      port: stub.port,
      protocol: "http",
    });
    const mine = await webhooks.create(previewEnvironment(7), "https://pr-7.example.test/stripe");
    for (let i = 0; i < 150; i++) {
      stub.seed({ url: `https://other-${i}.example.test`, metadata: { codex_environment: "x" } });
    }
    const all = await webhooks.list();
    expect(all).toHaveLength(151);
    expect(all.filter((e) => e.environment === "preview-7").map((e) => e.id)).toEqual([mine.id]);
    const lists = stub.requests.filter((r) => r.method === "GET");
    expect(lists.at(-1)?.query).toMatchObject({ limit: "100", starting_after: expect.any(String) });
  });

  it("meets Stripe's limit of 16 endpoints with Stripe's error", async () => {
    const { stub, webhooks } = await setup();
    for (let i = 0; i < 16; i++) stub.seed({ url: `https://other-${i}.example.test` });
    const error = await rejected(
      webhooks.create(previewEnvironment(7), "https://pr-7.example.test"),
    );
    expect(error.message).toMatch(/maximum of 16 webhook endpoints/);
    expect(stub.endpoints).toHaveLength(16);
  });

  it("deletes exactly the preview's endpoints (all but one kept), and a second delete is a no-op", async () => {
    const { stub, webhooks } = await setup();
    const other = stub.seed({
      url: "https://pr-8.example.test/stripe",
      metadata: { codex_environment: "preview-8" },
    });
    const old = await webhooks.create(previewEnvironment(7), "https://pr-7.example.test/stripe");
    const mine = await webhooks.create(previewEnvironment(7), "https://pr-7.example.test/stripe");
    expect(stub.endpoints).toHaveLength(3);

    expect(await webhooks.delete(previewEnvironment(7), { keep: mine.id })).toBe(true);
    expect(stub.endpoints.map((e) => e.id).sort()).toEqual([other.id, mine.id].sort());

    expect(await webhooks.delete(previewEnvironment(7))).toBe(true);
    expect(stub.requests.filter((r) => r.method === "DELETE").map((r) => r.path)).toEqual([
      `/v1/webhook_endpoints/${old.id}`,
      `/v1/webhook_endpoints/${mine.id}`,
    ]);
    expect(stub.endpoints.map((e) => e.id)).toEqual([other.id]);

    expect(await webhooks.delete(previewEnvironment(7))).toBe(false);
    expect(stub.requests.filter((r) => r.method === "DELETE")).toHaveLength(2);
    expect(stub.endpoints.map((e) => e.id)).toEqual([other.id]);
  });

  it("refuses a live key for a preview before any request, without showing it", async () => {
    const { stub, webhooks } = await setup(LIVE_KEY);
    const error = await rejected(
      webhooks.create(previewEnvironment(3), "https://pr-3.example.test"),
    );
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.kind).toBe("user");
    expect(error.message).toContain("preview-3");
    expect(`${error.message} ${error.hint ?? ""}`).not.toContain(LIVE_KEY);
    expect((await rejected(webhooks.delete(previewEnvironment(3)))).code).toBe("INVALID_ARGUMENT");
    expect(stub.requests).toHaveLength(0);
  });

  it("only serves previews", async () => {
    const { stub, webhooks } = await setup();
    for (const env of [PRODUCTION, STAGING]) {
      expect((await rejected(webhooks.create(env, "https://x.example.test"))).code).toBe(
        "INVALID_ENVIRONMENT",
      );
      expect((await rejected(webhooks.delete(env))).code).toBe("INVALID_ENVIRONMENT");
    }
    expect(stub.requests).toHaveLength(0);
  });

  it("never sends the secret key in a body, and records it redacted", async () => {
    const { stub, webhooks } = await setup();
    const made = await webhooks.create(previewEnvironment(7), "https://a.example.test");
    await webhooks.update(previewEnvironment(7), made.id, "https://b.example.test");
    await webhooks.delete(previewEnvironment(7));
    expect(stub.requests.length).toBeGreaterThan(0);
    const recorded = JSON.stringify(stub.requests);
    expect(recorded).not.toContain(stub.apiKey);
    expect(stub.requests.every((r) => r.headers.authorization === "Bearer [REDACTED]")).toBe(true);
  });

  it("turns a rejected key into a user error that does not carry the key", async () => {
    const wrong = "sk_" + "test_wrongkey0123456789abcdef";
    const { webhooks } = await setup(wrong);
    const error = await rejected(webhooks.create(previewEnvironment(7), "https://a.example.test"));
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).not.toContain(wrong);
  });
});

describe("assertTestKey", () => {
  it("allows a live key in production only", () => {
    expect(() => assertTestKey(LIVE_KEY, PRODUCTION)).not.toThrow();
    const restricted = "rk_" + "live_abcdefghijklmnop0123456789";
    for (const env of [STAGING, previewEnvironment(3)]) {
      for (const key of [LIVE_KEY, restricted]) {
        const error = caught(() => assertTestKey(key, env));
        expect(error.code).toBe("INVALID_ARGUMENT");
        expect(error.message).toContain(env.name);
        expect(error.message).not.toContain(key);
      }
    }
    expect(() => assertTestKey("sk_" + "test_abc", previewEnvironment(3))).not.toThrow();
  });
});

describe("stripeFromEnv", () => {
  it("is undefined without STRIPE_SECRET_KEY", () => {
    expect(stripeFromEnv({})).toBeUndefined();
    expect(stripeFromEnv({ STRIPE_SECRET_KEY: " " })).toBeUndefined();
  });

  it("talks to STRIPE_API_HOST", async () => {
    const stub = await startStripeStub();
    stubs.push(stub);
    const webhooks = stripeFromEnv({ STRIPE_SECRET_KEY: stub.apiKey, STRIPE_API_HOST: stub.url });
    expect(webhooks).toBeInstanceOf(StripePreviewWebhooks);
    const made = await webhooks?.create(previewEnvironment(1), "https://pr-1.example.test");
    expect(made?.secret).toMatch(/^whsec_/);
    expect(stub.requests.length).toBeGreaterThan(0);
  });

  it("rejects a malformed STRIPE_API_HOST", () => {
    const error = caught(() =>
      stripeFromEnv({ STRIPE_SECRET_KEY: "sk_" + "test_x", STRIPE_API_HOST: "ftp://x" }),
    );
    expect(error.code).toBe("CONFIG_INVALID");
  });
});
