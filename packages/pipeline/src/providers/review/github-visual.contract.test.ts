import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Summary, VisualReport } from "../../core/summary";
import { PipelineError } from "../../errors";
import {
  ACTIONS_BOT,
  PERSON,
  startGitHubStub,
  type GitHubStub,
  type StubUser,
} from "../../testing/stubs/github";
import { GitHubReviewChannel } from "./github";
import { VISUAL_CONTEXT } from "./github-visual";
import { SUMMARY_MARKER } from "./shared";

const REPO = "acme/app";
const PR = 12;
const REPORT = "https://codex-report-preview-12.codex-stub.workers.dev";
const HEAD_1 = "1".repeat(40);
const HEAD_2 = "2".repeat(40);
const MALLORY: StubUser = { login: "mallory", id: 666, type: "User" };

function visual(changed: boolean): VisualReport {
  return {
    baseline: "v41",
    threshold: 0.001,
    pages: [
      {
        page: "pricing",
        viewport: "desktop",
        status: changed ? "changed" : "unchanged",
        ratio: changed ? 0.03 : 0,
        preview: "e2e/visual/preview/pricing-desktop.png",
        production: "e2e/visual/production/pricing-desktop.png",
        diff: "e2e/visual/diff/pricing-desktop.png",
      },
      { page: "home", viewport: "desktop", status: "unchanged", ratio: 0 },
    ],
  };
}

function summary(commit: string, changed: boolean): Summary {
  return {
    environment: `preview-${PR}`,
    target: "cloud",
    status: "deployed",
    urls: null,
    database: null,
    steps: [],
    commit,
    visual: visual(changed),
    reportUrl: REPORT,
    updatedAt: "2025-05-02T12:00:00.000Z",
  };
}

async function failure(promise: Promise<unknown>): Promise<PipelineError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PipelineError);
  return error as PipelineError;
}

describe("the codex/visual commit status and its approval, against the GitHub stub", () => {
  let stub: GitHubStub;
  let channel: GitHubReviewChannel;
  const warnings: string[] = [];

  beforeAll(async () => {
    stub = await startGitHubStub();
    channel = new GitHubReviewChannel({
      token: stub.token,
      repository: REPO,
      baseUrl: stub.url,
      warn: (line) => warnings.push(line),
    });
    stub.setPermission(REPO, PERSON.login, "write");
    stub.setPermission(REPO, MALLORY.login, "triage");
  });
  afterAll(async () => {
    await stub?.close();
  });

  const visualStatuses = (sha: string) =>
    stub.commitStatuses(REPO, sha).filter((s) => s.context === VISUAL_CONTEXT);
  const comment = () =>
    stub.comments(REPO, PR).find((c) => c.body.startsWith(SUMMARY_MARKER(`preview-${PR}`)));
  const approve = () => channel.approveVisual(PR);

  it("goes pending on a visual change, linking to the sticky comment", async () => {
    stub.setPullRequest(REPO, PR, "open", HEAD_1);
    await channel.publish(summary(HEAD_1, true));
    const [status, ...more] = visualStatuses(HEAD_1);
    expect(more).toEqual([]);
    expect(status?.state).toBe("pending");
    expect(status?.description).toBe(
      "1 page view changed against production: a reviewer with write access comments /codex approve-visual",
    );
    expect(status?.target_url).toBe(comment()?.html_url);
    expect(comment()?.body).toContain("⏳ waiting for approval");
    expect(comment()?.body).toContain(`<img src="${REPORT}/e2e/visual/diff/pricing-desktop.png"`);
    expect(warnings).toEqual([]);
  });

  it("refuses an approval without a comment, by a bot, or by someone without write access", async () => {
    expect((await failure(approve())).message).toContain(
      "no /codex approve-visual comment by a person was found",
    );
    stub.seedComments(REPO, PR, ["/codex approve-visual"], ACTIONS_BOT);
    expect((await failure(approve())).message).toContain("no /codex approve-visual comment");
    stub.seedComments(REPO, PR, ["/codex approve-visual"], MALLORY);
    const refused = await failure(approve());
    expect(refused.message).toContain("mallory has read access: approving needs write access");
    expect(refused.kind).toBe("user");
    expect(visualStatuses(HEAD_1).map((s) => s.state)).toEqual(["pending"]);
  });

  it("goes green after a reviewer with write access approves, and the comment says who", async () => {
    const [approval] = stub.seedComments(REPO, PR, ["/codex approve-visual\nlooks right"], PERSON);
    expect(await approve()).toEqual({ sha: HEAD_1, by: "octocat", already: false });
    const latest = visualStatuses(HEAD_1).at(-1);
    expect(latest?.state).toBe("success");
    expect(latest?.description).toBe("Approved by octocat (/codex approve-visual)");
    expect(latest?.target_url).toBe(approval?.html_url);
    expect(comment()?.body).toContain("✅ approved by octocat");
    // Again: nothing more to do. A re-deploy of the same commit keeps the approval.
    expect(await approve()).toEqual({ sha: HEAD_1, by: "octocat", already: true });
    await channel.publish(summary(HEAD_1, true));
    expect(visualStatuses(HEAD_1).map((s) => s.state)).toEqual(["pending", "success"]);
    expect(comment()?.body).toContain("✅ approved by octocat");
  });

  it("a new push is pending again, and an approval from before it does not count", async () => {
    stub.setPullRequest(REPO, PR, "open", HEAD_2);
    expect((await failure(approve())).message).toContain(
      `the head commit 2222222 of pull request #${PR} of ${REPO} has no codex/visual status yet`,
    );
    await channel.publish(summary(HEAD_2, true));
    expect(visualStatuses(HEAD_2).map((s) => s.state)).toEqual(["pending"]);
    expect(comment()?.body).toContain("⏳ waiting for approval");
    expect((await failure(approve())).message).toContain("is older than the codex/visual status");
    stub.seedComments(REPO, PR, ["/codex approve-visual"], PERSON);
    expect(await approve()).toMatchObject({ sha: HEAD_2, by: "octocat", already: false });
    expect(visualStatuses(HEAD_2).map((s) => s.state)).toEqual(["pending", "success"]);
    // The first commit's statuses are its own.
    expect(visualStatuses(HEAD_1).map((s) => s.state)).toEqual(["pending", "success"]);
  });

  it("is green at once when nothing changed", async () => {
    const head = "3".repeat(40);
    stub.setPullRequest(REPO, PR, "open", head);
    await channel.publish(summary(head, false));
    expect(visualStatuses(head).map((s) => [s.state, s.description])).toEqual([
      ["success", "No visual change against production"],
    ]);
    expect(comment()?.body).toContain("✅ no change to approve");
    expect(warnings).toEqual([]);
  });

  it("refuses an approval on a closed pull request", async () => {
    stub.setPullRequest(REPO, PR, "closed");
    expect((await failure(approve())).message).toContain(
      `pull request #${PR} of ${REPO} is closed`,
    );
  });
});
