import { Octokit } from "@octokit/rest";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  ACTIONS_BOT,
  PERSON,
  startGitHubStub,
  type GitHubStub,
} from "../../../src/testing/stubs/github";
import { PipelineError } from "../../../src/errors";
import { describeReviewChannel, sampleSummary } from "./suite";
import {
  COMMENT_BODY_MAX,
  GitHubReviewChannel,
  githubFromEnv,
  type GitHubReviewChannelOptions,
} from "../../../src/providers/review/github";
import { SUMMARY_MARKER } from "../../../src/providers/review/shared";

// Built by concatenation so that no scanner mistakes the fixtures for real credentials.
const SECRET = "sk_" + "test_51GitHubReviewSecret";
const REPO = "acme/app";
const RUN_URL = "https://github.com/acme/app/actions/runs/4242";

const stubs: GitHubStub[] = [];

afterEach(async () => {
  await Promise.all(stubs.splice(0).map((stub) => stub.close()));
});

async function setup(options: Partial<GitHubReviewChannelOptions> = {}) {
  const stub = await startGitHubStub();
  stubs.push(stub);
  const warnings: string[] = [];
  const channel = new GitHubReviewChannel({
    token: stub.token,
    repository: REPO,
    baseUrl: stub.url,
    secrets: () => [SECRET],
    warn: (line) => warnings.push(line),
    ...options,
  });
  /** Comments on the environment's PR whose body starts with its marker. */
  const published = (environment: string) => {
    const pr = Number(/^preview-(\d+)$/.exec(environment)?.[1]);
    return stub
      .comments(REPO, pr)
      .map((comment) => comment.body)
      .filter((body) => body.startsWith(SUMMARY_MARKER(environment)));
  };
  const writes = () => stub.requests.filter((request) => request.method !== "GET");
  return { stub, channel, warnings, published, writes };
}

/** A channel on the stub through a client of the test's own, warnings into `warnings`. */
function channelWith(stub: GitHubStub, octokit: Octokit, warnings: string[]) {
  return new GitHubReviewChannel({
    token: stub.token,
    repository: REPO,
    baseUrl: stub.url,
    octokit,
    warn: (line) => warnings.push(line),
  });
}

describeReviewChannel("github (stub API)", async () => {
  const { channel, published } = await setup();
  return { channel, secrets: [SECRET], published: async (env) => published(env) };
});

