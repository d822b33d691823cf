/**
 * The cloud target end to end, through the real CLI: `--target cloud` drives the real wrangler,
 * the Neon API client, Octokit and the stripe library against recording stubs of Cloudflare,
 * Neon, GitHub and Stripe. Behind the Neon stub is a real Postgres: each Neon branch is a
 * database copied from main's, so migrations really run and a branch really holds main's data.
 * The smoke checks reach the "workers.dev" URLs through the Cloudflare stub, which answers
 * /health from what was uploaded (ENVIRONMENT, and whether each service binding's Worker
 * exists), so they pass only when the uploaded stack is complete and wired.
 *
 * The tests run in order and share the stubs, as a pull request's life does: deploy, re-deploy,
 * faults, production, rollback from a fresh runner, cleanup, sweep. The last one scans
 * everything every command printed, wrote or sent for the known secret values.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCloudflareStub, type CloudflareStub } from "../../src/testing/stubs/cloudflare";
import { PERSON, startGitHubStub, type GitHubStub } from "../../src/testing/stubs/github";
import { GitHubReviewChannel } from "../../src/providers/review/github";
import { redact, type NeonStub } from "../../src/testing/stubs/neon";
import { startNeonOnPostgres, type NeonOnPostgres } from "../../src/testing/stubs/neon-postgres";
import Stripe from "stripe";
import { startStripeStub, type StripeStub } from "../../src/testing/stubs/stripe";
import { descendants, waitUntilGone, type ProcessRecord } from "../../src/local/processes";
import { Sandbox, type CliResult } from "./cli";
import { cloudEnv } from "./cloud-env";

// Built at run time, so that no scanner mistakes the fixtures for real credentials.
const secret = (prefix: string) => prefix + randomBytes(16).toString("hex");
const SESSION_SECRET = secret("session-");
const SESSION_SECRET_PRODUCTION = secret("session-prod-");
const STRIPE_WEBHOOK_SECRET_PRODUCTION = secret("whsec_prod");
const REPOSITORY = "acme/platform";

const WORKERS = (env: string) => [
  `auth-worker-${env}`,
  `stripe-webhook-handler-${env}`,
  `codex-web-${env}`,
];

let db: NeonOnPostgres;
let sandbox: Sandbox;
let cf: CloudflareStub;
let neon: NeonStub;
let github: GitHubStub;
let stripe: StripeStub;
/** Every CLI result, for the secret scan. */
const results: CliResult[] = [];
/** Every state folder used, for the secret scan. */
const stateDirs: string[] = [];
/** Every signing secret Stripe handed out (deleted endpoints vanish from the stub). */
const signingSecrets = new Set<string>();

/** The cloud target's environment, pointed at the stubs, with this file's secrets. */
function envFor(stateDir: string, overrides: Record<string, string | undefined> = {}) {
  return cloudEnv(
    { cf, neon, github: { stub: github, repository: REPOSITORY }, stripe },
    stateDir,
    {
      SESSION_SECRET,
      SESSION_SECRET_PRODUCTION,
      STRIPE_WEBHOOK_SECRET_PRODUCTION,
      ...overrides,
    },
  );
}

/** Runs the CLI with the cloud target's environment (and `--target cloud` added). */
async function cloud(
  args: string[],
  options: { stateDir?: string; env?: Record<string, string | undefined> } = {},
): Promise<CliResult> {
  const stateDir = options.stateDir ?? sandbox.stateDir;
  if (!stateDirs.includes(stateDir)) stateDirs.push(stateDir);
  await mkdir(join(stateDir, "home"), { recursive: true });
  const result = await sandbox.runWith(envFor(stateDir, options.env), [
    ...args,
    "--target",
    "cloud",
  ]);
  results.push(result);
  for (const endpoint of stripe.endpoints) signingSecrets.add(endpoint.secret);
  return result;
}

function explain(result: CliResult): string {
  return `exit ${result.code}\n${result.stdout}\n${result.stderr}`;
}

function bindings(name: string) {
  return (cf.scripts.get(name)?.metadata.bindings ?? []) as {
    type: string;
    name: string;
    text?: string;
    service?: string;
  }[];
}

const puts = (name: string) =>
  cf.requests.filter((r) => r.method === "PUT" && r.path.endsWith(`/workers/scripts/${name}`));

