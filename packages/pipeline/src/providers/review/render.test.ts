import { describe, expect, it } from "vitest";
import {
  formatTestCounts,
  renderHtml,
  renderMarkdown,
  renderVisualHtml,
  renderVisualMarkdown,
} from "./render";
import { type Summary, type VisualReport } from "../../core/summary";
import { SUMMARY_MARKER } from "./shared";

// Built by concatenation so that no scanner mistakes the fixtures for real credentials.
const SECRET = "npg_" + "S3cr3tV4lu3xyz";

function summary(overrides: Partial<Summary> = {}): Summary {
  return {
    environment: "preview-12",
    target: "local",
    status: "deployed",
    urls: {
      web: "http://pr-12.localhost:8787",
      auth: "http://auth-pr-12.localhost:8787",
      webhook: "http://stripe-webhook-pr-12.localhost:8787",
    },
    database: {
      branch: "pr-12",
      migrationsApplied: ["0003_add_plans", "0004_add_entitlements"],
      migrationsTotal: 4,
    },
    version: "v3",
    commit: "0a1b2c3",
    steps: [
      { name: "branch", status: "ok", durationMs: 850 },
      { name: "migrate", status: "ok", durationMs: 1234, detail: "2 migrations applied" },
      { name: "deploy", status: "ok", durationMs: 12_345 },
    ],
    tests: { passed: 42, failed: 0, skipped: 1, durationMs: 12_300 },
    e2e: {
      passed: 5,
      failed: 0,
      skipped: 0,
      durationMs: 30_100,
      reportDir: "e2e/report",
      screenshots: ["e2e/screenshots/home-page.png", "e2e/screenshots/checkout_done.png"],
    },
    updatedAt: "2025-05-01T12:34:56.789Z",
    ...overrides,
  };
}

