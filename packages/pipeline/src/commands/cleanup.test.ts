import { afterEach, describe, expect, it } from "vitest";
import { previewEnvironment } from "../core/environments";
import { PipelineError } from "../errors";
import { GitHubReviewChannel } from "../providers/review/github";
import { startGitHubStub, type GitHubStub } from "../testing/stubs/github";
import { keepOpen, parseAge } from "./cleanup";

const REPO = "acme/app";
const stubs: GitHubStub[] = [];
afterEach(async () => {
  await Promise.all(stubs.splice(0).map((s) => s.close()));
});

/** The cloud target's answer, from GitHub's "Get a pull request" on the stub. */
async function cloudWithGitHub() {
  const github = await startGitHubStub();
  stubs.push(github);
  const channel = new GitHubReviewChannel({
    token: github.token,
    repository: REPO,
    baseUrl: github.url,
    warn: () => {},
  });
  return {
    github,
    ctx: {
      target: "cloud" as const,
      pullRequestState: (pr: number) => channel.pullRequestState(pr),
    },
  };
}

describe("the stale sweep and open pull requests", () => {
  it("keeps an open PR's old preview unless --include-open; sweeps a closed or vanished one", async () => {
    const { github, ctx } = await cloudWithGitHub();
    github.setPullRequest(REPO, 5, "open");
    github.setPullRequest(REPO, 6, "closed");
    expect(await keepOpen(ctx, previewEnvironment(5), false)).toMatch(
      /pull request #5 is open \(--include-open sweeps/,
    );
    expect(await keepOpen(ctx, previewEnvironment(5), true)).toBeUndefined();
    expect(await keepOpen(ctx, previewEnvironment(6), false)).toBeUndefined();
    // GitHub answers 404 for a pull request that is gone.
    expect(await keepOpen(ctx, previewEnvironment(7), false)).toBeUndefined();
    const asked = github.requests.filter((r) => r.method === "GET").map((r) => r.path);
    expect(asked).toEqual([
      `/repos/${REPO}/pulls/5`,
      `/repos/${REPO}/pulls/6`,
      `/repos/${REPO}/pulls/7`,
    ]);
  });

  it("keeps every preview when the cloud cannot ask GitHub; the local target goes by age", async () => {
    const cloud = { target: "cloud" as const, pullRequestState: undefined };
    expect(await keepOpen(cloud, previewEnvironment(5), false)).toMatch(
      /state of pull request #5 is unknown \(set GITHUB_TOKEN and GITHUB_REPOSITORY, or pass --include-open\)/,
    );
    expect(await keepOpen(cloud, previewEnvironment(5), true)).toBeUndefined();
    const local = { target: "local" as const, pullRequestState: undefined };
    expect(await keepOpen(local, previewEnvironment(5), false)).toBeUndefined();
  });

  it("sweeps nothing when GitHub refuses the question, and says why", async () => {
    const { github, ctx } = await cloudWithGitHub();
    github.forbid(403);
    const error = await keepOpen(ctx, previewEnvironment(5), false).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).message).toMatch(
      /could not ask GitHub whether pull request #5/,
    );
    expect((error as PipelineError).hint).toMatch(/pull-requests: read/);
    expect((error as PipelineError).message).not.toContain(github.token);
  });

  it("parses --older-than", () => {
    expect(parseAge("7d")).toBe(7 * 86_400_000);
    expect(() => parseAge("soon")).toThrow(/--older-than must look like/);
  });
});