describe("GitHubReviewChannel", () => {
  it("creates one comment on the first publish, with the marker first, and returns its URL", async () => {
    const { stub, channel, warnings, writes } = await setup();
    const { location } = await channel.publish(sampleSummary());
    expect(warnings).toEqual([]);
    expect(writes().map((r) => [r.method, r.path])).toEqual([
      ["POST", "/repos/acme/app/issues/7/comments"],
    ]);
    const [comment] = stub.comments(REPO, 7);
    expect(stub.comments(REPO, 7)).toHaveLength(1);
    expect(comment!.body.startsWith(`${SUMMARY_MARKER("preview-7")}\n`)).toBe(true);
    expect(location).toBe(comment!.html_url);
    expect(location).toMatch(/^https:\/\/github\.com\/acme\/app\/pull\/7#issuecomment-\d+$/);
    // Octokit's token auth, against the API base URL it was given.
    expect(stub.requests[0]!.headers.authorization).toBe(`token ${stub.token}`);
    expect(stub.requests[0]!.query).toMatchObject({ per_page: "100" });
  });

  it("edits the same comment on the second publish instead of adding one", async () => {
    const { stub, channel, writes } = await setup();
    const first = await channel.publish(sampleSummary({ status: "in-progress" }));
    const second = await channel.publish(sampleSummary({ status: "deployed", version: "v2" }));
    const comments = stub.comments(REPO, 7);
    expect(comments).toHaveLength(1);
    expect(second.location).toBe(first.location);
    expect(writes().map((r) => [r.method, r.path])).toEqual([
      ["POST", "/repos/acme/app/issues/7/comments"],
      ["PATCH", `/repos/acme/app/issues/comments/${comments[0]!.id}`],
    ]);
    expect(comments[0]!.body).toContain("version v2");
    expect(comments[0]!.updated_at > comments[0]!.created_at).toBe(true);
  });

  it("serialises concurrent publishes to one PR, so they still leave one comment", async () => {
    const { stub, channel } = await setup();
    await Promise.all([
      channel.publish(sampleSummary({ status: "in-progress" })),
      channel.publish(sampleSummary({ status: "deployed" })),
      channel.publish(sampleSummary({ status: "failed", error: "last" })),
    ]);
    const comments = stub.comments(REPO, 7);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain("Preview preview-7 — failed");
  });

  it("follows the Link header to find the marker comment on page 3 of 250", async () => {
    const { stub, channel, writes } = await setup();
    const bodies = Array.from({ length: 250 }, (_, i) => `Comment ${i + 1}: looks good`);
    bodies[219] = `${SUMMARY_MARKER("preview-7")}\n## old summary`;
    const seeded = stub.seedComments(REPO, 7, bodies, ACTIONS_BOT);
    const { location } = await channel.publish(sampleSummary({ version: "v9" }));

    const reads = stub.requests.filter((r) => r.method === "GET");
    expect(reads).toHaveLength(3);
    // GitHub's next links name the repository by id; the client must follow them as given.
    expect(reads[1]!.path).toMatch(/^\/repositories\/\d+\/issues\/7\/comments$/);
    expect(reads.map((r) => r.query.page ?? "1")).toEqual(["1", "2", "3"]);
    expect(writes().map((r) => [r.method, r.path])).toEqual([
      ["PATCH", `/repos/acme/app/issues/comments/${seeded[219]!.id}`],
    ]);
    const after = stub.comments(REPO, 7);
    expect(after).toHaveLength(250);
    expect(after[219]!.body).toContain("version v9");
    expect(location).toBe(seeded[219]!.html_url);
  });

  it("stops reading pages once the marker comment is found", async () => {
    const { stub, channel } = await setup();
    const bodies = Array.from({ length: 250 }, (_, i) => `Comment ${i + 1}`);
    bodies[3] = `${SUMMARY_MARKER("preview-7")}\nold`;
    stub.seedComments(REPO, 7, bodies, ACTIONS_BOT);
    await channel.publish(sampleSummary());
    expect(stub.requests.filter((r) => r.method === "GET")).toHaveLength(1);
  });

  it("leaves alone a comment that only quotes the marker, and another environment's marker", async () => {
    const { stub, channel, writes } = await setup();
    const quoting = `The bot finds its comment by \`${SUMMARY_MARKER("preview-7")}\` at the top.`;
    const indented = ` ${SUMMARY_MARKER("preview-7")}\nnot at the very start`;
    const other = `${SUMMARY_MARKER("preview-70")}\nanother environment`;
    stub.seedComments(REPO, 7, [quoting, indented, other]);
    await channel.publish(sampleSummary());
    expect(writes().map((r) => r.method)).toEqual(["POST"]);
    const [a, b, c, mine] = stub.comments(REPO, 7);
    expect([a!.body, b!.body, c!.body]).toEqual([quoting, indented, other]);
    expect([a, b, c].map((comment) => comment!.updated_at)).toEqual(
      [a, b, c].map((comment) => comment!.created_at),
    );
    expect(mine!.body.startsWith(SUMMARY_MARKER("preview-7"))).toBe(true);
  });

  it("leaves a person's comment that starts with the marker alone, and edits its own after it", async () => {
    const { stub, channel, writes } = await setup();
    const pasted = `${SUMMARY_MARKER("preview-7")}\nI pasted the bot's comment to ask about it.`;
    const [person] = stub.seedComments(REPO, 7, [pasted], PERSON);
    const first = await channel.publish(sampleSummary({ version: "v1" }));
    const second = await channel.publish(sampleSummary({ version: "v2" }));
    const [kept, mine, ...more] = stub.comments(REPO, 7);
    expect(more).toEqual([]);
    expect(kept).toEqual(person);
    expect(mine!.user).toMatchObject({ login: "github-actions[bot]", type: "Bot" });
    expect(mine!.body).toContain("version v2");
    expect(second.location).toBe(first.location);
    expect(writes().map((r) => [r.method, r.path])).toEqual([
      ["POST", "/repos/acme/app/issues/7/comments"],
      ["PATCH", `/repos/acme/app/issues/comments/${mine!.id}`],
    ]);
  });

  it("posts a new comment when the listed one was deleted before the edit", async () => {
    const stub = await startGitHubStub();
    stubs.push(stub);
    const [old] = stub.seedComments(REPO, 7, [`${SUMMARY_MARKER("preview-7")}\nold`], ACTIONS_BOT);
    const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
    const octokit = new Octokit({ auth: stub.token, baseUrl: stub.url, log: quiet });
    octokit.hook.before("request", (options) => {
      if (options.method === "PATCH") stub.deleteComment(old!.id);
    });
    const warnings: string[] = [];
    const channel = channelWith(stub, octokit, warnings);
    const { location } = await channel.publish(sampleSummary());
    expect(warnings).toEqual([]);
    expect(stub.requests.map((r) => r.method)).toEqual(["GET", "PATCH", "POST"]);
    const comments = stub.comments(REPO, 7);
    expect(comments).toHaveLength(1);
    expect(location).toBe(comments[0]!.html_url);
  });

  it("publishes nothing for production and staging", async () => {
    const { stub, channel, warnings } = await setup();
    for (const environment of ["production", "staging"]) {
      const result = await channel.publish(sampleSummary({ environment }));
      expect(result).toEqual({ location: "" });
    }
    expect(stub.requests).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it("refuses an environment name that is not one of ours, before any request", async () => {
    const { stub, channel } = await setup();
    await expect(channel.publish(sampleSummary({ environment: "preview-07" }))).rejects.toThrow(
      PipelineError,
    );
    expect(stub.requests).toEqual([]);
  });

  describe("failures warn and resolve", () => {
    it("403: warns about the missing permission and resolves with no location", async () => {
      const { stub, channel, warnings } = await setup();
      stub.forbid(403);
      await expect(channel.publish(sampleSummary())).resolves.toEqual({ location: "" });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain("HTTP 403: Resource not accessible by integration");
      expect(warnings[0]).toContain("pull-requests: write");
      expect(warnings[0]).toContain("pull request #7 of acme/app");
    });

    it("403 on writes only (a read-only token): the list works, the post warns", async () => {
      const { stub, channel, warnings } = await setup();
      stub.forbid(403, ["POST", "PATCH"]);
      await expect(channel.publish(sampleSummary())).resolves.toEqual({ location: "" });
      expect(stub.requests.map((r) => r.method)).toEqual(["GET", "POST"]);
      expect(warnings).toEqual([expect.stringContaining("HTTP 403")]);
      expect(stub.comments(REPO, 7)).toEqual([]);
    });

    it("401: says GITHUB_TOKEN was refused", async () => {
      const { stub, channel, warnings } = await setup();
      stub.forbid(401);
      await expect(channel.publish(sampleSummary())).resolves.toEqual({ location: "" });
      expect(warnings).toEqual([expect.stringContaining("GITHUB_TOKEN was refused")]);
    });

    it("401 for a wrong token, with GitHub's own answer", async () => {
      const { channel, warnings } = await setup({ token: "ghp_" + "WrongTokenWrongToken00000000" });
      await expect(channel.publish(sampleSummary())).resolves.toEqual({ location: "" });
      expect(warnings).toEqual([
        expect.stringContaining("GITHUB_TOKEN was refused (HTTP 401: Bad credentials"),
      ]);
    });

    it("404 on the issue: warns that the PR is missing or invisible to the token", async () => {
      const { stub, channel, warnings } = await setup();
      stub.forbid(404);
      await expect(channel.publish(sampleSummary())).resolves.toEqual({ location: "" });
      expect(warnings).toEqual([expect.stringContaining("not found, or the token cannot see it")]);
    });

    it("a 5xx warns with the status", async () => {
      const { stub, channel, warnings } = await setup();
      stub.forbid(502);
      await expect(channel.publish(sampleSummary())).resolves.toEqual({ location: "" });
      expect(warnings).toEqual([expect.stringContaining("GitHub answered HTTP 502")]);
    });

    it("an unreachable API warns that GitHub could not be reached", async () => {
      const { stub, channel, warnings } = await setup();
      await stub.close();
      await expect(channel.publish(sampleSummary())).resolves.toEqual({ location: "" });
      expect(warnings).toEqual([
        expect.stringContaining(`GitHub could not be reached at ${stub.url}`),
      ]);
    });

    it("never puts the token in a warning, an error or a recorded body", async () => {
      const { stub, channel, warnings } = await setup();
      const token = stub.token;
      // The token itself in the summary, as if a command had printed its environment.
      const leaky = sampleSummary({
        status: "failed",
        error: `GITHUB_TOKEN=${token} authorization: token ${token}`,
        steps: [{ name: "deploy", status: "failed", durationMs: 5, detail: token }],
      });
      await channel.publish(leaky);
      await channel.publish(leaky);
      for (const status of [401, 403, 404, 500]) {
        stub.forbid(status);
        await channel.publish(leaky);
      }
      await stub.close();
      await channel.publish(leaky);

      expect(warnings).toHaveLength(5);
      const bodies = stub.requests.map((r) => JSON.stringify(r.body ?? null));
      expect(stub.comments(REPO, 7)[0]!.body).toContain("GITHUB_TOKEN=[REDACTED]");
      for (const text of [...warnings, ...bodies]) expect(text).not.toContain(token);

      const errors: unknown[] = [];
      for (const bad of [
        { GITHUB_TOKEN: token },
        { GITHUB_TOKEN: token, GITHUB_REPOSITORY: "not a repo" },
        { GITHUB_TOKEN: token, GITHUB_REPOSITORY: REPO, GITHUB_API_URL: "ftp://x" },
      ]) {
        errors.push(captureError(() => githubFromEnv(bad)));
      }
      for (const error of errors) {
        expect(error).toBeInstanceOf(PipelineError);
        expect(JSON.stringify({ ...(error as PipelineError), m: String(error) })).not.toContain(
          token,
        );
      }
    });

    it("scrubs the secrets it is given, asking for them at every publish", async () => {
      const secrets = vi.fn(() => [SECRET, "hunter2-db-password"]);
      const { stub, channel } = await setup({ secrets });
      const summary = sampleSummary({
        status: "failed",
        error: `Stripe said no to ${SECRET}; postgres://app:hunter2-db-password@db/main`,
        steps: [{ name: "migrate", status: "failed", durationMs: 1, detail: SECRET }],
      });
      await channel.publish(summary);
      await channel.publish(summary);
      expect(secrets).toHaveBeenCalledTimes(2);
      for (const request of stub.requests) {
        const text = JSON.stringify(request.body ?? null);
        expect(text).not.toContain(SECRET);
        expect(text).not.toContain("hunter2");
      }
      expect(stub.comments(REPO, 7)[0]!.body).toContain("Stripe said no to [REDACTED]");
    });
  });

  describe("e2e files", () => {
    const e2e = {
      passed: 4,
      failed: 0,
      skipped: 0,
      durationMs: 30_000,
      reportDir: "e2e/html/index.html",
      screenshots: ["e2e/screenshots/home.png", "e2e/screenshots/checkout-done.png"],
    };
    const steps = [
      { name: "deploy", status: "ok" as const, durationMs: 1500 },
      {
        name: "e2e against the preview",
        status: "ok" as const,
        durationMs: 30_000,
        detail: "4 passed, 0 failed",
      },
    ];

    it("links the run's artifacts instead of local screenshots and report", async () => {
      const { stub, channel } = await setup({ runUrl: RUN_URL });
      await channel.publish(sampleSummary({ e2e, steps }));
      const body = stub.comments(REPO, 7)[0]!.body;
      expect(body).not.toContain("![");
      expect(body).not.toContain("e2e/screenshots");
      expect(body).not.toContain("e2e/html");
      expect(body).toContain(`[Playwright report](${RUN_URL}#artifacts)`);
      expect(body).toContain(
        "`4 passed, 0 failed · screenshots in the run's e2e-report artifact: home.png, checkout-done.png`",
      );
    });

    it("says the screenshots are in the e2e-report artifact when the run is unknown", async () => {
      const { stub, channel } = await setup();
      await channel.publish(sampleSummary({ e2e, steps: [steps[0]!] }));
      const body = stub.comments(REPO, 7)[0]!.body;
      expect(body).not.toContain("![");
      expect(body).toContain(
        "| e2e screenshots | ok | – | `home.png, checkout-done.png (screenshots are in the e2e-report artifact)` |",
      );
      // No run to link: the PR's checks, where the run and its artifacts are.
      expect(body).toContain(`[Playwright report](${stub.url}/acme/app/pull/7/checks)`);
    });

    it("keeps a report that is already on the web", async () => {
      const { stub, channel } = await setup({ runUrl: RUN_URL });
      const hosted = "https://reports.example.com/pr-7/index.html";
      await channel.publish(sampleSummary({ e2e: { ...e2e, reportDir: hosted, screenshots: [] } }));
      const body = stub.comments(REPO, 7)[0]!.body;
      expect(body).toContain(`[Playwright report](${hosted})`);
      expect(body).not.toContain("e2e screenshots");
    });
  });

  describe("GitHub's 65,536-character limit", () => {
    it("shortens step details and the error, saying so, and the comment is accepted", async () => {
      const { stub, channel, warnings } = await setup();
      const huge = sampleSummary({
        status: "failed",
        error: "x".repeat(120_000) + SECRET.slice(0, 3),
        steps: Array.from({ length: 40 }, (_, i) => ({
          name: `step ${i}`,
          status: "ok" as const,
          durationMs: 1,
          detail: `${"d".repeat(4_000)}${SECRET}`,
        })),
      });
      await channel.publish(huge);
      expect(warnings).toEqual([]);
      const body = stub.comments(REPO, 7)[0]!.body;
      expect(body.length).toBeLessThanOrEqual(COMMENT_BODY_MAX);
      expect(body.startsWith(SUMMARY_MARKER("preview-7"))).toBe(true);
      expect(body).toMatch(
        /… \[[\d,]+ more characters cut; the full text is in the workflow run's log\]/,
      );
      expect(body).toMatch(/… \[[\d,]+ more characters cut\]/);
      expect(body).toContain("| step 39 |");
      expect(body).not.toContain(SECRET);
    });

    it("cuts the body itself when there are too many steps, keeping the marker", async () => {
      const { stub, channel, warnings } = await setup();
      const steps = Array.from({ length: 3_000 }, (_, i) => ({
        name: `a step with a fairly long name ${i}`,
        status: "ok" as const,
        durationMs: 1,
      }));
      await channel.publish(sampleSummary({ steps }));
      expect(warnings).toEqual([]);
      const body = stub.comments(REPO, 7)[0]!.body;
      expect(body.length).toBeLessThanOrEqual(COMMENT_BODY_MAX);
      expect(body.startsWith(SUMMARY_MARKER("preview-7"))).toBe(true);
      expect(body).toContain("[cut here: GitHub limits a comment to 65,536 characters]");
    });

    it("leaves a body that fits exactly as renderMarkdown wrote it", async () => {
      const { stub, channel } = await setup();
      const summary = sampleSummary({ error: "e".repeat(20_000), status: "failed" });
      await channel.publish(summary);
      expect(stub.comments(REPO, 7)[0]!.body).toContain("e".repeat(20_000));
    });
  });
});

describe("GitHub deployments", () => {
  const SHA = "0123456789abcdef0123456789abcdef01234567";
  const PRODUCTION_URLS = {
    web: "https://codex-web.acme.workers.dev",
    auth: "https://codex-auth.acme.workers.dev",
    webhook: "https://codex-stripe-webhook-handler.acme.workers.dev",
  };
  const states = (stub: GitHubStub, environment: string) =>
    stub
      .deployments(REPO)
      .filter((d) => d.environment === environment)
      .map((d) => d.statuses.map((status) => status.state));

  it("reports a preview as a transient deployment of its commit, with its URL and the run's log", async () => {
    const { stub, channel, warnings } = await setup({ runUrl: RUN_URL });
    await channel.publish(sampleSummary({ commit: SHA }));
    expect(warnings).toEqual([]);
    const [deployment, ...more] = stub.deployments(REPO);
    expect(more).toEqual([]);
    expect(deployment).toMatchObject({
      ref: SHA,
      sha: SHA,
      environment: "preview-7",
      transient_environment: true,
      production_environment: false,
    });
    expect(deployment!.statuses).toMatchObject([
      { state: "success", environment_url: "http://pr-7.localhost:8787", log_url: RUN_URL },
    ]);
    // The comment is still there, beside it.
    expect(stub.comments(REPO, 7)).toHaveLength(1);
  });

  it("follows one deploy from in progress to success on one deployment", async () => {
    const { stub, channel } = await setup();
    await channel.publish(sampleSummary({ commit: SHA, status: "in-progress" }));
    await channel.publish(sampleSummary({ commit: SHA, status: "deployed" }));
    expect(states(stub, "preview-7")).toEqual([["in_progress", "success"]]);
  });

  it("reports a failed deploy as failure, without a URL to view", async () => {
    const { stub, channel } = await setup();
    await channel.publish(sampleSummary({ commit: SHA, status: "failed", error: "smoke" }));
    const [deployment] = stub.deployments(REPO);
    expect(deployment!.statuses).toMatchObject([{ state: "failure", environment_url: "" }]);
    expect(deployment!.statuses[0]!.description).not.toContain("smoke");
  });

  it("reports production as the production environment, and comments nowhere", async () => {
    const { stub, channel } = await setup();
    const { location } = await channel.publish(
      sampleSummary({ environment: "production", commit: SHA, urls: PRODUCTION_URLS }),
    );
    expect(location).toBe("");
    expect(stub.deployments(REPO)).toMatchObject([
      {
        environment: "production",
        transient_environment: false,
        production_environment: true,
        statuses: [{ state: "success", environment_url: PRODUCTION_URLS.web }],
      },
    ]);
    expect(stub.requests.some((r) => r.path.includes("/comments"))).toBe(false);
  });

  it("reports nothing without a commit (a run outside a workflow), and warns of nothing", async () => {
    const { stub, channel, warnings } = await setup();
    await channel.publish(sampleSummary());
    expect(stub.deployments(REPO)).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it("sets every deployment of a deleted preview inactive, once, and leaves other environments", async () => {
    const { stub, channel } = await setup();
    const other = "fedcba9876543210fedcba9876543210fedcba98";
    await channel.publish(sampleSummary({ commit: SHA }));
    await channel.publish(sampleSummary({ commit: other, status: "failed" }));
    await channel.publish(sampleSummary({ environment: "preview-8", commit: SHA }));
    const deleted = sampleSummary({ status: "deleted", urls: null, database: null, steps: [] });
    await channel.publish(deleted);
    expect(states(stub, "preview-7")).toEqual([
      ["success", "inactive"],
      ["failure", "inactive"],
    ]);
    expect(states(stub, "preview-8")).toEqual([["success"]]);
    // A second cleanup finds nothing left to change.
    const before = stub.requests.filter((r) => r.method === "POST").length;
    await channel.publish(deleted);
    const posts = stub.requests.filter((r) => r.method === "POST").slice(before);
    expect(posts.map((r) => r.path)).toEqual([]);
  });

  it("warns, naming the permission, when the token may not write deployments; the comment still goes", async () => {
    const { stub, warnings } = await setup();
    // A 403 on deployments only: the workflow forgot `deployments: write`.
    const octokit = new Octokit({ auth: stub.token, baseUrl: stub.url });
    octokit.hook.wrap("request", async (request, options) => {
      if (String(options.url).includes("/deployments")) {
        stub.forbid(403);
        try {
          return await request(options);
        } finally {
          stub.forbid(null);
        }
      }
      return request(options);
    });
    const channel = channelWith(stub, octokit, warnings);
    const { location } = await channel.publish(sampleSummary({ commit: SHA }));
    expect(location).not.toBe("");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("the GitHub deployment of preview-7 was not reported");
    expect(warnings[0]).toContain('"permissions: deployments: write"');
    expect(warnings[0]).not.toContain(stub.token);
  });
});

describe("githubFromEnv", () => {
  const env = { GITHUB_TOKEN: "ghs_" + "EnvToken", GITHUB_REPOSITORY: REPO };

  it("reads the token, the repository and the API URL, and builds the run's URL", async () => {
    const stub = await startGitHubStub({ token: env.GITHUB_TOKEN });
    stubs.push(stub);
    const channel = githubFromEnv({
      ...env,
      GITHUB_API_URL: `${stub.url}/`,
      GITHUB_SERVER_URL: "https://github.com",
      GITHUB_RUN_ID: "4242",
    });
    await channel.publish(
      sampleSummary({
        e2e: { passed: 1, failed: 0, skipped: 0, durationMs: 1, reportDir: "r", screenshots: [] },
      }),
    );
    expect(stub.requests[0]!.headers.authorization).toBe(`token ${env.GITHUB_TOKEN}`);
    expect(stub.comments(REPO, 7)[0]!.body).toContain(`[Playwright report](${RUN_URL}#artifacts)`);
  });

  it("defaults to api.github.com, and links github.com's checks when the run is unknown", async () => {
    const calls: { url: string; body: string }[] = [];
    const octokit = new Octokit({
      auth: env.GITHUB_TOKEN,
      request: {
        fetch: async (url: string, init: RequestInit) => {
          calls.push({ url, body: String(init.body ?? "") });
          const created = init.method === "POST";
          return new Response(created ? '{"id":1,"html_url":"https://github.com/x"}' : "[]", {
            status: created ? 201 : 200,
            headers: { "content-type": "application/json" },
          });
        },
      },
    });
    const channel = githubFromEnv(env, { octokit });
    const e2e = {
      passed: 1,
      failed: 0,
      skipped: 0,
      durationMs: 1,
      reportDir: "r",
      screenshots: [],
    };
    expect(await channel.publish(sampleSummary({ e2e }))).toEqual({
      location: "https://github.com/x",
    });
    expect(calls.map((c) => c.url)).toEqual([
      "https://api.github.com/repos/acme/app/issues/7/comments?per_page=100",
      "https://api.github.com/repos/acme/app/issues/7/comments",
    ]);
    expect(calls[1]!.body).toContain("(https://github.com/acme/app/pull/7/checks)");
  });

  it.each([
    [{ GITHUB_REPOSITORY: REPO }, "GITHUB_TOKEN"],
    [{ GITHUB_TOKEN: "  ", GITHUB_REPOSITORY: REPO }, "GITHUB_TOKEN"],
    [{ GITHUB_TOKEN: "t" }, "GITHUB_REPOSITORY"],
    [{ GITHUB_TOKEN: "t", GITHUB_REPOSITORY: "acme" }, "GITHUB_REPOSITORY"],
    [{ GITHUB_TOKEN: "t", GITHUB_REPOSITORY: REPO, GITHUB_API_URL: "not a url" }, "GITHUB_API_URL"],
  ])("refuses %j as a user error naming %s", (bad, variable) => {
    const error = captureError(() => githubFromEnv(bad));
    expect(error).toBeInstanceOf(PipelineError);
    expect(error).toMatchObject({ code: "INVALID_ARGUMENT", kind: "user" });
    expect((error as Error).message).toContain(variable);
  });

  it("leaves the run's URL out when the run is not known", async () => {
    const stub = await startGitHubStub({ token: env.GITHUB_TOKEN });
    stubs.push(stub);
    const channel = githubFromEnv({
      ...env,
      GITHUB_API_URL: stub.url,
      GITHUB_SERVER_URL: "https://github.com",
    });
    await channel.publish(
      sampleSummary({
        e2e: {
          passed: 1,
          failed: 0,
          skipped: 0,
          durationMs: 1,
          reportDir: "r",
          screenshots: ["a.png"],
        },
      }),
    );
    expect(stub.comments(REPO, 7)[0]!.body).toContain(
      "(screenshots are in the e2e-report artifact)",
    );
  });
});

describe("the GitHub stub", () => {
  describe("deployments, as GitHub answers them", () => {
    async function api() {
      const stub = await startGitHubStub();
      stubs.push(stub);
      const call = async (method: string, path: string, body?: unknown) => {
        const response = await fetch(`${stub.url}/repos/${REPO}${path}`, {
          method,
          headers: { authorization: `token ${stub.token}`, "content-type": "application/json" },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return {
          status: response.status,
          json: (await response.json()) as Record<string, unknown>,
        };
      };
      return { stub, call };
    }
    const create = { ref: "main", auto_merge: false, required_contexts: [] };

    it("merges the default branch first (202, no deployment) unless auto_merge is false", async () => {
      const { stub, call } = await api();
      const merged = await call("POST", "/deployments", { ref: "feature", required_contexts: [] });
      expect(merged.status).toBe(202);
      expect(merged.json.message).toMatch(/^Auto-merged main into feature/);
      expect(stub.deployments(REPO)).toEqual([]);
    });

    it("refuses (409) while the commit's checks are not green unless required_contexts is []", async () => {
      const { stub, call } = await api();
      const refused = await call("POST", "/deployments", { ref: "main", auto_merge: false });
      expect(refused.status).toBe(409);
      expect(refused.json.message).toMatch(/Commit status checks failed/);
      // GitHub answers this 409 with its usual { message, documentation_url }, which the
      // OpenAPI document lists without a body: the one gap the contract check reports here.
      expect(stub.violations.splice(0).flatMap((v) => v.errors)).toEqual([
        "status 409 is documented without a body",
      ]);
    });

    it("needs a ref, a known state and short descriptions (422), and a known deployment (404)", async () => {
      const { stub, call } = await api();
      expect((await call("POST", "/deployments", { auto_merge: false })).status).toBe(422);
      const long = { ...create, description: "x".repeat(141) };
      expect((await call("POST", "/deployments", long)).status).toBe(422);
      const { json } = await call("POST", "/deployments", create);
      expect(json.environment).toBe("production");
      expect(json.production_environment).toBe(true);
      const statuses = `/deployments/${String(json.id)}/statuses`;
      expect((await call("POST", statuses, { state: "done" })).status).toBe(422);
      expect((await call("POST", "/deployments/999/statuses", { state: "success" })).status).toBe(
        404,
      );
      // The requests above that GitHub refuses are the contract check's findings too.
      expect(stub.violations.splice(0).flatMap((v) => v.errors)).toEqual(
        expect.arrayContaining([
          "body must have required property 'ref'",
          expect.stringMatching(/^body\/state must be equal to one of the allowed values/),
        ]),
      );
      expect((await call("POST", statuses, { state: "success" })).status).toBe(201);
      const listed = await call("GET", statuses);
      expect(listed.json).toMatchObject([{ state: "success" }]);
    });

    it("lists deployments newest first, filtered by environment", async () => {
      const { call } = await api();
      await call("POST", "/deployments", { ...create, environment: "preview-1" });
      await call("POST", "/deployments", { ...create, environment: "preview-2" });
      await call("POST", "/deployments", { ...create, environment: "preview-1", ref: "b" });
      const { json } = await call("GET", "/deployments?environment=preview-1");
      expect((json as unknown as { ref: string }[]).map((d) => d.ref)).toEqual(["b", "main"]);
    });

    it("a success sets the environment's earlier successful deployments inactive, unless transient or production", async () => {
      const { stub, call } = await api();
      const make = async (extra: object) => {
        const { json } = await call("POST", "/deployments", { ...create, ...extra });
        await call("POST", `/deployments/${String(json.id)}/statuses`, { state: "success" });
      };
      await make({ environment: "staging" });
      await make({ environment: "staging" });
      await make({ environment: "preview-3", transient_environment: true });
      await make({ environment: "preview-3", transient_environment: true });
      const byEnvironment = (name: string) =>
        stub
          .deployments(REPO)
          .filter((d) => d.environment === name)
          .map((d) => d.statuses.map((x) => x.state));
      expect(byEnvironment("staging")).toEqual([["success", "inactive"], ["success"]]);
      expect(byEnvironment("preview-3")).toEqual([["success"], ["success"]]);
    });
  });

  it("accepts Bearer auth and answers a wrong token with GitHub's 401 JSON", async () => {
    const stub = await startGitHubStub();
    stubs.push(stub);
    const list = `${stub.url}/repos/${REPO}/issues/7/comments`;
    const ok = await fetch(list, { headers: { authorization: `Bearer ${stub.token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual([]);
    const wrong = await fetch(list, { headers: { authorization: "token nope" } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({
      message: "Bad credentials",
      documentation_url: "https://docs.github.com/rest",
      status: "401",
    });
    const none = await fetch(list);
    expect(none.status).toBe(401);
  });

  it("paginates like GitHub, with prev, next, last and first links", async () => {
    const stub = await startGitHubStub();
    stubs.push(stub);
    stub.seedComments(
      REPO,
      7,
      Array.from({ length: 5 }, (_, i) => `c${i}`),
    );
    const page = await fetch(`${stub.url}/repos/${REPO}/issues/7/comments?per_page=2&page=2`, {
      headers: { authorization: `token ${stub.token}` },
    });
    const comments = (await page.json()) as { body: string; user: { login: string } }[];
    expect(comments.map((c) => c.body)).toEqual(["c2", "c3"]);
    expect(comments[0]!.user.login).toBe("octocat");
    const link = page.headers.get("link") ?? "";
    for (const rel of ["prev", "next", "last", "first"]) expect(link).toContain(`rel="${rel}"`);
    expect(link).toMatch(/page=3>; rel="next"/);
  });
});

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}