/** The Markdown between a "### heading" and the next one (or the end). */
function mdSection(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n### ${heading}\n`);
  expect(start, `section ${heading}`).toBeGreaterThanOrEqual(0);
  const rest = markdown.slice(start + heading.length + 6);
  const end = rest.search(/\n### |\nUpdated /);
  return (end === -1 ? rest : rest.slice(0, end)).trim();
}

/** The HTML of the <section> whose heading has this id prefix. */
function htmlSection(html: string, id: string): string {
  const match = new RegExp(`<section aria-labelledby="${id}-heading">([\\s\\S]*?)</section>`).exec(
    html,
  );
  expect(match, `section ${id}`).not.toBeNull();
  return match![1]!;
}

describe("formatTestCounts", () => {
  it("says passed, failed, skipped and the time", () => {
    expect(formatTestCounts({ passed: 42, failed: 0, skipped: 1, durationMs: 12_300 })).toBe(
      "42 passed, 0 failed, 1 skipped in 12.3 s",
    );
  });

  it("counts errors outside the tests, which no test count shows", () => {
    expect(
      formatTestCounts({ passed: 0, failed: 0, skipped: 0, errors: 1, durationMs: 2_600 }),
    ).toBe("0 passed, 0 failed, 0 skipped, 1 error(s) outside the tests in 2.6 s");
  });
});

describe("SUMMARY_MARKER", () => {
  it("keeps valid environment names as they are", () => {
    expect(SUMMARY_MARKER("preview-12")).toBe("<!-- codex-preview:preview-12 -->");
    expect(SUMMARY_MARKER("production")).toBe("<!-- codex-preview:production -->");
  });

  it("cannot be closed early or split by an odd name", () => {
    const marker = SUMMARY_MARKER("x -->\n<script>\uD800");
    expect(marker).toBe("<!-- codex-preview:x%20--%3E%0A%3Cscript%3E%D800 -->");
    expect(marker.indexOf("-->")).toBe(marker.length - 3);
  });
});

describe("renderMarkdown", () => {
  it("begins with the marker line, then the heading", () => {
    const lines = renderMarkdown(summary()).split("\n");
    expect(lines[0]).toBe("<!-- codex-preview:preview-12 -->");
    expect(lines[1]).toBe("## Preview preview-12 — deployed");
  });

  it.each([
    [{ status: "failed" } as const, "## Preview preview-12 — failed"],
    [{ status: "deleted" } as const, "## Preview preview-12 — deleted"],
    [{ status: "in-progress" } as const, "## Preview preview-12 — in progress"],
    [{ environment: "production" }, "## Environment production — deployed"],
  ])("heads %o with a plain word", (overrides, heading) => {
    const markdown = renderMarkdown(summary(overrides));
    expect(markdown.split("\n")[1]).toBe(heading);
    expect(markdown).toMatch(new RegExp(`^${SUMMARY_MARKER(summary(overrides).environment)}\n`));
  });

  it("tabulates the URLs as links", () => {
    expect(mdSection(renderMarkdown(summary()), "URLs")).toBe(
      [
        "| Service | URL |",
        "| --- | --- |",
        "| web | [http://pr-12.localhost:8787](http://pr-12.localhost:8787/) |",
        "| auth | [http://auth-pr-12.localhost:8787](http://auth-pr-12.localhost:8787/) |",
        "| webhook | [http://stripe-webhook-pr-12.localhost:8787](http://stripe-webhook-pr-12.localhost:8787/) |",
      ].join("\n"),
    );
  });

  it("does not link a URL that is not http(s)", () => {
    const urls = { web: "javascript:alert(1)", auth: "http://a", webhook: "http://w" };
    const section = mdSection(renderMarkdown(summary({ urls })), "URLs");
    expect(section).toContain("| web | `javascript:alert(1)` |");
    expect(section).not.toContain("](javascript");
  });

  it("shows the database branch and the migrations applied", () => {
    expect(mdSection(renderMarkdown(summary()), "Database")).toBe(
      "Branch `pr-12`  \nMigrations applied: `0003_add_plans`, `0004_add_entitlements` (4 in total)",
    );
  });

  it('says "none pending" when no migration was applied', () => {
    const database = { branch: "pr-12", migrationsApplied: [], migrationsTotal: 4 };
    expect(mdSection(renderMarkdown(summary({ database })), "Database")).toBe(
      "Branch `pr-12`  \nMigrations: none pending (4 in total)",
    );
  });

  it("shows the old-code check's verdict in the Schema section, in Markdown and HTML", () => {
    const schema: Summary["schema"] = {
      pending: ["0005_users_public_name"],
      lint: [],
      diff: [],
      gate: { status: "skipped", detail: "not checked" },
      oldCode: {
        status: "refused",
        version: "v2",
        detail:
          "v2 does not survive the schema: auth-worker-production: users by email (login) failed: column users.display_name does not exist (SQLSTATE 42703)",
      },
    };
    expect(mdSection(renderMarkdown(summary({ schema })), "Schema")).toContain(
      "**Old code on the new schema:** refused — `v2 does not survive the schema: auth-worker-production: users by email (login) failed: column users.display_name does not exist (SQLSTATE 42703)` (`v2`)",
    );
    expect(htmlSection(renderHtml(summary({ schema })), "schema")).toContain(
      "<strong>Old code on the new schema:</strong> refused — <code>v2 does not survive the schema: auth-worker-production: users by email (login) failed: column users.display_name does not exist (SQLSTATE 42703)</code>",
    );
    // No verdict, no line.
    expect(renderMarkdown(summary())).not.toContain("Old code on the new schema");
  });

  it("tabulates the steps with their status, duration and detail", () => {
    const steps: Summary["steps"] = [
      { name: "branch", status: "ok", durationMs: 850 },
      { name: "migrate", status: "ok", durationMs: 1234, detail: "2 migrations applied" },
      { name: "smoke", status: "failed", durationMs: 61_000, detail: "HTTP 502 from /healthz" },
      { name: "e2e", status: "skipped", durationMs: 0 },
      { name: "deploy", status: "running", durationMs: 4_000 },
    ];
    expect(mdSection(renderMarkdown(summary({ steps })), "Steps")).toBe(
      [
        "| Step | Status | Duration | Detail |",
        "| --- | --- | --- | --- |",
        "| branch | ok | 850 ms |  |",
        "| migrate | ok | 1.2 s | `2 migrations applied` |",
        "| smoke | failed | 1 min 1 s | `HTTP 502 from /healthz` |",
        "| e2e | skipped | – |  |",
        "| deploy | running | 4.0 s |  |",
      ].join("\n"),
    );
  });

  it("says when there are no steps yet", () => {
    expect(mdSection(renderMarkdown(summary({ steps: [] })), "Steps")).toBe("No steps yet.");
  });

  it("reports unit tests and end-to-end tests with the report link and the screenshots", () => {
    expect(mdSection(renderMarkdown(summary()), "Tests")).toBe(
      [
        "**Unit and integration:** 42 passed, 0 failed, 1 skipped in 12.3 s",
        "**End-to-end:** 5 passed, 0 failed, 0 skipped in 30.1 s · [Playwright report](e2e/report/index.html)",
        "![home page](e2e/screenshots/home-page.png)",
        "![checkout done](e2e/screenshots/checkout_done.png)",
      ].join("\n\n"),
    );
  });

  it("says plainly that tests were skipped with --skip-tests, or not run", () => {
    const skipped = mdSection(
      renderMarkdown(summary({ tests: undefined, testsSkipped: true })),
      "Tests",
    );
    expect(skipped).toContain("**Unit and integration:** Skipped (--skip-tests)");
    const notRun = mdSection(
      renderMarkdown(summary({ tests: undefined, e2e: undefined })),
      "Tests",
    );
    expect(notRun).toBe("**Unit and integration:** Not run\n\n**End-to-end:** Not run");
  });

  it("gives the reason for skipped tests", () => {
    const tests = {
      passed: 3,
      failed: 0,
      skipped: 2,
      durationMs: 900,
      skipped_reason: "no Stripe key",
    };
    expect(mdSection(renderMarkdown(summary({ tests })), "Tests")).toContain(
      "**Unit and integration:** 3 passed, 0 failed, 2 skipped in 900 ms (skipped: `no Stripe key`)",
    );
  });

  it("links a report given as a URL as it is, and an .html report file directly", () => {
    const e2e = { ...summary().e2e!, reportDir: "https://ci.example.com/run/7/report/" };
    expect(renderMarkdown(summary({ e2e }))).toContain(
      "[Playwright report](https://ci.example.com/run/7/report/)",
    );
    const file = { ...summary().e2e!, reportDir: "e2e/report/index.html" };
    expect(renderMarkdown(summary({ e2e: file }))).toContain(
      "[Playwright report](e2e/report/index.html)",
    );
  });

  it("encodes screenshot paths so that spaces and brackets cannot end the link", () => {
    const e2e = {
      ...summary().e2e!,
      screenshots: [
        "shots/my page (1).png",
        "shots\\win.png",
        "//evil.example/x.png",
        "javascript:alert(1)",
      ],
    };
    const markdown = renderMarkdown(summary({ e2e }));
    expect(markdown).toContain("![my page (1)](shots/my%20page%20%281%29.png)");
    expect(markdown).toContain("![win](shots/win.png)");
    // Neither a protocol-relative URL to another host nor a script URL survives.
    expect(markdown).toContain("![x](/evil.example/x.png)");
    expect(markdown).toContain("![javascript:alert(1)](javascript%3Aalert%281%29)");
  });

  it("shows the error first when the command failed", () => {
    const markdown = renderMarkdown(
      summary({ status: "failed", error: "Smoke check failed: GET / returned 502." }),
    );
    expect(mdSection(markdown, "Error")).toBe(
      "```text\nSmoke check failed: GET / returned 502.\n```",
    );
    expect(markdown.indexOf("### Error")).toBeLessThan(markdown.indexOf("### URLs"));
  });

  it("has an error section for a failure without a reason, and none for a success", () => {
    expect(mdSection(renderMarkdown(summary({ status: "failed" })), "Error")).toContain(
      "No reason was recorded.",
    );
    expect(renderMarkdown(summary())).not.toContain("### Error");
  });

  it("renders a deleted environment without URLs or database", () => {
    const markdown = renderMarkdown(
      summary({
        status: "deleted",
        urls: null,
        database: null,
        tests: undefined,
        e2e: undefined,
        steps: [{ name: "delete workers", status: "ok", durationMs: 2100 }],
      }),
    );
    expect(mdSection(markdown, "URLs")).toBe("None: the environment was deleted.");
    expect(mdSection(markdown, "Database")).toBe("None: the environment was deleted.");
    expect(mdSection(markdown, "Steps")).toContain("| delete workers | ok | 2.1 s |  |");
  });

  it("renders an environment in progress", () => {
    const markdown = renderMarkdown(
      summary({
        status: "in-progress",
        urls: null,
        database: null,
        tests: undefined,
        e2e: undefined,
        steps: [
          { name: "branch", status: "ok", durationMs: 400 },
          { name: "migrate", status: "running", durationMs: 1500 },
        ],
      }),
    );
    expect(mdSection(markdown, "URLs")).toBe("Not available yet.");
    expect(mdSection(markdown, "Database")).toBe("Not available yet.");
    expect(mdSection(markdown, "Steps")).toContain("| migrate | running | 1.5 s |  |");
    expect(markdown).not.toContain("### Error");
  });

  it("ends with the update time, target, version and commit", () => {
    const last = renderMarkdown(summary()).trimEnd().split("\n").pop();
    expect(last).toBe(
      "Updated 2025-05-01 12:34:56 UTC · target local · version v3 · commit 0a1b2c3",
    );
    const bare = renderMarkdown(
      summary({ version: undefined, commit: undefined, target: "cloud" }),
    );
    expect(bare.trimEnd().split("\n").pop()).toBe("Updated 2025-05-01 12:34:56 UTC · target cloud");
  });

  it("escapes Markdown and HTML in names so that nothing is rendered from them", () => {
    const markdown = renderMarkdown(
      summary({
        environment: '<script>alert("x")</script>',
        steps: [{ name: "a|b *c* [d](e) <img src=x>", status: "ok", durationMs: 1 }],
      }),
    );
    expect(markdown).not.toMatch(/(?<!\\)<(script|img)/);
    expect(markdown).toContain('## Environment \\<script\\>alert("x")\\</script\\> — deployed');
    expect(markdown).toContain("| a\\|b \\*c\\* \\[d\\](e) \\<img src=x\\> | ok | 1 ms |  |");
  });

  it("keeps free text in code, where pipes, backticks and mentions are inert", () => {
    const detail = "Cannot find `@codex/database` | <b>x</b>\nsecond line";
    const markdown = renderMarkdown(
      summary({ steps: [{ name: "build", status: "failed", durationMs: 5, detail }] }),
    );
    expect(markdown).toContain(
      "| build | failed | 5 ms | ``Cannot find `@codex/database` \\| <b>x</b> second line`` |",
    );
  });

  it("pads a code span whose text starts or ends with a backtick", () => {
    const markdown = renderMarkdown(
      summary({ steps: [{ name: "lint", status: "ok", durationMs: 5, detail: "`x`" }] }),
    );
    expect(markdown).toContain("| lint | ok | 5 ms | `` `x` `` |");
  });

  it("fences the error with more backticks than it contains", () => {
    const error = "bad input:\n```\n# not a heading\n```";
    expect(mdSection(renderMarkdown(summary({ status: "failed", error })), "Error")).toBe(
      "````text\nbad input:\n```\n# not a heading\n```\n````",
    );
  });
});

describe("renderHtml", () => {
  it("is a complete document with a language, a title and inline style only", () => {
    const html = renderHtml(summary());
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html.trimEnd().endsWith("</html>")).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain("<title>Preview preview-12 — deployed</title>");
    expect(html).toContain("<style>");
    expect(html).toContain("Content-Security-Policy");
  });

  it("has no scripts and requests nothing from elsewhere", () => {
    const html = renderHtml(summary());
    expect(html).not.toMatch(/<script|<link|<iframe|@import|url\(|\son\w+=/i);
    // Only the three service links point at a host; images and the report are relative.
    const sources = [...html.matchAll(/\ssrc="([^"]*)"/g)].map((m) => m[1]);
    expect(sources).toEqual(["e2e/screenshots/home-page.png", "e2e/screenshots/checkout_done.png"]);
    const hrefs = [...html.matchAll(/\shref="([^"]*)"/g)].map((m) => m[1]);
    expect(hrefs).toEqual([
      "http://pr-12.localhost:8787/",
      "http://auth-pr-12.localhost:8787/",
      "http://stripe-webhook-pr-12.localhost:8787/",
      "e2e/report/index.html",
    ]);
  });

  it("heads the page with the environment and its status", () => {
    expect(renderHtml(summary({ status: "failed" }))).toContain(
      '<h1>Preview preview-12 — <span class="status status-failed">failed</span></h1>',
    );
  });

  it("tabulates the URLs as links, with headers scoped to columns and rows", () => {
    const section = htmlSection(renderHtml(summary()), "urls");
    expect(section).toContain('<h2 id="urls-heading">URLs</h2>');
    expect(section).toContain('<th scope="col">Service</th><th scope="col">URL</th>');
    expect(section).toContain(
      '<tr><th scope="row">web</th><td><a href="http://pr-12.localhost:8787/">http://pr-12.localhost:8787</a></td></tr>',
    );
  });

  it("shows the database branch and migrations", () => {
    const section = htmlSection(renderHtml(summary()), "database");
    expect(section).toContain("<p>Branch <code>pr-12</code></p>");
    expect(section).toContain(
      "<p>Migrations applied: <code>0003_add_plans</code>, <code>0004_add_entitlements</code> (4 in total)</p>",
    );
    const none = { branch: "pr-12", migrationsApplied: [], migrationsTotal: 4 };
    expect(htmlSection(renderHtml(summary({ database: none })), "database")).toContain(
      "<p>Migrations: none pending (4 in total)</p>",
    );
  });

  it("tabulates the steps", () => {
    const steps: Summary["steps"] = [
      { name: "migrate", status: "ok", durationMs: 1234, detail: "2 applied" },
      { name: "smoke", status: "failed", durationMs: 850 },
    ];
    const section = htmlSection(renderHtml(summary({ steps })), "steps");
    expect(section).toContain(
      '<tr><th scope="row">migrate</th><td><span class="status status-ok">ok</span></td><td>1.2 s</td><td><code>2 applied</code></td></tr>',
    );
    expect(section).toContain(
      '<tr><th scope="row">smoke</th><td><span class="status status-failed">failed</span></td><td>850 ms</td><td></td></tr>',
    );
  });

  it("reports the tests and shows the screenshots as images named after their files", () => {
    const section = htmlSection(renderHtml(summary()), "tests");
    expect(section).toContain(
      "<p><strong>Unit and integration:</strong> 42 passed, 0 failed, 1 skipped in 12.3 s</p>",
    );
    expect(section).toContain(
      '<p><strong>End-to-end:</strong> 5 passed, 0 failed, 0 skipped in 30.1 s · <a href="e2e/report/index.html">Playwright report</a></p>',
    );
    expect(section).toContain(
      '<img src="e2e/screenshots/home-page.png" alt="home page" loading="lazy">',
    );
    expect(section).toContain('<img src="e2e/screenshots/checkout_done.png" alt="checkout done"');
    const skipped = renderHtml(summary({ tests: undefined, testsSkipped: true, e2e: undefined }));
    expect(htmlSection(skipped, "tests")).toBe(
      '\n<h2 id="tests-heading">Tests</h2>\n<p><strong>Unit and integration:</strong> Skipped (--skip-tests)</p>\n<p><strong>End-to-end:</strong> Not run</p>\n',
    );
  });

  it("shows the error when failed, and no error section otherwise", () => {
    const failed = renderHtml(summary({ status: "failed", error: "Migration 0004 failed." }));
    expect(htmlSection(failed, "error")).toContain("<pre>Migration 0004 failed.</pre>");
    expect(renderHtml(summary())).not.toContain("error-heading");
  });

  it("renders deleted and in-progress environments", () => {
    const deleted = renderHtml(summary({ status: "deleted", urls: null, database: null }));
    expect(htmlSection(deleted, "urls")).toContain("None: the environment was deleted.");
    expect(htmlSection(deleted, "database")).toContain("None: the environment was deleted.");
    expect(deleted).toContain('<span class="status status-deleted">deleted</span>');
    const running = renderHtml(summary({ status: "in-progress", urls: null, database: null }));
    expect(htmlSection(running, "urls")).toContain("Not available yet.");
    expect(running).toContain('<span class="status status-in-progress">in progress</span>');
  });

  it("ends with the update time as a <time>, the target and the version", () => {
    expect(renderHtml(summary())).toContain(
      '<footer><p>Updated <time datetime="2025-05-01T12:34:56.789Z">2025-05-01 12:34:56 UTC</time> · target local · version v3 · commit 0a1b2c3</p></footer>',
    );
    expect(renderHtml(summary({ updatedAt: "<soon>" }))).toContain(
      "<footer><p>Updated &lt;soon&gt; · target local",
    );
  });

  it("escapes every interpolated string", () => {
    const evil = `<script>alert("x")</script>'"`;
    const html = renderHtml(
      summary({
        environment: evil,
        status: "failed",
        urls: { web: `http://a.test/?q=${evil}`, auth: evil, webhook: "http://w.test" },
        database: { branch: evil, migrationsApplied: [evil], migrationsTotal: 1 },
        version: evil,
        commit: evil,
        steps: [{ name: evil, status: "ok", durationMs: 1, detail: evil }],
        tests: { passed: 1, failed: 0, skipped: 0, durationMs: 1, skipped_reason: evil },
        e2e: {
          passed: 1,
          failed: 0,
          skipped: 0,
          durationMs: 1,
          reportDir: evil,
          screenshots: [`a/${evil}.png`],
        },
        error: evil,
        updatedAt: evil,
      }),
    );
    expect(html).not.toMatch(/<script|<\/script/i);
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&quot;");
    // Every attribute value is double-quoted and contains no raw quote or angle bracket.
    for (const [, value] of html.matchAll(/\s[a-z-]+="([^"]*)"/g)) {
      expect(value).not.toMatch(/[<>']/);
    }
    // Each tag opens once: nothing in the input created elements.
    expect(html.match(/<img /g)).toHaveLength(1);
    expect(html.match(/<a /g)).toHaveLength(3);
  });

  it("uses text colours with at least 4.5:1 contrast on every background", () => {
    const style = /<style>([\s\S]*?)<\/style>/.exec(renderHtml(summary()))![1]!;
    const colours = [...style.matchAll(/(?<![-\w])color:\s*(#[0-9a-f]{6})/gi)].map((m) => m[1]!);
    const backgrounds = [...style.matchAll(/background:\s*(#[0-9a-f]{6})/gi)].map((m) => m[1]!);
    expect(colours.length).toBeGreaterThan(5);
    expect(backgrounds).toEqual(expect.arrayContaining(["#ffffff", "#f6f8fa"]));
    for (const colour of colours) {
      for (const background of backgrounds) {
        expect(contrast(colour, background), `${colour} on ${background}`).toBeGreaterThanOrEqual(
          4.5,
        );
      }
    }
  });
});

describe("both renderings", () => {
  const renderers = [
    ["Markdown", renderMarkdown],
    ["HTML", renderHtml],
  ] as const;

  it.each(renderers)("%s never contains a planted secret", (_, render) => {
    const planted = summary({
      status: "failed",
      urls: {
        web: `https://pr-12.example.dev/?token=${SECRET}`,
        auth: `https://user:${SECRET}@auth.example.dev`,
        webhook: `https://hook.example.dev/${encodeURIComponent(SECRET)}`,
      },
      database: { branch: `pr-12-${SECRET}`, migrationsApplied: [SECRET], migrationsTotal: 1 },
      version: SECRET,
      commit: SECRET,
      steps: [
        { name: `step ${SECRET}`, status: "failed", durationMs: 1, detail: `auth ${SECRET}` },
      ],
      tests: { passed: 0, failed: 1, skipped: 0, durationMs: 1, skipped_reason: SECRET },
      e2e: {
        passed: 0,
        failed: 1,
        skipped: 0,
        durationMs: 1,
        reportDir: `report-${SECRET}`,
        screenshots: [`shots/${SECRET}.png`],
      },
      error: `connect to postgres://app:${SECRET}@db.internal/main failed (${SECRET})`,
      updatedAt: SECRET,
    });
    const output = render(planted, { secrets: [SECRET] });
    expect(output).not.toContain(SECRET);
    expect(output).not.toContain(SECRET.slice(4));
    expect(output).toContain("[REDACTED]");
  });

  it.each(renderers)(
    "%s removes a secret made of characters that escaping would change",
    (_, render) => {
      const secret = `p<a&"ss'w|rd`;
      const escapedForms = [
        secret,
        `p&lt;a&amp;&quot;ss&#39;w|rd`,
        encodeURIComponent(secret),
        "p\\<a\\&",
      ];
      const output = render(
        summary({
          status: "failed",
          error: `password ${secret}`,
          steps: [{ name: secret, status: "ok", durationMs: 1 }],
        }),
        { secrets: [secret] },
      );
      for (const form of escapedForms) expect(output).not.toContain(form);
    },
  );

  it.each(renderers)("%s always strips credentials from connection strings", (_, render) => {
    const output = render(
      summary({
        status: "failed",
        error: `postgres://neondb_owner:${"pw-1234"}@ep-x.${"neon"}.tech/neondb?sslmode=require timed out`,
        steps: [
          {
            name: "migrate",
            status: "failed",
            durationMs: 1,
            detail: "redis://:hunter2@cache:6379",
          },
        ],
      }),
    );
    expect(output).not.toMatch(/pw-1234|hunter2|neondb_owner/);
    expect(output).toContain("postgres://[REDACTED]@ep-x.neon.tech/neondb?sslmode=require");
    expect(output).toContain("redis://[REDACTED]@cache:6379");
  });

  it.each(renderers)("%s is pure: same input, same output, input untouched", (_, render) => {
    const input = summary({ error: `postgres://a:b@h/d`, status: "failed" });
    const before = structuredClone(input);
    expect(render(input, { secrets: ["b"] })).toBe(
      render(structuredClone(input), { secrets: ["b"] }),
    );
    expect(input).toEqual(before);
  });
});

function contrast(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

describe("the visual section", () => {
  const v = (status: string, viewport: string, page: string) =>
    `e2e/visual/${status}/${viewport}/${page}.png`;
  const visual: VisualReport = {
    baseline: "v7",
    threshold: 0.001,
    pages: [
      {
        page: "pricing",
        viewport: "desktop",
        status: "changed",
        ratio: 0.0123,
        preview: v("preview", "desktop", "pricing"),
        production: v("production", "desktop", "pricing"),
        diff: v("diff", "desktop", "pricing"),
      },
      {
        page: "welcome",
        viewport: "phone",
        status: "added",
        preview: v("preview", "phone", "welcome"),
      },
      {
        page: "old",
        viewport: "desktop",
        status: "removed",
        production: v("production", "desktop", "old"),
      },
      {
        page: "home",
        viewport: "desktop",
        status: "unchanged",
        ratio: 0,
        preview: v("preview", "desktop", "home"),
        production: v("production", "desktop", "home"),
        diff: v("diff", "desktop", "home"),
      },
      {
        page: "login",
        viewport: "phone",
        status: "unchanged",
        ratio: 0.00002,
        preview: v("preview", "phone", "login"),
        production: v("production", "phone", "login"),
        diff: v("diff", "phone", "login"),
      },
    ],
  };

  it("says when production's shots were reused from an earlier run", () => {
    expect(
      mdSection(renderMarkdown(summary({ visual: { ...visual, reused: true } })), "Visual changes"),
    ).toMatch(
      /^1 changed, 1 added, 1 removed, 2 unchanged\. Compared with production v7 \(its shots from an earlier run, reused while it serves that version\);/,
    );
  });

  it("is a compact Markdown table of what changed, and one line for the unchanged pages", () => {
    expect(mdSection(renderMarkdown(summary({ visual })), "Visual changes")).toBe(
      [
        "1 changed, 1 added, 1 removed, 2 unchanged. Compared with production v7 (shot during this run); a page changed when over 0.1% of its pixels differ.",
        "",
        "| Page | Viewport | Status | Changed | Images |",
        "| --- | --- | --- | --- | --- |",
        "| pricing | desktop | changed | 1.2% | [preview](e2e/visual/preview/desktop/pricing.png) · [production](e2e/visual/production/desktop/pricing.png) · [diff](e2e/visual/diff/desktop/pricing.png) |",
        "| welcome | phone | added | – | [preview](e2e/visual/preview/phone/welcome.png) |",
        "| old | desktop | removed | – | [production](e2e/visual/production/desktop/old.png) |",
        "",
        "**Unchanged:** home (desktop), login (phone)",
      ].join("\n"),
    );
  });

  it("takes the image links from imageHref (the cloud comment's published URLs)", () => {
    const markdown = renderVisualMarkdown(visual, {
      imageHref: (path) => `https://example.test/r/${path}`,
    });
    expect(markdown).toContain(
      "[diff](https://example.test/r/e2e/visual/diff/desktop/pricing.png)",
    );
    expect(markdown).not.toContain("](e2e/");
  });

  it("says when there was no production to compare with", () => {
    const none: VisualReport = {
      baseline: "none yet",
      threshold: 0.001,
      pages: [visual.pages[1]!],
    };
    expect(renderVisualMarkdown(none)).toContain(
      "1 added. No production release to compare with yet: every page is new.",
    );
  });

  it("shows each changed page side by side with a switch between preview and production (golden)", async () => {
    const html = renderVisualHtml(visual);
    await expect(html).toMatchFileSnapshot("../../../test/golden/visual-section.html");
    // Three images side by side, and the same three one at a time, switched by radio buttons.
    const pricing =
      /<article class="visual-page" aria-labelledby="visual-0-heading">[\s\S]*?<\/article>/.exec(
        html,
      )?.[0] ?? "";
    expect(pricing.match(/<img /g)).toHaveLength(6);
    expect(pricing.match(/type="radio"/g)).toHaveLength(4);
    expect(pricing).toContain("1.2% of its pixels");
    // The unchanged pages get one line and no image.
    expect(html).toContain("<strong>Unchanged:</strong> home (desktop), login (phone)</p>");
    expect(html).not.toContain("home.png");
    // In the whole page: the section after the tests, and still no script.
    const page = renderHtml(summary({ visual }));
    expect(htmlSection(page, "visual")).toContain('class="visual-view visual-side"');
    expect(page).not.toMatch(/<script/i);
  });

  it("escapes page names and encodes image paths", () => {
    const odd: VisualReport = {
      baseline: "v1",
      threshold: 0.001,
      pages: [{ page: '<b>"x"', viewport: "desktop", status: "added", preview: "a b/<x>.png" }],
    };
    const html = renderVisualHtml(odd);
    expect(html).toContain("&lt;b&gt;&quot;x&quot;");
    expect(html).toContain('src="a%20b/%3Cx%3E.png"');
    expect(html).not.toContain("<b>");
  });
});