beforeAll(async () => {
  [cf, github, stripe, db] = await Promise.all([
    startCloudflareStub({ apiToken: secret("cf-token-") }),
    startGitHubStub({ token: secret("ghs_") }),
    startStripeStub({ apiKey: secret("sk_test_") }),
    startNeonOnPostgres({ apiKey: secret("napi_"), operationPolls: 0 }),
  ]);
  neon = db.neon;
  sandbox = await Sandbox.create();
}, 120_000);

afterAll(async () => {
  await Promise.all([cf?.close(), db?.stop(), github?.close(), stripe?.close()]);
  await sandbox?.dispose();
  for (const state of stateDirs) await rm(state, { recursive: true, force: true });
});

describe("the cloud target, through the CLI, against recording stubs", () => {
  it("refuses a missing setting or a live Stripe key before anything is created", async () => {
    const before = { cf: cf.requests.length, neon: neon.requests.length };
    const missing = await cloud(["preview-deploy", "--pr", "7", "--skip-tests"], {
      env: { CLOUDFLARE_WORKERS_SUBDOMAIN: undefined },
    });
    expect(missing.code, explain(missing)).toBe(2);
    expect(missing.stderr).toMatch(/CLOUDFLARE_WORKERS_SUBDOMAIN is not set/);

    const live = await cloud(["preview-deploy", "--pr", "7", "--skip-tests"], {
      env: { STRIPE_SECRET_KEY: "sk_" + "live_" + "x".repeat(24) },
    });
    expect(live.code, explain(live)).toBe(2);
    expect(live.stderr).toMatch(/refusing to use a live-mode Stripe key for the "preview-7"/);
    expect(live.stderr + live.stdout).not.toContain("x".repeat(24));

    const badTimeout = await cloud(["preview-deploy", "--pr", "7", "--skip-tests"], {
      env: { CODEX_WRANGLER_TIMEOUT_MS: "10s" },
    });
    expect(badTimeout.code, explain(badTimeout)).toBe(2);
    expect(badTimeout.stderr).toMatch(/CODEX_WRANGLER_TIMEOUT_MS must be a whole number/);

    const noSession = await cloud(["preview-deploy", "--pr", "7", "--skip-tests"], {
      env: { SESSION_SECRET: undefined },
    });
    expect(noSession.code, explain(noSession)).toBe(2);
    expect(noSession.stderr).toMatch(
      /SESSION_SECRET is not set: auth-worker-preview-7 needs it, and nothing was created/,
    );
    expect(noSession.stderr).toMatch(/hint: Set SESSION_SECRET_PREVIEW \(or SESSION_SECRET\)/);

    // Stripe's account is full (16 endpoints, https://docs.stripe.com/webhooks): refused in the
    // preflight, before the branch, the migrations and the tests.
    for (let i = 0; i < 16; i++) stripe.seed({ url: `https://elsewhere-${i}.example.test/hook` });
    try {
      const full = await cloud(["preview-deploy", "--pr", "7", "--skip-tests"]);
      expect(full.code, explain(full)).toBe(2);
      expect(full.stderr).toMatch(
        /Stripe allows 16 webhook endpoints per account and this one has 16: there is no room for preview-7's endpoint, and nothing was created/,
      );
      expect(stripe.requests.filter((r) => r.method !== "GET")).toHaveLength(0);
    } finally {
      stripe.endpoints.splice(0);
    }

    expect(cf.requests.length).toBe(before.cf);
    expect(neon.requests.length).toBe(before.neon);
    expect(stripe.endpoints).toHaveLength(0);
  });

  it("deploys preview-7: a migrated Neon branch, three wired Workers, its own Stripe endpoint, one PR comment", async () => {
    const pooled = db.poolerConnections();
    const result = await cloud(["preview-deploy", "--pr", "7", "--skip-tests"]);
    expect(result.code, explain(result)).toBe(0);
    const web = `https://codex-web-preview-7.${cf.subdomain}.workers.dev`;
    expect(result.stdout).toContain(`web      ${web}`);

    // Neon: pr-7 from the default branch, with an expiry, holding main's data, migrated.
    const branch = neon.branch("pr-7");
    expect(branch?.parent_id).toBe(neon.main().id);
    expect(branch?.expires_at).toBeTruthy();
    const users = await db.query<{ email: string }>("pr-7", "select email from users order by 1");
    expect(users.map((u) => u.email)).toContain("ada@example.com");

    // Cloudflare: auth, then webhook, then web; web bound to its own siblings only.
    const order = cf.requests
      .filter((r) => r.method === "PUT" && /\/workers\/scripts\/[^/]+$/.test(r.path))
      .map((r) => r.path.split("/").at(-1));
    expect(order).toEqual(WORKERS("preview-7"));
    const services = bindings("codex-web-preview-7").filter((b) => b.type === "service");
    expect(services.map((b) => b.service).sort()).toEqual([
      "auth-worker-preview-7",
      "stripe-webhook-handler-preview-7",
    ]);
    for (const name of WORKERS("preview-7")) {
      expect(bindings(name).find((b) => b.name === "ENVIRONMENT")?.text).toBe("preview-7");
      expect(JSON.stringify(bindings(name))).not.toMatch(/-production\b/);
    }
    // Each Worker's DATABASE_URL is pr-7's branch, never main's, through Neon's pooler, as
    // Neon's API hands it out. The migrations went directly to the compute: none through it.
    for (const name of WORKERS("preview-7")) {
      expect(cf.scripts.get(name)?.secrets.DATABASE_URL).toBe(db.uri("pr-7", true));
    }
    expect(db.uri("pr-7", true)).toMatch(
      /^postgresql:\/\/neondb_owner:[^@]+@ep-[a-z0-9-]+-pooler\.us-east-2\.aws\.neon\.tech:\d+\/\w+\?sslmode=require&channel_binding=require$/,
    );
    expect(db.poolerConnections()).toBe(pooled);

    // Stripe: one endpoint for the preview's webhook URL; its signing secret is the Workers'.
    expect(stripe.endpoints).toHaveLength(1);
    const [endpoint] = stripe.endpoints;
    expect(endpoint?.url).toBe(
      `https://stripe-webhook-handler-preview-7.${cf.subdomain}.workers.dev/webhook`,
    );
    expect(endpoint?.metadata.codex_environment).toBe("preview-7");
    // Pinned to the API version of the stripe library the pipeline pins.
    expect(endpoint?.api_version).toBe(Stripe.API_VERSION);
    for (const name of ["stripe-webhook-handler-preview-7", "codex-web-preview-7"]) {
      expect(cf.scripts.get(name)?.secrets.STRIPE_WEBHOOK_SECRET).toBe(endpoint?.secret);
    }

    // GitHub: one sticky comment with the URL and the branch.
    const comments = github.comments(REPOSITORY, 7);
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body).toContain("<!-- codex-preview:preview-7 -->");
    expect(comments[0]?.body).toContain(web);
    expect(comments[0]?.body).toContain("pr-7");

    // The summary the Dagger module reads.
    const summary = JSON.parse(
      await readFile(join(sandbox.stateDir, "envs", "preview-7", "summary.json"), "utf8"),
    ) as { status: string; target: string; urls: { web: string }; database: { branch: string } };
    expect(summary).toMatchObject({
      status: "deployed",
      target: "cloud",
      urls: { web },
      database: { branch: "pr-7" },
    });
  });

  it("re-runs in place: the same branch, new Worker versions, the comment edited, one Stripe endpoint", async () => {
    const branchPosts = () =>
      neon.requests.filter((r) => r.method === "POST" && r.path.endsWith("/branches")).length;
    const postsBefore = branchPosts();
    const id = neon.branch("pr-7")?.id;
    const versionsBefore = cf.scripts.get("codex-web-preview-7")?.versions.length ?? 0;
    const endpointBefore = stripe.endpoints[0];
    const stripeWrites = () => stripe.requests.filter((r) => r.method !== "GET").length;
    const writesBefore = stripeWrites();
    // From an empty state folder, as on a CI runner: what the Workers hold is asked of Cloudflare.
    const fresh = await mkdtemp(join(tmpdir(), "codex-cloud-fresh-"));
    const result = await cloud(["preview-deploy", "--pr", "7", "--skip-tests"], {
      stateDir: fresh,
    });
    expect(result.code, explain(result)).toBe(0);
    expect(branchPosts()).toBe(postsBefore);
    expect(neon.branch("pr-7")?.id).toBe(id);
    expect(cf.scripts.get("codex-web-preview-7")?.versions.length).toBe(versionsBefore + 1);
    expect(github.comments(REPOSITORY, 7)).toHaveLength(1);
    // The endpoint is reused, not made again: the Workers hold its secret, and a deploy with a
    // secrets file keeps the secrets it does not name, so queued retries and new events verify.
    expect(stripe.endpoints).toHaveLength(1);
    expect(stripe.endpoints[0]?.id).toBe(endpointBefore?.id);
    expect(stripeWrites()).toBe(writesBefore);
    expect(result.stdout).toMatch(/reused → https:\/\/stripe-webhook-handler-preview-7\./);
    for (const name of ["stripe-webhook-handler-preview-7", "codex-web-preview-7"]) {
      expect(cf.scripts.get(name)?.secrets.STRIPE_WEBHOOK_SECRET).toBe(endpointBefore?.secret);
    }
  });

  it("retries Neon's 429, reports web failing after its siblings deployed, and converges", async () => {
    neon.failNext(429, 1, undefined, { "retry-after": "0" });
    cf.failNext({ method: "PUT", path: /\/workers\/scripts\/codex-web-preview-8$/ }, 409);
    const conflict = await cloud(["preview-deploy", "--pr", "8", "--skip-tests"]);
    expect(conflict.code, explain(conflict)).toBe(1);
    expect(conflict.stderr).toMatch(
      /deploying preview-8 stopped at codex-web-preview-8: deployed auth-worker-preview-8 and stripe-webhook-handler-preview-8; failed codex-web-preview-8/,
    );
    expect(conflict.stderr).toMatch(/hint: Run the deploy again/);
    // Neon answered 429 once, and the branch was made all the same.
    expect(neon.branch("pr-8")).toBeDefined();
    const failedComment = github.comments(REPOSITORY, 8);
    expect(failedComment).toHaveLength(1);
    expect(failedComment[0]?.body).toMatch(/failed/i);

    const again = await cloud(["preview-deploy", "--pr", "8", "--skip-tests"]);
    expect(again.code, explain(again)).toBe(0);
    expect(puts("codex-web-preview-8").filter((r) => r.status === 200).length).toBeGreaterThan(0);
    expect(github.comments(REPOSITORY, 8)).toHaveLength(1);
    expect(github.comments(REPOSITORY, 8)[0]?.body).toMatch(/deployed/i);
  });

  it("names a refused Neon key, Neon's branch limit and a refused Cloudflare token, creating nothing", async () => {
    const count = () => ({ scripts: cf.scripts.size, branches: neon.state.branches.length });
    const before = count();
    const badKey = await cloud(["preview-deploy", "--pr", "9", "--skip-tests"], {
      env: { NEON_API_KEY: "napi_" + "wrong".repeat(6) },
    });
    expect(badKey.code, explain(badKey)).toBe(2);
    expect(badKey.stderr).toMatch(/NEON_API_KEY was refused by the Neon API \(401\)/);

    neon.setBranchLimit(neon.state.branches.length);
    const full = await cloud(["preview-deploy", "--pr", "9", "--skip-tests"]);
    neon.setBranchLimit(50);
    expect(full.code, explain(full)).toBe(2);
    expect(full.stderr).toMatch(/limit/i);
    expect(full.stderr).toContain("pnpm cleanup --stale --target cloud");

    const badToken = await cloud(["status"], {
      env: { CLOUDFLARE_API_TOKEN: "wrong-token-" + "0".repeat(20) },
    });
    expect(badToken.code, explain(badToken)).toBe(2);
    expect(badToken.stderr).toMatch(/Cloudflare refused to list the account's Workers/);
    expect(badToken.stderr).toMatch(/CLOUDFLARE_API_TOKEN needs/);
    expect(count()).toEqual(before);
  });

  it("status lists the previews with their Neon branches, from Cloudflare, even on a fresh runner", async () => {
    const fresh = await mkdtemp(join(tmpdir(), "codex-cloud-fresh-"));
    const result = await cloud(["status", "--json"], { stateDir: fresh });
    expect(result.code, explain(result)).toBe(0);
    const report = JSON.parse(result.stdout) as {
      environments: { name: string; branch: string; web: string }[];
    };
    expect(report.environments.map((e) => [e.name, e.branch])).toEqual([
      ["preview-7", "pr-7"],
      ["preview-8", "pr-8"],
    ]);
  });

  it("production, every command from an empty state folder as on a CI runner: migrations tried on a throwaway branch, then main; deploys, smoke-checks; rolls back by release, after a timeout, and not twice; a failed smoke check rolls back", async () => {
    const runner = () => mkdtemp(join(tmpdir(), "codex-cloud-fresh-"));
    const pooled = db.poolerConnections();
    const first = await cloud(["production-deploy"], { stateDir: await runner() });
    expect(first.code, explain(first)).toBe(0);
    // The scratch branch's and main's migrations connected directly, not through the pooler.
    expect(db.poolerConnections()).toBe(pooled);
    // A throwaway branch of the default branch was made and deleted before main was touched.
    const created = neon.requests.filter(
      (r) => r.method === "POST" && r.path.endsWith("/branches"),
    );
    const scratch = created.at(-1)?.body as { branch?: { name?: string; parent_id?: string } };
    expect(scratch.branch?.parent_id).toBe(neon.main().id);
    expect(neon.state.branches.map((b) => b.name)).not.toContain(scratch.branch?.name);
    for (const name of WORKERS("production")) {
      expect(cf.scripts.get(name)?.secrets.DATABASE_URL).toBe(db.uri("main", true));
    }
    expect(cf.scripts.get("auth-worker-production")?.secrets.SESSION_SECRET).toBe(
      SESSION_SECRET_PRODUCTION,
    );
    const services = bindings("codex-web-production").filter((b) => b.type === "service");
    expect(services.map((b) => b.service).sort()).toEqual([
      "auth-worker-production",
      "stripe-webhook-handler-production",
    ]);
    // Production has no pull request: comments only on the previews' (9's says it failed).
    const written = github.requests.filter((r) => r.method === "POST" || r.method === "PATCH");
    expect(
      written
        .map((r) => `${r.method} ${r.path}`)
        .filter((p) => !/\/issues\/(?:7|8|9)\/comments$|\/issues\/comments\/\d+$/.test(p)),
    ).toEqual([]);

    const second = await cloud(["production-deploy"], { stateDir: await runner() });
    expect(second.code, explain(second)).toBe(0);
    const live = () =>
      WORKERS("production").map((n) => cf.scripts.get(n)?.deployments[0]?.versions[0]?.version_id);
    const versions = () =>
      WORKERS("production").map((n) => cf.scripts.get(n)?.versions.map((v) => v.id) ?? []);
    expect(live()).toEqual(versions().map((v) => v.at(-1)));
    // What each Worker serves, the new versions a secret change makes (a rollback's re-applied
    // secrets) aside; and the release tag of a version.
    const serving = () =>
      WORKERS("production").map(
        (n) =>
          cf.scripts
            .get(n)
            ?.deployments.find((d) => d.annotations["workers/triggered_by"] !== "secret")
            ?.versions[0]?.version_id,
      );
    const tags = (ids: (string | undefined)[]) =>
      ids.map(
        (id, i) =>
          cf.scripts.get(WORKERS("production")[i] as string)?.versions.find((v) => v.id === id)
            ?.annotations["workers/tag"],
      );
    const releases = [tags(versions().map((v) => v.at(-2))), tags(live())];
    for (const release of releases) expect(new Set(release).size).toBe(1);
    expect(releases[0]?.[0]).not.toBe(releases[1]?.[0]);

    // The rollback reads Cloudflare's deployments. The first attempt meets a Cloudflare that
    // never answers: wrangler is stopped, nothing changed.
    const fresh = await runner();
    cf.failNext(
      { method: "GET", path: /\/workers\/scripts\/auth-worker-production\/deployments$/ },
      "hang",
    );
    const hung = await cloud(["rollback"], {
      stateDir: fresh,
      env: { CODEX_WRANGLER_TIMEOUT_MS: "12000" },
    });
    expect(hung.code, explain(hung)).toBe(1);
    expect(hung.stderr).toMatch(
      /could not read the deployments of auth-worker-production: wrangler timed out/,
    );
    expect(live()).toEqual(versions().map((v) => v.at(-1)));

    // How long it takes is measured by bench/cloud-rollback.ts, not asserted here.
    const back = await cloud(["rollback"], { stateDir: await runner() });
    expect(back.code, explain(back)).toBe(0);
    expect(tags(serving())).toEqual(releases[0]);
    expect(back.stdout).toMatch(/✓ production serves [0-9a-f.]+ \(was [0-9a-f.]+\)/);
    // The rollback was a deployment too; the next one does not take it for a release to undo.
    const again = await cloud(["rollback"], { stateDir: await runner() });
    expect(again.code, explain(again)).toBe(2);
    expect(again.stderr).toMatch(/production has no release before codex-/);
    expect(tags(serving())).toEqual(releases[0]);

    // A deploy whose smoke check fails, on a runner that remembers nothing, is rolled back to
    // exactly what production served before it.
    const before = live();
    const brokenState = await runner();
    cf.breakHealth(["codex-web-production"]);
    const broken = await cloud(["production-deploy"], { stateDir: brokenState });
    cf.breakHealth([]);
    expect(broken.code, explain(broken)).toBe(1);
    expect(broken.stderr).toMatch(/codex-web-production\.[^ ]*\/health\?schema=1: status 500/);
    expect(broken.stdout).toMatch(/roll back to [0-9a-f.]+/);
    expect(serving()).toEqual(before);
    const summary = JSON.parse(
      await readFile(join(brokenState, "envs", "production", "summary.json"), "utf8"),
    ) as { status: string; error: string };
    expect(summary.status).toBe("failed");
    expect(summary.error).toMatch(/Rolled back from [0-9a-f.]+ to [0-9a-f.]+: production serves/);
    // Three deploys, four rollbacks (each Worker's secrets set again), on a shared runner: slow.
  }, 900_000);

  it("a CLI stopped (SIGTERM) while wrangler waits on Cloudflare stops its wrangler with it", async () => {
    const fresh = await mkdtemp(join(tmpdir(), "codex-cloud-killed-"));
    stateDirs.push(fresh);
    await mkdir(join(fresh, "home"), { recursive: true });
    cf.failNext(
      { method: "GET", path: /\/workers\/scripts\/auth-worker-production\/deployments$/ },
      "hang",
    );
    const run = sandbox.start(["rollback", "--target", "cloud"], envFor(fresh));
    const pid = run.child.pid as number;
    // wrangler is running once it appears among the CLI's descendants.
    const wranglers = () =>
      descendants(pid).filter((p) => {
        try {
          return readFileSync(`/proc/${p.pid}/cmdline`, "utf8").includes("wrangler");
        } catch {
          return false; // ended in the meantime
        }
      });
    const deadline = Date.now() + 60_000;
    while (wranglers().length === 0) {
      if (Date.now() > deadline) throw new Error(`wrangler never started:\n${run.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // wrangler and what it started (its own children included).
    const children: ProcessRecord[] = wranglers().flatMap((w) => [w, ...descendants(w.pid)]);
    run.child.kill("SIGTERM");
    const result = await run.done;
    results.push(result);
    expect(result.code).toBe(143);
    expect(result.stderr).toMatch(/interrupted \(SIGTERM\)/);
    // Everything it started is gone at once, not when wrangler's own timeout would have ended it.
    expect(
      await waitUntilGone(
        children.map((c) => c.pid),
        2_000,
      ),
    ).toBe(true);
  });

  it("cleanup deletes exactly preview-7 (branch, Workers, endpoint), says so on the PR, and a second one is a no-op", async () => {
    // As if preview-deploy --e2e had published its report (the contract test publishes a real one).
    cf.seed("codex-report-preview-7");
    const result = await cloud(["cleanup", "--pr", "7"]);
    expect(result.code, explain(result)).toBe(0);
    expect(cf.scripts.has("codex-report-preview-7")).toBe(false);
    expect(neon.branch("pr-7")).toBeUndefined();
    expect(await db.exists("pr-7")).toBe(false);
    for (const name of WORKERS("preview-7")) expect(cf.scripts.has(name)).toBe(false);
    for (const name of [...WORKERS("preview-8"), ...WORKERS("production")])
      expect(cf.scripts.has(name)).toBe(true);
    expect(neon.branch("pr-8")).toBeDefined();
    expect(stripe.endpoints.map((e) => e.metadata.codex_environment)).toEqual(["preview-8"]);
    expect(github.comments(REPOSITORY, 7)).toHaveLength(1);
    expect(github.comments(REPOSITORY, 7)[0]?.body).toMatch(/deleted/i);

    const deletes = () =>
      cf.requests.filter((r) => r.method === "DELETE" && r.status === 200).length +
      neon.requests.filter((r) => r.method === "DELETE").length +
      stripe.requests.filter((r) => r.method === "DELETE").length;
    const deletesBefore = deletes();
    const again = await cloud(["cleanup", "--pr", "7"]);
    expect(again.code, explain(again)).toBe(0);
    expect(again.stdout).toMatch(/nothing to remove/);
    expect(deletes()).toBe(deletesBefore);
    expect(github.comments(REPOSITORY, 7)).toHaveLength(1);
  });

  it("reports a preview as a GitHub deployment of its commit (View deployment), set inactive by cleanup; a person's comment that starts with the marker is left alone", async () => {
    const commit = "3f786850e387550fdab836ed7e6dc881de23001b";
    const [person] = github.seedComments(
      REPOSITORY,
      31,
      ["<!-- codex-preview:preview-31 -->\nWhy does the bot's comment say this?"],
      PERSON,
    );
    const deploy = await cloud(["preview-deploy", "--pr", "31", "--skip-tests"], {
      env: { GITHUB_SHA: commit },
    });
    expect(deploy.code, explain(deploy)).toBe(0);
    const [kept, own, ...more] = github.comments(REPOSITORY, 31);
    expect(more).toEqual([]);
    expect(kept).toEqual(person);
    expect(own?.user.type).toBe("Bot");
    expect(own?.body).toMatch(/^<!-- codex-preview:preview-31 -->\n/);
    const ofPreview = () =>
      github.deployments(REPOSITORY).filter((d) => d.environment === "preview-31");
    expect(ofPreview()).toMatchObject([
      {
        ref: commit,
        transient_environment: true,
        production_environment: false,
        statuses: [
          {
            state: "success",
            environment_url: `https://codex-web-preview-31.${cf.subdomain}.workers.dev`,
          },
        ],
      },
    ]);
    const create = github.requests.find(
      (r) => r.method === "POST" && r.path === `/repos/${REPOSITORY}/deployments`,
    );
    expect(create?.body).toMatchObject({ auto_merge: false, required_contexts: [] });

    const removed = await cloud(["cleanup", "--pr", "31"]);
    expect(removed.code, explain(removed)).toBe(0);
    expect(ofPreview().map((d) => d.statuses.map((status) => status.state))).toEqual([
      ["success", "inactive"],
    ]);
  });

  it("the sweep keeps an open pull request's preview, and removes a Stripe endpoint whose preview is gone", async () => {
    const fresh = await mkdtemp(join(tmpdir(), "codex-cloud-fresh-"));
    github.setPullRequest(REPOSITORY, 8, "open");
    // Left by a cleanup that stopped before its last step: no Workers, no branch.
    const orphan = stripe.seed({
      url: "https://stripe-webhook-handler-preview-42.example.test/webhook",
      metadata: { codex_environment: "preview-42" },
    });
    const foreign = stripe.seed({ url: "https://production.example.test/hook" });
    const result = await cloud(["cleanup", "--stale", "--older-than", "0m"], { stateDir: fresh });
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toMatch(/kept preview-8: pull request #8 is open/);
    expect(result.stdout).toMatch(/removed preview-42/);
    for (const name of WORKERS("preview-8")) expect(cf.scripts.has(name)).toBe(true);
    expect(neon.branch("pr-8")).toBeDefined();
    const left = stripe.endpoints.map((e) => e.id);
    expect(left).not.toContain(orphan.id);
    expect(left).toContain(foreign.id);
    expect(
      stripe.endpoints.filter((e) => e.metadata.codex_environment === "preview-8"),
    ).toHaveLength(1);
    expect(github.requests.some((r) => r.path === `/repos/${REPOSITORY}/pulls/8`)).toBe(true);
    stripe.endpoints.splice(stripe.endpoints.indexOf(foreign), 1);
    github.setPullRequest(REPOSITORY, 8, "closed");
  });

  it("approve-visual turns codex/visual green for a /codex approve-visual comment by a collaborator with write access, and refuses one without", async () => {
    const head = "4".repeat(40);
    github.setPullRequest(REPOSITORY, 44, "open", head);
    // What preview-deploy publishes for a visual change: the comment and a pending status.
    const channel = new GitHubReviewChannel({
      token: github.token,
      repository: REPOSITORY,
      baseUrl: github.url,
    });
    await channel.publish({
      environment: "preview-44",
      target: "cloud",
      status: "deployed",
      urls: null,
      database: null,
      steps: [],
      commit: head,
      visual: {
        baseline: "v1",
        threshold: 0.001,
        pages: [{ page: "pricing", viewport: "desktop", status: "changed", ratio: 0.02 }],
      },
      updatedAt: new Date().toISOString(),
    });
    const states = () =>
      github.commitStatuses(REPOSITORY, head).map((s) => `${s.context} ${s.state}`);
    expect(states()).toEqual(["codex/visual pending"]);

    const mallory = { login: "mallory", id: 4242, type: "User" as const };
    github.setPermission(REPOSITORY, mallory.login, "read");
    github.seedComments(REPOSITORY, 44, ["/codex approve-visual"], mallory);
    const refused = await cloud(["approve-visual", "--pr", "44"]);
    expect(refused.code, explain(refused)).toBe(2);
    expect(refused.stderr).toMatch(/mallory has read access: approving needs write access/);
    expect(states()).toEqual(["codex/visual pending"]);

    github.setPermission(REPOSITORY, PERSON.login, "write");
    const [asked] = github.seedComments(REPOSITORY, 44, ["/codex approve-visual"], PERSON);
    const approved = await cloud(["approve-visual", "--pr", "44", "--comment-id", `${asked?.id}`]);
    expect(approved.code, explain(approved)).toBe(0);
    expect(approved.stdout).toMatch(/codex\/visual of 4444444 approved by octocat/);
    expect(states()).toEqual(["codex/visual pending", "codex/visual success"]);
    const comment = github.comments(REPOSITORY, 44).find((c) => c.user.type === "Bot");
    expect(comment?.body).toContain("✅ approved by octocat");
  });

  it("the sweep, on a fresh runner, removes old previews of closed pull requests and never production, and a token that may not comment only warns", async () => {
    const fresh = await mkdtemp(join(tmpdir(), "codex-cloud-fresh-"));
    // A report Worker goes with its preview.
    cf.seed("codex-report-preview-8");
    // A token that may not comment: a warning, and the sweep goes on.
    github.forbid(403, ["POST", "PATCH"]);
    const result = await cloud(["cleanup", "--stale", "--older-than", "0m"], { stateDir: fresh });
    github.forbid(null);
    expect(result.code, explain(result)).toBe(0);
    expect(result.stderr).toMatch(/warning: .*may not comment on .*pull-requests: write/s);
    expect(result.stdout).toMatch(/removed preview-8/);
    expect([...cf.scripts.keys()].sort()).toEqual([...WORKERS("production")].sort());
    expect(cf.scripts.has("codex-report-preview-8")).toBe(false);
    expect(neon.state.branches.map((b) => b.name)).toEqual(["main"]);
    expect(stripe.endpoints).toHaveLength(0);
  });

  it("no known secret value appears in any output, state file or recorded request", async () => {
    const known = [
      SESSION_SECRET,
      SESSION_SECRET_PRODUCTION,
      STRIPE_WEBHOOK_SECRET_PRODUCTION,
      db.password,
      cf.apiToken,
      neon.apiKey,
      github.token,
      stripe.apiKey,
      ...signingSecrets,
    ];
    expect(signingSecrets.size).toBeGreaterThanOrEqual(3);
    const haystacks: [string, string][] = results.map((r, i) => [
      `CLI run ${i}`,
      r.stdout + r.stderr,
    ]);
    for (const state of stateDirs) {
      for (const file of await walk(state)) {
        haystacks.push([file, await readFile(file, "utf8").catch(() => "")]);
      }
    }
    const withoutAuth = (records: { headers: object }[]) =>
      records.map((r) => ({
        ...r,
        headers: Object.fromEntries(
          Object.entries(r.headers).filter(([k]) => k.toLowerCase() !== "authorization"),
        ),
      }));
    haystacks.push(["Cloudflare requests", JSON.stringify(withoutAuth(cf.requests))]);
    haystacks.push(["Neon requests", JSON.stringify(withoutAuth(neon.requests.map(redact)))]);
    haystacks.push(["GitHub requests", JSON.stringify(withoutAuth(github.requests))]);
    haystacks.push(["Stripe requests", JSON.stringify(withoutAuth(stripe.requests))]);
    const hits = haystacks.flatMap(([where, text]) =>
      known.filter((value) => text.includes(value)).map(() => where),
    );
    expect(hits).toEqual([]);
    // The scan looked at something: outputs, state files and every stub's records.
    expect(results.length).toBeGreaterThan(10);
    expect(haystacks.length).toBeGreaterThan(results.length + 4);
  });
});

async function walk(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((path) => !path.includes(`${join("home", ".cache")}`));
}
