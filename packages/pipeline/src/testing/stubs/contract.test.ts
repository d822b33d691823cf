/**
 * The stubs hold the vendors' contracts (contract.ts): a request the vendor's document refuses is
 * refused the vendor's way and recorded, a valid one passes, and an answer the document does not
 * allow is recorded too. Each test that provokes a violation takes it from the stub, so that
 * vitest-setup.ts, which fails any test that leaves one behind, sees none.
 */
import { createApiClient } from "@neondatabase/api-client";
import { createServer } from "node:http";
import Stripe from "stripe";
import { afterEach, describe, expect, it } from "vitest";
import { startCloudflareStub } from "./cloudflare";
import { stubContract, type ContractViolation } from "./contract";
import { startGitHubStub } from "./github";
import { listenOnLoopback } from "./listen";
import { startNeonStub } from "./neon";
import { startStripeStub } from "./stripe";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

function one(violations: ContractViolation[]): ContractViolation {
  const taken = violations.splice(0);
  expect(taken, JSON.stringify(taken, null, 2)).toHaveLength(1);
  return taken[0]!;
}

describe("Stripe stub", () => {
  async function setup() {
    const stub = await startStripeStub();
    closers.push(() => stub.close());
    const stripe = new Stripe(stub.apiKey, {
      host: stub.host,
      port: stub.port,
      protocol: "http",
      maxNetworkRetries: 0,
    });
    return { stub, stripe };
  }

  it("refuses an event Stripe does not know, as Stripe does, and creates nothing", async () => {
    const { stub, stripe } = await setup();
    const error = await stripe.webhookEndpoints
      .create({
        url: "https://example.com/hook",
        enabled_events: ["checkout.session.completed", "checkout.session.finished" as never],
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect((error as Stripe.errors.StripeError).statusCode).toBe(400);
    expect((error as Stripe.errors.StripeError).param).toBe("enabled_events[1]");
    expect(stub.endpoints).toEqual([]);
    const violation = one(stub.violations);
    expect(violation).toMatchObject({
      vendor: "stripe",
      side: "request",
      method: "POST",
      path: "/v1/webhook_endpoints",
      operation: "PostWebhookEndpoints",
    });
    expect(violation.errors.join("\n")).toMatch(/enabled_events\/1 must be equal to one of/);
  });

  it("refuses an unknown parameter with Stripe's message naming it", async () => {
    const { stub } = await setup();
    const res = await fetch(`${stub.url}/v1/webhook_endpoints`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${stub.apiKey}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "url=https%3A%2F%2Fexample.com%2Fhook&enabled_events[0]=invoice.paid&colour=blue",
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: {
        type: "invalid_request_error",
        code: "parameter_unknown",
        param: "colour",
        message: "Received unknown parameter: colour",
      },
    });
    expect(stub.endpoints).toEqual([]);
    expect(one(stub.violations).errors).toEqual([
      "body must NOT have additional properties (colour)",
    ]);
  });

  it("accepts what the pipeline sends, metadata and all", async () => {
    const { stub, stripe } = await setup();
    const created = await stripe.webhookEndpoints.create({
      url: "https://example.com/hook",
      enabled_events: ["checkout.session.completed", "invoice.paid"],
      description: "codex preview-7",
      metadata: { codex_environment: "preview-7" },
      // Newer than the 2023 document: the version the pinned library speaks is allowed.
      api_version: Stripe.API_VERSION as Stripe.WebhookEndpointCreateParams.ApiVersion,
    });
    await stripe.webhookEndpoints.list({ limit: 100 });
    await stripe.webhookEndpoints.del(created.id);
    expect(stub.violations).toEqual([]);
  });

  it("catches an answer that breaks Stripe's webhook_endpoint schema", async () => {
    const { stub, stripe } = await setup();
    const endpoint = stub.seed({ url: "https://example.com/hook" });
    (endpoint as { created: unknown }).created = "yesterday";
    await stripe.webhookEndpoints.retrieve(endpoint.id);
    const violation = one(stub.violations);
    expect(violation).toMatchObject({ side: "response", status: 200 });
    expect(violation.errors).toEqual(["response 200/created must be integer"]);
  });
});

describe("Neon stub", () => {
  async function setup() {
    const stub = await startNeonStub({ operationPolls: 0 });
    closers.push(() => stub.close());
    const api = createApiClient({ apiKey: stub.apiKey, baseURL: stub.url });
    return { stub, api };
  }

  it("refuses createProjectBranch with a field of the wrong type, and makes no branch", async () => {
    const { stub } = await setup();
    const res = await fetch(`${stub.url}/projects/${stub.projectId}/branches`, {
      method: "POST",
      headers: { authorization: `Bearer ${stub.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ branch: { name: "preview-7", parent_id: 42 } }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.message).toMatch(/body\/branch\/parent_id must be string/);
    expect(stub.branch("preview-7")).toBeUndefined();
    expect(one(stub.violations)).toMatchObject({
      vendor: "neon",
      side: "request",
      operation: "createProjectBranch",
    });
  });

  it("accepts the client library's own calls", async () => {
    const { stub, api } = await setup();
    const created = await api.createProjectBranch(stub.projectId, {
      branch: { name: "preview-7" },
      endpoints: [{ type: "read_write" as never }],
    });
    await api.listProjectBranches({ projectId: stub.projectId, search: "preview" });
    await api.deleteProjectBranch({ projectId: stub.projectId, branchId: created.data.branch.id });
    expect(stub.violations).toEqual([]);
  });

  it("catches an answer that breaks Neon's Branch schema", async () => {
    const { stub, api } = await setup();
    (stub.main() as { name: unknown }).name = 7;
    await api.getProjectBranch(stub.projectId, stub.main().id);
    const violation = one(stub.violations);
    expect(violation).toMatchObject({ side: "response", operation: "getProjectBranch" });
    expect(violation.errors).toContain("response 200/branch/name must be string");
  });
});

describe("GitHub stub", () => {
  async function setup() {
    const stub = await startGitHubStub();
    closers.push(() => stub.close());
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${stub.url}${path}`, {
        method,
        headers: { authorization: `token ${stub.token}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    return { stub, call };
  }

  it("refuses a comment without a body with GitHub's 422, and posts nothing", async () => {
    const { stub, call } = await setup();
    const res = await call("POST", "/repos/acme/app/issues/7/comments", { text: "hello" });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ message: expect.stringMatching(/^Invalid request/) });
    expect(stub.comments("acme/app", 7)).toEqual([]);
    expect(one(stub.violations)).toMatchObject({
      vendor: "github",
      side: "request",
      operation: "issues/create-comment",
      errors: ["body must have required property 'body'"],
    });
  });

  it("checks the /repositories/{id}/... form of its Link headers as /repos/{owner}/{repo}/...", async () => {
    const { stub, call } = await setup();
    stub.seedComments("acme/app", 7, ["a", "b", "c"]);
    const first = await call("GET", "/repos/acme/app/issues/7/comments?per_page=1");
    const next = /<([^>]+)>; rel="next"/.exec(first.headers.get("link") ?? "")?.[1];
    expect(next).toMatch(/\/repositories\/\d+\/issues\/7\/comments/);
    const path = new URL(next!).pathname;
    expect((await call("GET", `${path}?per_page=1&page=2`)).status).toBe(200);
    expect(stub.violations).toEqual([]);
    await call("GET", `${path}?per_page=many`);
    expect(one(stub.violations)).toMatchObject({
      operation: "issues/list-comments",
      errors: ["query parameter per_page/value must be integer"],
    });
  });

  it("catches an answer that breaks GitHub's issue-comment schema", async () => {
    // The hook as every stub uses it, on a server that answers a comment without its user.
    const contract = stubContract("github");
    const server = createServer((req, res) => {
      const contentType = req.headers["content-type"];
      contract.check(
        // The request is checked as sent (a valid edit); only the answer is wrong.
        {
          method: req.method ?? "GET",
          path: req.url ?? "/",
          query: {},
          contentType,
          body: `{"body":"hi"}`,
        },
        res,
      );
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: 1, body: "hi" }));
    });
    const listening = await listenOnLoopback(server);
    closers.push(listening.close);
    await fetch(`http://127.0.0.1:${listening.port}/repos/acme/app/issues/comments/1`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ body: "hi" }),
    });
    const violation = one(contract.violations);
    expect(violation).toMatchObject({ side: "response", operation: "issues/update-comment" });
    expect(violation.errors).toContain("response 200 must have required property 'user'");
  });
});

describe("Cloudflare stub", () => {
  async function setup() {
    const stub = await startCloudflareStub();
    closers.push(() => stub.close());
    const account = `${stub.url}/accounts/${stub.accountId}`;
    const auth = { authorization: `Bearer ${stub.apiToken}` };
    return { stub, account, auth };
  }

  const settings = (bindings: unknown[]) => {
    const form = new FormData();
    form.set("settings", JSON.stringify({ bindings }));
    return form;
  };

  it("refuses a settings PATCH with a malformed binding, and changes no secret", async () => {
    const { stub, account, auth } = await setup();
    stub.seed("auth-worker");
    const res = await fetch(`${account}/workers/scripts/auth-worker/settings`, {
      method: "PATCH",
      headers: auth,
      body: settings([{ type: "secret", name: "SESSION_SECRET", text: "s3cret" }]),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { success: boolean; errors: { code: number }[] };
    expect(body).toMatchObject({ success: false, errors: [{ code: 10021 }] });
    expect(stub.scripts.get("auth-worker")?.secrets).toEqual({});
    const violation = one(stub.violations);
    expect(violation).toMatchObject({ side: "request", operation: "worker-script-patch-settings" });
    expect(violation.errors[0]).toMatch(
      /body\/settings\/bindings\/0\/type must be equal to one of/,
    );
  });

  it("accepts the bindings wrangler 4.86 sends, which the 2024 document does not list", async () => {
    const { stub, account, auth } = await setup();
    stub.seed("auth-worker");
    const res = await fetch(`${account}/workers/scripts/auth-worker/settings`, {
      method: "PATCH",
      headers: auth,
      body: settings([
        { type: "plain_text", name: "ENVIRONMENT" },
        { type: "secret_text", name: "SESSION_SECRET", text: "s3cret" },
      ]),
    });
    expect(res.status).toBe(200);
    expect(stub.scripts.get("auth-worker")?.secrets).toEqual({ SESSION_SECRET: "s3cret" });
    expect(stub.violations).toEqual([]);
  });

  it("checks an upload's metadata part against wrangler 4.86's WorkerMetadata, and creates nothing", async () => {
    const { stub, account, auth } = await setup();
    const upload = (bindings: unknown[]) => {
      const form = new FormData();
      const metadata = { main_module: "index.js", compatibility_date: "2026-04-01", bindings };
      form.set("metadata", JSON.stringify(metadata));
      form.set(
        "index.js",
        new Blob(["export default {}"], { type: "application/javascript+module" }),
        "index.js",
      );
      return fetch(`${account}/workers/scripts/web`, { method: "PUT", headers: auth, body: form });
    };
    const refused = await upload([{ type: "plain_text", name: "ENVIRONMENT" }]);
    expect(refused.status).toBe(400);
    expect(stub.scripts.has("web")).toBe(false);
    expect(one(stub.violations).errors).toContain(
      "body/metadata/bindings/0 must have required property 'text'",
    );
    const accepted = await upload([{ type: "plain_text", name: "ENVIRONMENT", text: "preview" }]);
    expect(accepted.status).toBe(200);
    expect(stub.violations).toEqual([]);
  });

  it("refuses a deployment whose percentage is not a number (the 2024 document's own schema)", async () => {
    const { stub, account, auth } = await setup();
    const script = stub.seed("web");
    const res = await fetch(`${account}/workers/scripts/web/deployments`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        strategy: "percentage",
        versions: [{ version_id: script.versions[0]!.id, percentage: "100" }],
      }),
    });
    expect(res.status).toBe(400);
    expect(script.deployments).toHaveLength(1);
    expect(one(stub.violations).errors.join("\n")).toMatch(/percentage must be number/);
  });

  it("catches an answer the document lacks, and one that breaks wrangler's subdomain type", async () => {
    const { stub, account, auth } = await setup();
    // The stub answers any method on the account subdomain; Cloudflare documents GET only.
    await fetch(`${account}/workers/subdomain`, { method: "POST", headers: auth });
    expect(one(stub.violations).errors[0]).toMatch(/operation cloudflare's document lacks/);
    const script = stub.seed("web");
    (script.subdomain as { enabled: unknown }).enabled = "yes";
    await fetch(`${account}/workers/scripts/web/subdomain`, { headers: auth });
    const violation = one(stub.violations);
    expect(violation).toMatchObject({
      side: "response",
      operation: "wrangler-script-subdomain-get",
    });
    expect(violation.errors).toContain("response 200/result/enabled must be boolean");
  });
});
