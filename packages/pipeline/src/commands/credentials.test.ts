/**
 * Preview and production credentials (docs/cloud.md): each command on the cloud target takes
 * the credentials of the kind of environment it acts on (NAME_PREVIEW, NAME_PRODUCTION, else
 * NAME), refuses a token or key that belongs to the other kind, and refuses a preview whose Neon
 * key reaches production's project. Against the Neon stub, which holds one project and answers
 * 404 for any other, as a project-scoped key is answered.
 */
import { afterEach, describe, expect, it } from "vitest";
import { deriveStack, loadStack } from "../core/derive";
import { PRODUCTION, previewEnvironment } from "../core/environments";
import { cloudCredentialsFor } from "../core/secrets";
import { PipelineError } from "../errors";
import { REPO_ROOT } from "../state";
import { neonProject, startNeonStub, type NeonStub } from "../testing/stubs/neon";
import { cloudContext } from "./context";

const io = { out: () => {}, err: () => {} };
const stubs: NeonStub[] = [];
afterEach(async () => {
  await Promise.all(stubs.splice(0).map((stub) => stub.close()));
});

const BASE = {
  CLOUDFLARE_API_TOKEN: "cf-production-token-0123456789",
  CLOUDFLARE_ACCOUNT_ID: "0123456789abcdef0123456789abcdef",
  CLOUDFLARE_WORKERS_SUBDOMAIN: "acme",
  SESSION_SECRET: "s".repeat(40),
  STRIPE_WEBHOOK_SECRET: "whsec_" + "w".repeat(30),
  CODEX_STATE_DIR: "/nonexistent/codex-state",
};

function refusal(run: () => unknown): PipelineError {
  let error: unknown;
  try {
    run();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(PipelineError);
  return error as PipelineError;
}

describe("cloudCredentialsFor", () => {
  it("takes NAME_<KIND> before NAME, for the credentials", () => {
    const env = {
      CLOUDFLARE_API_TOKEN: "prod-token",
      CLOUDFLARE_API_TOKEN_PREVIEW: "preview-token",
      NEON_API_KEY: "prod-key",
      NEON_PROJECT_ID_PREVIEW: "preview-project",
      NEON_PROJECT_ID: "prod-project",
    };
    expect(cloudCredentialsFor(env, "preview").env).toMatchObject({
      CLOUDFLARE_API_TOKEN: "preview-token",
      NEON_API_KEY: "prod-key",
      NEON_PROJECT_ID: "preview-project",
    });
    expect(cloudCredentialsFor(env, "production").env).toMatchObject({
      CLOUDFLARE_API_TOKEN: "prod-token",
      NEON_PROJECT_ID: "prod-project",
    });
  });

  it("refuses production with a preview token or key, and a preview with production's", () => {
    const production = cloudCredentialsFor(
      { CLOUDFLARE_API_TOKEN: "t-1", CLOUDFLARE_API_TOKEN_PREVIEW: "t-1" },
      "production",
    );
    expect(production.refused?.message).toBe(
      "refusing to run production with preview credentials: CLOUDFLARE_API_TOKEN holds the same value as CLOUDFLARE_API_TOKEN_PREVIEW",
    );
    expect(JSON.stringify(production.refused)).not.toContain("t-1");
    const preview = cloudCredentialsFor(
      { NEON_API_KEY_PREVIEW: "k-1", NEON_API_KEY_PRODUCTION: "k-1" },
      "preview",
    );
    expect(preview.refused?.message).toBe(
      "refusing to run preview with production credentials: NEON_API_KEY_PREVIEW holds the same value as NEON_API_KEY_PRODUCTION",
    );
    // One shared token, with no other kind's named: allowed (the default set-up).
    expect(cloudCredentialsFor({ CLOUDFLARE_API_TOKEN: "t" }, "preview").refused).toBeUndefined();
  });
});

describe("the cloud context's credentials", () => {
  it("a preview talks to Neon with the preview key and project; production with its own", async () => {
    const preview = await startNeonStub({ apiKey: "napi_preview_key_0123456789" });
    stubs.push(preview);
    const env = {
      ...BASE,
      NEON_API_HOST: preview.url,
      NEON_API_KEY: "napi_production_key_0123456789",
      NEON_PROJECT_ID: "production-project-1",
      NEON_API_KEY_PREVIEW: preview.apiKey,
      NEON_PROJECT_ID_PREVIEW: preview.projectId,
    };
    const ctx = cloudContext(io, env, "preview");
    expect(await (await ctx.database()).list()).toEqual([]);
    expect(preview.requests.map((r) => r.headers.authorization)).toEqual([
      `Bearer ${preview.apiKey}`,
    ]);
    const production = cloudContext(io, env, "production");
    // Production's key and project, which the preview stub does not know.
    await expect((await production.database()).list()).rejects.toThrow(/NEON_API_KEY was refused/);
  });

  it("refuses production-deploy with the preview token before anything is asked", () => {
    const error = refusal(() =>
      cloudContext(
        io,
        { ...BASE, CLOUDFLARE_API_TOKEN_PREVIEW: BASE.CLOUDFLARE_API_TOKEN, NEON_API_KEY: "k" },
        PRODUCTION.kind,
      ),
    );
    expect(error).toMatchObject({ code: "INVALID_ARGUMENT", kind: "user" });
    expect(error.message).toMatch(/production with preview credentials/);
    expect(error.hint).toMatch(/CLOUDFLARE_API_TOKEN_PREVIEW/);
  });

  it("refuses a preview whose Neon key reaches production's project, and accepts a project-scoped one", async () => {
    const neon = await startNeonStub({ apiKey: "napi_preview_key_0123456789" });
    stubs.push(neon);
    const env = {
      ...BASE,
      NEON_API_HOST: neon.url,
      NEON_API_KEY_PREVIEW: neon.apiKey,
      NEON_PROJECT_ID_PREVIEW: neon.projectId,
      NEON_PROJECT_ID: "production-project-1",
    };
    const stack = deriveStack(loadStack(REPO_ROOT), previewEnvironment(3));
    // A project-scoped key: Neon does not show it production's project.
    await cloudContext(io, env, "preview").preflight(stack);
    const asked = neon.requests.filter((r) => r.path === "/projects/production-project-1");
    expect(asked).toHaveLength(1);

    // A key that reaches every project of the organization.
    neon.failWhen({ method: "GET", path: /^\/projects\/production-project-1$/ }, 200, 1, {
      project: neonProject("production-project-1", "production", new Date().toISOString()),
    });
    const error = await cloudContext(io, env, "preview")
      .preflight(stack)
      .then(
        () => undefined,
        (e: unknown) => e as PipelineError,
      );
    expect(error).toBeInstanceOf(PipelineError);
    expect(error?.message).toBe(
      `refusing to deploy a preview with a Neon key that reaches production's project "production-project-1"`,
    );
    expect(error?.hint).toMatch(/project-scoped key/);
    // Nothing was created.
    expect(neon.requests.filter((r) => r.method !== "GET")).toEqual([]);
  });
});
