/**
 * The cloud target's environment for a CLI run against the recording stubs (cloud.test.ts,
 * cloud-old-code.test.ts): every setting the cloud target reads, pointed at the stubs, and a
 * state folder of the test's choosing (an empty one is a fresh CI runner).
 */
import { join } from "node:path";
import type { CloudflareStub } from "../../src/testing/stubs/cloudflare";
import type { GitHubStub } from "../../src/testing/stubs/github";
import type { NeonStub } from "../../src/testing/stubs/neon";
import { NEON_DNS_PRELOAD } from "../../src/testing/stubs/neon-postgres";
import type { StripeStub } from "../../src/testing/stubs/stripe";

export interface CloudStubs {
  cf: CloudflareStub;
  neon: NeonStub;
  /** With GitHub: the repository the pipeline comments on. */
  github?: { stub: GitHubStub; repository: string };
  stripe?: StripeStub;
}

/** `values` (secrets, overrides; undefined removes a setting) laid over the stubs' settings. */
export function cloudEnv(
  stubs: CloudStubs,
  stateDir: string,
  values: Record<string, string | undefined> = {},
): Record<string, string> {
  const { cf, neon, github, stripe } = stubs;
  const env: Record<string, string | undefined> = {
    ...process.env,
    CODEX_STATE_DIR: stateDir,
    HOME: join(stateDir, "home"),
    NO_COLOR: "1",
    CLOUDFLARE_API_TOKEN: cf.apiToken,
    CLOUDFLARE_ACCOUNT_ID: cf.accountId,
    CLOUDFLARE_API_BASE_URL: cf.url,
    CLOUDFLARE_WORKERS_SUBDOMAIN: cf.subdomain,
    NEON_API_KEY: neon.apiKey,
    NEON_PROJECT_ID: neon.projectId,
    NEON_API_HOST: neon.url,
    ...(github
      ? {
          GITHUB_TOKEN: github.stub.token,
          GITHUB_REPOSITORY: github.repository,
          GITHUB_API_URL: github.stub.url,
        }
      : {}),
    ...(stripe ? { STRIPE_SECRET_KEY: stripe.apiKey, STRIPE_API_HOST: stripe.url } : {}),
    CODEX_SMOKE_CONNECT_TO: `127.0.0.1:${new URL(cf.url).port}`,
    CODEX_SMOKE_RETRY_MS: "0",
    // No commit unless a test gives one: GitHub deployments are reported only for a commit.
    GITHUB_SHA: undefined,
    // The stub's Neon hosts (ep-….aws.neon.tech) resolve to its Postgres on 127.0.0.1.
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${NEON_DNS_PRELOAD}`.trim(),
    ...values,
  };
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;
}
