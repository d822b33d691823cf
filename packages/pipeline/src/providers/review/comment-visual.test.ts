import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { Summary, VisualReport } from "../../core/summary";
import { commentBody } from "./github";
import { APPROVAL_MARKER, withPublishedReport } from "./render";

const GOLDEN = resolve(fileURLToPath(new URL("../../../test/golden", import.meta.url)));
// Built by concatenation so that no scanner mistakes the fixture for a real credential.
const SECRET = "npg_" + "VisualS3cr3tValue";
const REPORT = "https://codex-report-preview-12.codex-stub.workers.dev";
const RUN = "https://github.com/acme/app/actions/runs/42";

function visual(overrides: Partial<VisualReport> = {}): VisualReport {
  const shot = (side: string, name: string) => `e2e/visual/${side}/${name}.png`;
  const images = (name: string) => ({
    preview: shot("preview", name),
    production: shot("production", name),
    diff: shot("diff", name),
  });
  return {
    baseline: "codex-0a1b2c3d4e5f-20250501T120000000Z",
    threshold: 0.001,
    pages: [
      {
        page: "pricing",
        viewport: "desktop",
        status: "changed",
        ratio: 0.0321,
        ...images("pricing-desktop"),
      },
      {
        page: "pricing",
        viewport: "phone",
        status: "changed",
        ratio: 0.0042,
        ...images("pricing-phone"),
      },
      {
        page: "home",
        viewport: "desktop",
        status: "unchanged",
        ratio: 0,
        ...images("home-desktop"),
      },
      {
        page: "home",
        viewport: "phone",
        status: "unchanged",
        ratio: 0.0002,
        ...images("home-phone"),
      },
      {
        page: "account (pro)",
        viewport: "desktop",
        status: "unchanged",
        ratio: 0,
        ...images("account-pro-desktop"),
      },
      {
        page: "members",
        viewport: "desktop",
        status: "added",
        preview: shot("preview", "members-desktop"),
      },
      {
        page: "legacy | <b>old</b>",
        viewport: "desktop",
        status: "removed",
        production: shot("production", "legacy-desktop"),
      },
      {
        page: `login ${SECRET}`,
        viewport: "phone",
        status: "changed",
        ratio: 0.5,
        ...images("login-phone"),
      },
    ],
    approval: { state: "pending" },
    ...overrides,
  };
}

function summary(overrides: Partial<Summary> = {}): Summary {
  return {
    environment: "preview-12",
    target: "cloud",
    status: "deployed",
    urls: {
      web: "https://codex-web-preview-12.codex-stub.workers.dev",
      auth: "https://auth-worker-preview-12.codex-stub.workers.dev",
      webhook: "https://stripe-webhook-handler-preview-12.codex-stub.workers.dev",
    },
    database: { branch: "pr-12", migrationsApplied: [], migrationsTotal: 4 },
    version: "codex-0a1b2c3d4e5f-20250502T120000000Z",
    commit: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
    steps: [
      { name: "build and deploy the three Workers", status: "ok", durationMs: 61_000 },
      {
        name: "e2e against the preview",
        status: "ok",
        durationMs: 48_000,
        detail: "31 passed, 0 failed",
      },
      { name: "publish the report", status: "ok", durationMs: 9_000, detail: REPORT },
    ],
    testsSkipped: true,
    e2e: {
      passed: 31,
      failed: 0,
      skipped: 0,
      durationMs: 48_000,
      reportDir: "e2e/html/index.html",
      screenshots: ["e2e/screenshots/home-desktop.png"],
    },
    visual: visual(),
    reportUrl: REPORT,
    updatedAt: "2025-05-02T12:00:00.000Z",
    ...overrides,
  };
}

const body = (s: Summary) =>
  commentBody(s, { secrets: [SECRET], runUrl: RUN, checksUrl: `${RUN}/checks` });

describe("the sticky comment's visual section", () => {
  it("embeds the published images by URL, grouped by page and viewport (golden file)", async () => {
    const text = body(summary());
    await expect(text).toMatchFileSnapshot(resolve(GOLDEN, "comment-visual.md"));
    // What the golden file must show, so that an accepted snapshot cannot hide a regression.
    expect(text).toContain(
      `<a href="${REPORT}/e2e/visual/diff/pricing-desktop.png"><img src="${REPORT}/e2e/visual/diff/pricing-desktop.png" width="240"`,
    );
    expect(text).toContain(`[Playwright report](${REPORT}/e2e/html/index.html)`);
    expect(text).toMatch(/<details><summary>3 unchanged<\/summary>/);
    expect(text).toContain("3.2%");
    expect(text).toContain("0.42%");
    // The marker ends the line, so that GitHub renders the line as Markdown, not as an HTML block.
    expect(text).toMatch(
      /^\*\*Approval:\*\* ⏳ waiting for approval.* <!-- codex-visual-approval -->$/m,
    );
    expect(text).toContain(APPROVAL_MARKER);
    expect(text).toContain("**Added** (not in production): [members (desktop)]");
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain("<b>old</b>");
    // Only the run's own images: no relative path is left to resolve against github.com.
    for (const src of text.matchAll(/<img src="([^"]+)"/g)) expect(src[1]).toMatch(/^https:\/\//);
    expect(text.length).toBeLessThan(10_000);
  });

  it("shows the approval, and a report with nothing changed as needing none", () => {
    const approved = body(
      summary({ visual: visual({ approval: { state: "approved", by: "octocat" } }) }),
    );
    expect(approved).toContain(`**Approval:** ✅ approved by octocat ${APPROVAL_MARKER}`);
    const calm = body(
      summary({
        visual: visual({
          pages: visual().pages.map((p) => ({ ...p, status: "unchanged" as const, ratio: 0 })),
          approval: { state: "not-needed" },
        }),
      }),
    );
    expect(calm).toContain("**0 of 8 page views changed**");
    expect(calm).toContain("✅ no change to approve");
    expect(calm).not.toContain("<img");
  });

  it("without a published report, shows no image and points at the run's artifact", () => {
    const { reportUrl: _none, ...unpublished } = summary();
    const text = body(unpublished);
    expect(text).not.toContain("<img");
    expect(text).toContain(`${RUN}#artifacts`);
    expect(text).toContain("3.2%");
  });

  it("without a visual report, folds the published screenshots into one line", () => {
    const { visual: _none, ...plain } = summary();
    const text = body(plain);
    expect(text).toContain("<details><summary>1 screenshot(s)</summary>");
    expect(text).toContain(`<img src="${REPORT}/e2e/screenshots/home-desktop.png"`);
  });
});

describe("withPublishedReport", () => {
  it("maps every e2e and visual path onto the report Worker, and nothing outside it", () => {
    const mapped = withPublishedReport(
      summary({
        e2e: {
          ...summary().e2e!,
          screenshots: [
            "e2e/a b.png",
            "../outside.png",
            "/abs/x.png",
            "https://elsewhere.test/y.png",
          ],
        },
      }),
    );
    expect(mapped.e2e?.reportDir).toBe(`${REPORT}/e2e/html/index.html`);
    expect(mapped.e2e?.screenshots).toEqual([
      `${REPORT}/e2e/a%20b.png`,
      "../outside.png",
      "/abs/x.png",
      "https://elsewhere.test/y.png",
    ]);
    expect(mapped.visual?.pages[0]?.diff).toBe(`${REPORT}/e2e/visual/diff/pricing-desktop.png`);
    const { reportUrl: _none, ...local } = summary();
    expect(withPublishedReport(local)).toEqual(local);
  });
});
