import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { SchemaReport, Summary } from "../../core/summary";
import { renderHtml, renderMarkdown } from "./render";

// The PR comment of a preview whose branch has a pending destructive migration, pinned whole in
// test/golden (update with `vitest -u` after a deliberate change, and review the diff).
const GOLDEN = fileURLToPath(new URL("../../../test/golden/comment-schema.md", import.meta.url));

// Built by concatenation so that no scanner mistakes it for a real credential.
const SECRET = "npg_" + "S3cr3tV4lu3xyz";
const FILE = "packages/database/drizzle/0001_drop_nickname.sql";

function schema(overrides: Partial<SchemaReport> = {}): SchemaReport {
  return {
    pending: ["0001_drop_nickname"],
    lint: [
      {
        file: FILE,
        line: 2,
        rule: "ban-drop-column",
        message: "Dropping a column may break existing clients.",
        fix: "Expand/contract: stop reading the column in one release, drop it in a later PR (docs/schema-changes.md), or approve it.",
        destructive: true,
        statement: 'ALTER TABLE "users" DROP COLUMN "nickname"',
      },
      {
        file: FILE,
        line: 2,
        rule: "require-lock-timeout",
        message:
          "Missing `set lock_timeout` before potentially slow ACCESS EXCLUSIVE lock operations",
        fix: "Start the migration with SET LOCAL lock_timeout = '5s'; (it lasts for drizzle's transaction).",
        destructive: false,
      },
    ],
    diff: [
      {
        change: "removed",
        kind: "column",
        name: "users.nickname",
        before: "text NULL",
        destructive: true,
      },
      {
        change: "changed",
        kind: "column",
        name: "users.display_name",
        before: "text NULL",
        after: "text NULL DEFAULT ''::text",
        destructive: false,
      },
    ],
    gate: {
      status: "refused",
      detail:
        "2 destructive change(s) without a valid approval (codex:approve-destructive): production-deploy refuses them",
    },
    ...overrides,
  };
}

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
    database: { branch: "pr_12", migrationsApplied: ["0001_drop_nickname"], migrationsTotal: 2 },
    version: "v3",
    commit: "0a1b2c3",
    steps: [
      {
        name: "migrate the branch",
        status: "ok",
        durationMs: 420,
        detail: "applied 0001_drop_nickname",
      },
      { name: "destructive-change gate", status: "ok", durationMs: 3, detail: "refused" },
    ],
    testsSkipped: true,
    schema: schema(),
    updatedAt: "2025-05-01T12:34:56.789Z",
    ...overrides,
  };
}

/** The Markdown between "### Schema" and the next heading. */
function schemaSection(markdown: string): string {
  const start = markdown.indexOf("\n### Schema\n");
  expect(start).toBeGreaterThanOrEqual(0);
  const rest = markdown.slice(start + "\n### Schema\n".length);
  return rest.slice(0, rest.indexOf("\n### ")).trim();
}

describe("the Schema section of the PR comment", () => {
  it("is the committed golden comment for a pending destructive migration", async () => {
    await expect(renderMarkdown(summary())).toMatchFileSnapshot(GOLDEN);
  });

  it("shows the verdict, the lint table (file:line, rule, message, fix) and the diff", () => {
    expect(schemaSection(renderMarkdown(summary()))).toBe(
      [
        "**Gate:** refused — `2 destructive change(s) without a valid approval (codex:approve-destructive): production-deploy refuses them`  ",
        "Pending migrations: `0001_drop_nickname`",
        "",
        "**Lint** (squawk)",
        "",
        "| File:line | Rule | Message | Fix |",
        "| --- | --- | --- | --- |",
        `| \`${FILE}:2\` | \`ban-drop-column\` **destructive, not approved** | \`Dropping a column may break existing clients.\` | \`Expand/contract: stop reading the column in one release, drop it in a later PR (docs/schema-changes.md), or approve it.\` |`,
        `| \`${FILE}:2\` | \`require-lock-timeout\` | \`\`Missing \`set lock_timeout\` before potentially slow ACCESS EXCLUSIVE lock operations\`\` | \`Start the migration with SET LOCAL lock_timeout = '5s'; (it lasts for drizzle's transaction).\` |`,
        "",
        "**Schema diff** (after the pending migrations, against main)",
        "",
        "- removed column users.nickname: `text NULL` — **destructive, not approved**",
        "- changed column users.display\\_name: `text NULL → text NULL DEFAULT ''::text`",
      ].join("\n"),
    );
  });

  it("shows approvals with their reason", () => {
    const approved = schema({
      gate: { status: "passed", detail: "2 destructive change(s), all approved in the migration" },
    });
    approved.lint[0]!.approved = "nickname was never read";
    approved.diff[0]!.approved = "nickname was never read";
    const section = schemaSection(renderMarkdown(summary({ schema: approved })));
    expect(section).toContain(
      "**Gate:** passed — `2 destructive change(s), all approved in the migration`",
    );
    expect(section).toContain(
      "`ban-drop-column` **destructive, approved: nickname was never read**",
    );
    expect(section).toContain(
      "- removed column users.nickname: `text NULL` — **destructive, approved: nickname was never read**",
    );
  });

  it('says "No schema change." in one line when nothing is pending or different', () => {
    const none = schema({
      pending: [],
      lint: [],
      diff: [],
      gate: { status: "passed", detail: "No schema change." },
    });
    expect(schemaSection(renderMarkdown(summary({ schema: none })))).toBe("No schema change.");
    expect(renderHtml(summary({ schema: none }))).toContain(
      '<h2 id="schema-heading">Schema</h2>\n<p>No schema change.</p>',
    );
  });

  it("has no Schema section when no check ran (cleanup, rollback)", () => {
    expect(renderMarkdown(summary({ schema: undefined }))).not.toContain("### Schema");
  });

  it("scrubs secrets from what the migrations hold", () => {
    const leaky = schema();
    leaky.lint[0]!.message = `postgres://app:${SECRET}@db.example/main`;
    leaky.diff[1]!.after = `text DEFAULT '${SECRET}'`;
    const options = { secrets: [SECRET] };
    for (const text of [
      renderMarkdown(summary({ schema: leaky }), options),
      renderHtml(summary({ schema: leaky }), options),
    ]) {
      expect(text).not.toContain(SECRET);
      expect(text).toContain("[REDACTED]");
    }
  });

  it("renders the same in HTML, escaped", () => {
    const html = renderHtml(summary());
    expect(html).toContain('<span class="status status-failed">refused</span>');
    expect(html).toContain(
      `<tr><th scope="row"><code>${FILE}:2</code></th><td><code>ban-drop-column</code> <strong>destructive, not approved</strong></td>`,
    );
    expect(html).toContain(
      "<li>removed column users.nickname: <code>text NULL</code> — <strong>destructive, not approved</strong></li>",
    );
    expect(html).toContain("DEFAULT &#39;&#39;::text");
  });
});
