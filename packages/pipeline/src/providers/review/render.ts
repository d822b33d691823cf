/**
 * The review channel's two renderings of a {@link Summary}: GitHub-flavoured Markdown (the
 * summary file, and the body of the sticky PR comment) and a self-contained HTML page. Both are
 * pure: the same summary and secrets give the same text.
 *
 * Every string of the summary is scrubbed before it is formatted, so a secret is removed while it
 * is still whole (escaping or URL encoding would otherwise hide it from the scrubber).
 */
import { formatDuration, formatRatio } from "../../core/format";
import { createScrubber, scrubDeep } from "../../core/scrub";
import {
  type SchemaChange,
  type SchemaReport,
  type StepResult,
  type StepStatus,
  type Summary,
  type TestResult,
  type VisualPage,
  type VisualReport,
} from "../../core/summary";
import { SUMMARY_MARKER } from "./shared";

export interface RenderOptions {
  /** Known secret values (tokens, passwords, connection strings) to replace with "[REDACTED]". */
  secrets?: readonly string[];
}

const SERVICES = ["web", "auth", "webhook"] as const;

const STATUS_WORDS: Record<Summary["status"], string> = {
  deployed: "deployed",
  failed: "failed",
  deleted: "deleted",
  "in-progress": "in progress",
};

// ---------------------------------------------------------------------------------------------
// Formatting shared by both renderings

/** "42 passed, 0 failed, 1 skipped in 12.3 s", with errors outside the tests when there were any. */
export function formatTestCounts(result: TestResult): string {
  const errors = result.errors ? `, ${count(result.errors)} error(s) outside the tests` : "";
  return (
    `${count(result.passed)} passed, ${count(result.failed)} failed, ` +
    `${count(result.skipped)} skipped${errors} in ${formatDuration(result.durationMs)}`
  );
}

function count(value: number): string {
  return Number.isFinite(value) ? String(value) : "?";
}

/** "2025-05-01 12:34:56 UTC", the same on every machine; an unparsable value is shown as is. */
function formatTime(iso: string): { text: string; datetime: string | null } {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return { text: iso, datetime: null };
  const datetime = date.toISOString();
  return { text: `${datetime.slice(0, 19).replace("T", " ")} UTC`, datetime };
}

function statusWord(status: Summary["status"]): string {
  return STATUS_WORDS[status] ?? String(status);
}

/** "Preview preview-12", "Environment production". */
function environmentLabel(environment: string): string {
  return `${environment.startsWith("preview-") ? "Preview" : "Environment"} ${environment}`;
}

function isFailedOrHasError(summary: Summary): boolean {
  return summary.status === "failed" || (summary.error ?? "").trim() !== "";
}

function errorText(summary: Summary): string {
  const error = (summary.error ?? "").replace(/\r\n?/g, "\n").trim();
  return error === "" ? "No reason was recorded." : error;
}

/** What to say instead of URLs or database details when there are none. */
function absentText(summary: Summary): string {
  if (summary.status === "deleted") return "None: the environment was deleted.";
  if (summary.status === "in-progress") return "Not available yet.";
  return "Not available.";
}

function testsText(summary: Summary): { counts: string; reason?: string } {
  if (summary.testsSkipped) return { counts: "Skipped (--skip-tests)" };
  if (!summary.tests) return { counts: "Not run" };
  const reason = summary.tests.skipped_reason?.trim();
  return { counts: formatTestCounts(summary.tests), ...(reason ? { reason } : {}) };
}

/** What follows "Updated <time>" on the last line, each part after a " · ". */
function footerParts(summary: Summary): string[] {
  const parts = [`target ${summary.target}`];
  if (summary.version) parts.push(`version ${summary.version}`);
  if (summary.commit) parts.push(`commit ${summary.commit}`);
  return parts;
}

/** The link target of an http(s) URL, without any credentials; null for anything else. */
function webHref(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return null;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
  parsed.username = "";
  parsed.password = "";
  return parsed.href;
}

/**
 * The link target of a file path relative to the summary's folder (or an absolute one). Every
 * segment is percent-encoded, so a "javascript:" or "https:" path stays a relative file path, and
 * repeated slashes are collapsed, so "//host/x.png" cannot become a request to another host.
 */
function fileHref(path: string): string {
  const slashed = path
    .trim()
    .replace(/\\/g, "/")
    .replace(/\/{2,}/g, "/");
  const drive = /^[A-Za-z]:\//.test(slashed);
  const encoded = slashed
    .split("/")
    .map((segment, index) => (drive && index === 0 ? segment : encodeSegment(segment)))
    .join("/");
  return drive ? `file:///${encoded}` : encoded;
}

function encodeSegment(segment: string): string {
  // encodeURIComponent throws on a lone surrogate; U+FFFD keeps the rest of the path readable.
  const wellFormed = segment.replace(
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    "\uFFFD",
  );
  return encodeURIComponent(wellFormed);
}

/** The Playwright report: an http(s) URL as is, else its folder's index.html. */
function reportHref(reportDir: string): string {
  const web = webHref(reportDir);
  if (web) return web;
  const trimmed = reportDir.trim().replace(/[\\/]+$/, "");
  return fileHref(/\.html?$/i.test(trimmed) ? trimmed : `${trimmed || "."}/index.html`);
}

/** "screenshots/checkout-done.png" -> "checkout done". */
function screenshotName(path: string): string {
  const file = path.split(/[\\/]/).pop() ?? "";
  const name = file
    .replace(/\.[^.]*$/, "")
    .replace(/[-_]+/g, " ")
    .trim();
  return name || "screenshot";
}

/** Whether the schema checks found nothing to show: one line, "No schema change.". */
function noSchemaChange(schema: SchemaReport): boolean {
  return schema.pending.length === 0 && schema.diff.length === 0 && schema.lint.length === 0;
}

/** "destructive, approved: <reason>", "destructive, not approved", or "". */
function destructiveNote(item: { destructive: boolean; approved?: string }): string {
  if (!item.destructive) return "";
  return item.approved !== undefined
    ? `destructive, approved: ${item.approved}`
    : "destructive, not approved";
}

/** "removed column users.nickname", then what it was and is. */
function changeHead(change: SchemaChange): string {
  return `${change.change} ${change.kind} ${change.name}`;
}

function changeValues(change: SchemaChange): string {
  if (change.before !== undefined && change.after !== undefined)
    return `${change.before} → ${change.after}`;
  return change.before ?? change.after ?? "";
}

/** A copy of the summary with every secret and URL credential removed from every string. */
function clean(summary: Summary, options: RenderOptions): Summary {
  return scrubDeep(summary, createScrubber(options.secrets ?? []));
}

// ---------------------------------------------------------------------------------------------
// Markdown

/**
 * The summary as GitHub-flavoured Markdown. Its first line is {@link SUMMARY_MARKER}, so the same
 * text can be posted as a sticky PR comment and found again.
 *
 * Free text (step details, the error, the skip reason) goes into code spans and code blocks,
 * where GitHub neither renders HTML nor turns "@codex/pipeline" into a team mention.
 */
export function renderMarkdown(summary: Summary, options: RenderOptions = {}): string {
  const s = clean(summary, options);
  const blocks: string[] = [
    `${SUMMARY_MARKER(s.environment)}\n## ${mdText(environmentLabel(s.environment))} — ${mdText(statusWord(s.status))}`,
  ];

  if (isFailedOrHasError(s)) {
    blocks.push("### Error", mdCodeBlock(errorText(s)));
  }

  blocks.push("### URLs");
  const urls = s.urls;
  blocks.push(
    urls
      ? mdTable(
          ["Service", "URL"],
          SERVICES.map((service) => [service, mdUrl(urls[service])]),
        )
      : absentText(s),
  );

  blocks.push("### Database");
  if (s.database) {
    const applied = s.database.migrationsApplied;
    const total = `(${count(s.database.migrationsTotal)} in total)`;
    blocks.push(
      `Branch ${mdCode(s.database.branch)}  \n` +
        (applied.length > 0
          ? `Migrations applied: ${applied.map((name) => mdCode(name)).join(", ")} ${total}`
          : `Migrations: none pending ${total}`),
    );
  } else {
    blocks.push(absentText(s));
  }

  if (s.schema) blocks.push("### Schema", mdSchema(s.schema));

  blocks.push("### Steps");
  blocks.push(
    s.steps.length > 0
      ? mdTable(
          ["Step", "Status", "Duration", "Detail"],
          s.steps.map((step) => [
            mdText(step.name),
            mdText(step.status),
            stepDuration(step),
            step.detail ? mdCode(step.detail, { inTable: true }) : "",
          ]),
        )
      : "No steps yet.",
  );

  blocks.push("### Tests");
  const tests = testsText(s);
  blocks.push(
    `**Unit and integration:** ${mdText(tests.counts)}` +
      (tests.reason ? ` (skipped: ${mdCode(tests.reason)})` : ""),
  );
  if (s.e2e) {
    blocks.push(
      `**End-to-end:** ${mdText(formatTestCounts(s.e2e))} · ` +
        `[Playwright report](${mdDestination(reportHref(s.e2e.reportDir))})`,
    );
    for (const screenshot of s.e2e.screenshots) {
      blocks.push(
        `![${mdText(screenshotName(screenshot))}](${mdDestination(fileHref(screenshot))})`,
      );
    }
  } else {
    blocks.push("**End-to-end:** Not run");
  }
  if (s.visual) blocks.push(renderVisualMarkdown(s.visual));

  const time = formatTime(s.updatedAt);
  blocks.push([`Updated ${mdText(time.text)}`, ...footerParts(s).map(mdText)].join(" · "));
  return `${blocks.join("\n\n")}\n`;
}

/** The schema checks: the gate's verdict, the lint table and the diff, or "No schema change.". */
function mdSchema(schema: SchemaReport): string {
  const lines: string[] = [];
  if (noSchemaChange(schema) && schema.gate.status === "passed") {
    lines.push("No schema change.");
  } else {
    lines.push(
      `**Gate:** ${mdText(schema.gate.status)} — ${mdCode(schema.gate.detail)}  \n` +
        `Pending migrations: ${schema.pending.length ? schema.pending.map((tag) => mdCode(tag)).join(", ") : "none"}`,
    );
    lines.push(
      schema.lint.length
        ? "**Lint** (squawk)\n\n" +
            mdTable(
              ["File:line", "Rule", "Message", "Fix"],
              schema.lint.map((f) => [
                mdCode(`${f.file}:${f.line}`, { inTable: true }),
                mdCode(f.rule, { inTable: true }) +
                  (f.destructive ? ` **${mdText(destructiveNote(f))}**` : ""),
                mdCode(f.message, { inTable: true }),
                mdCode(f.fix, { inTable: true }),
              ]),
            )
        : "**Lint** (squawk): no findings",
    );
    lines.push(
      schema.diff.length
        ? "**Schema diff** (after the pending migrations, against main)\n\n" +
            schema.diff
              .map(
                (c) =>
                  `- ${mdText(changeHead(c))}` +
                  (changeValues(c) ? `: ${mdCode(changeValues(c))}` : "") +
                  (c.destructive ? ` — **${mdText(destructiveNote(c))}**` : ""),
              )
              .join("\n")
        : "**Schema diff** (after the pending migrations, against main): no change",
    );
  }
  if (schema.oldCode) {
    lines.push(
      `**Old code on the new schema:** ${mdText(schema.oldCode.status)} — ${mdCode(schema.oldCode.detail)}` +
        (schema.oldCode.version ? ` (${mdCode(schema.oldCode.version)})` : ""),
    );
  }
  return lines.join("\n\n");
}

function stepDuration(step: StepResult): string {
  return step.status === "skipped" && step.durationMs === 0 ? "–" : formatDuration(step.durationMs);
}

/**
 * Inline text: one line, with every character that could start Markdown, HTML, an entity, math
 * or a mention backslash-escaped. Line-start syntax ("#", "-", "1.") needs nothing, because this
 * text never begins a line.
 */
function mdText(text: string): string {
  return oneLine(text).replace(/[\\`*_[\]<>|~$&@#!]/g, "\\$&");
}

/** An inline code span that holds any text; `inTable` escapes "|", which GFM tables need even there. */
function mdCode(text: string, options: { inTable?: boolean } = {}): string {
  let body = oneLine(text);
  if (body === "") return "";
  if (options.inTable) body = body.replace(/\|/g, "\\|");
  const fence = "`".repeat(longestRun(body, "`") + 1);
  const pad = body.startsWith("`") || body.endsWith("`") || /^ .* $/.test(body) ? " " : "";
  return `${fence}${pad}${body}${pad}${fence}`;
}

/** A fenced code block whose fence is longer than any backtick run inside, so it cannot close early. */
function mdCodeBlock(text: string): string {
  const fence = "`".repeat(Math.max(3, longestRun(text, "`") + 1));
  return `${fence}text\n${text}\n${fence}`;
}

function mdUrl(url: string): string {
  const href = webHref(url);
  return href ? `[${mdText(url.trim())}](${mdDestination(href)})` : mdCode(url, { inTable: true });
}

/** A link destination: already URL-encoded, minus the few characters Markdown or a table reads. */
function mdDestination(href: string): string {
  return href.replace(
    /[\s()<>|\\`"']/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`,
  );
}

function mdTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n");
}

function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ").trim();
}

function longestRun(text: string, char: string): number {
  let longest = 0;
  let current = 0;
  for (const c of text) {
    current = c === char ? current + 1 : 0;
    longest = Math.max(longest, current);
  }
  return longest;
}

// ---------------------------------------------------------------------------------------------
// HTML

// Radio buttons switch the views without a script (the page's policy allows none): side by side,
// then preview and production on the same spot (flip between them to see the change), then the diff.
const VISUAL_STYLE = `
.visual-page { border: 1px solid #d1d9e0; border-radius: 6px; padding: 0.5rem 1rem 1rem; margin: 1rem 0; }
.visual-page h3 { font-size: 1rem; margin: 0.5rem 0; }
.visual-modes { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; margin: 0.5rem 0; }
.visual-modes label { cursor: pointer; }
.visual-view { display: none; flex: 1 0 100%; }
.visual-single img { max-width: 20rem; }
.visual-side { grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 0.75rem; }
.visual-side figure { margin: 0; }
.mode-side:checked ~ .visual-side { display: grid; }
.mode-preview:checked ~ .visual-preview, .mode-production:checked ~ .visual-production, .mode-diff:checked ~ .visual-diff { display: block; }
.visual-page input:focus-visible + label { outline: 2px solid #0969da; outline-offset: 2px; }
.status-changed { color: #cf222e; }
.status-added, .status-removed { color: #9a6700; }
`.trim();

// Every text colour is at least 4.5:1 (WCAG AA) against both backgrounds, #ffffff and #f6f8fa.
const STYLE = `
:root { color-scheme: light; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; background: #ffffff; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
h2 { font-size: 1.125rem; margin: 1.5rem 0 0.5rem; padding-bottom: 0.25rem; border-bottom: 1px solid #d1d9e0; }
p { margin: 0.5rem 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 0.375rem 0.75rem; border: 1px solid #d1d9e0; }
th { background: #f6f8fa; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.875em; background: #f6f8fa; }
code { padding: 0.1em 0.3em; border-radius: 4px; overflow-wrap: anywhere; }
pre { padding: 0.75rem 1rem; border-radius: 6px; white-space: pre-wrap; overflow-wrap: anywhere; }
a { color: #0969da; }
a:focus-visible { outline: 2px solid #0969da; outline-offset: 2px; }
.status { font-weight: 600; }
.status-ok, .status-deployed { color: #1a7f37; }
.status-failed { color: #cf222e; }
.status-running, .status-in-progress { color: #9a6700; }
.status-skipped, .status-deleted, .muted, figcaption, footer { color: #59636e; }
figure { margin: 1rem 0; }
img { max-width: 100%; height: auto; border: 1px solid #d1d9e0; }
footer { margin-top: 2rem; font-size: 0.875rem; }
${VISUAL_STYLE}
`.trim();

// Nothing may load from elsewhere: only the inline style and images beside the file (or from the
// page's own origin when it is served).
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' file:; base-uri 'none'; form-action 'none'";

const SUMMARY_STATUS_CLASSES: Record<Summary["status"], string> = {
  deployed: "status-deployed",
  failed: "status-failed",
  deleted: "status-deleted",
  "in-progress": "status-in-progress",
};

const STEP_STATUS_CLASSES: Record<StepStatus, string> = {
  ok: "status-ok",
  failed: "status-failed",
  skipped: "status-skipped",
  running: "status-running",
};

/**
 * The summary as one self-contained HTML document: inline CSS, no scripts, nothing fetched from
 * elsewhere. Every interpolated string is escaped.
 */
export function renderHtml(summary: Summary, options: RenderOptions = {}): string {
  const s = clean(summary, options);
  const label = environmentLabel(s.environment);
  const word = statusWord(s.status);
  const body: string[] = [
    `<h1>${h(label)} — <span class="status ${SUMMARY_STATUS_CLASSES[s.status] ?? ""}">${h(word)}</span></h1>`,
  ];

  if (isFailedOrHasError(s)) {
    body.push(section("error", "Error", `<pre>${h(errorText(s))}</pre>`));
  }

  const urls = s.urls;
  body.push(
    section(
      "urls",
      "URLs",
      urls
        ? htmlTable(
            "urls-heading",
            ["Service", "URL"],
            SERVICES.map((service) => [h(service), htmlUrl(urls[service])]),
          )
        : `<p class="muted">${h(absentText(s))}</p>`,
    ),
  );

  if (s.database) {
    const applied = s.database.migrationsApplied;
    const total = `(${count(s.database.migrationsTotal)} in total)`;
    body.push(
      section(
        "database",
        "Database",
        `<p>Branch <code>${h(s.database.branch)}</code></p>\n` +
          (applied.length > 0
            ? `<p>Migrations applied: ${applied.map((name) => `<code>${h(name)}</code>`).join(", ")} ${h(total)}</p>`
            : `<p>Migrations: none pending ${h(total)}</p>`),
      ),
    );
  } else {
    body.push(section("database", "Database", `<p class="muted">${h(absentText(s))}</p>`));
  }

  if (s.schema) body.push(section("schema", "Schema", htmlSchema(s.schema)));

  body.push(
    section(
      "steps",
      "Steps",
      s.steps.length > 0
        ? htmlTable(
            "steps-heading",
            ["Step", "Status", "Duration", "Detail"],
            s.steps.map((step) => [
              h(step.name),
              `<span class="status ${STEP_STATUS_CLASSES[step.status] ?? ""}">${h(step.status)}</span>`,
              h(stepDuration(step)),
              step.detail ? `<code>${h(step.detail)}</code>` : "",
            ]),
          )
        : `<p class="muted">No steps yet.</p>`,
    ),
  );

  const tests = testsText(s);
  const testsLines = [
    `<p><strong>Unit and integration:</strong> ${h(tests.counts)}` +
      (tests.reason ? ` (skipped: <code>${h(tests.reason)}</code>)` : "") +
      "</p>",
  ];
  if (s.e2e) {
    testsLines.push(
      `<p><strong>End-to-end:</strong> ${h(formatTestCounts(s.e2e))} · ` +
        `<a href="${h(reportHref(s.e2e.reportDir))}">Playwright report</a></p>`,
    );
    for (const screenshot of s.e2e.screenshots) {
      const name = screenshotName(screenshot);
      // The caption is the path, not the name again, so a screen reader does not say it twice.
      testsLines.push(
        `<figure><img src="${h(fileHref(screenshot))}" alt="${h(name)}" loading="lazy">` +
          `<figcaption>${h(screenshot)}</figcaption></figure>`,
      );
    }
  } else {
    testsLines.push(`<p><strong>End-to-end:</strong> Not run</p>`);
  }
  body.push(section("tests", "Tests", testsLines.join("\n")));
  if (s.visual) body.push(renderVisualHtml(s.visual));

  const time = formatTime(s.updatedAt);
  const timeHtml = time.datetime
    ? `<time datetime="${h(time.datetime)}">${h(time.text)}</time>`
    : h(time.text);

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${h(CONTENT_SECURITY_POLICY)}">
<meta name="referrer" content="no-referrer">
<title>${h(`${label} — ${word}`)}</title>
<style>
${STYLE}
</style>
</head>
<body>
<main>
${body.join("\n")}
<footer><p>${[`Updated ${timeHtml}`, ...footerParts(s).map(h)].join(" · ")}</p></footer>
</main>
</body>
</html>
`;
}

/** The schema checks as HTML, as {@link mdSchema} says them. */
function htmlSchema(schema: SchemaReport): string {
  const parts: string[] = [];
  if (noSchemaChange(schema) && schema.gate.status === "passed") {
    parts.push("<p>No schema change.</p>");
  } else {
    const gateClass = schema.gate.status === "passed" ? "status-ok" : "status-failed";
    parts.push(
      `<p><strong>Gate:</strong> <span class="status ${gateClass}">${h(schema.gate.status)}</span> — <code>${h(schema.gate.detail)}</code></p>`,
      `<p>Pending migrations: ${schema.pending.length ? schema.pending.map((tag) => `<code>${h(tag)}</code>`).join(", ") : "none"}</p>`,
    );
    parts.push(
      schema.lint.length
        ? `<p><strong>Lint</strong> (squawk)</p>\n` +
            htmlTable(
              "schema-heading",
              ["File:line", "Rule", "Message", "Fix"],
              schema.lint.map((f) => [
                `<code>${h(`${f.file}:${f.line}`)}</code>`,
                `<code>${h(f.rule)}</code>` +
                  (f.destructive ? ` <strong>${h(destructiveNote(f))}</strong>` : ""),
                h(f.message),
                h(f.fix),
              ]),
            )
        : `<p><strong>Lint</strong> (squawk): no findings</p>`,
    );
    parts.push(
      schema.diff.length
        ? `<p><strong>Schema diff</strong> (after the pending migrations, against main)</p>\n<ul>\n` +
            schema.diff
              .map(
                (c) =>
                  `<li>${h(changeHead(c))}` +
                  (changeValues(c) ? `: <code>${h(changeValues(c))}</code>` : "") +
                  (c.destructive ? ` — <strong>${h(destructiveNote(c))}</strong>` : "") +
                  "</li>",
              )
              .join("\n") +
            "\n</ul>"
        : `<p><strong>Schema diff</strong> (after the pending migrations, against main): no change</p>`,
    );
  }
  if (schema.oldCode) {
    parts.push(
      `<p><strong>Old code on the new schema:</strong> ${h(schema.oldCode.status)} — <code>${h(schema.oldCode.detail)}</code>` +
        (schema.oldCode.version ? ` (<code>${h(schema.oldCode.version)}</code>)` : "") +
        "</p>",
    );
  }
  return parts.join("\n");
}

/** Escapes text for an element's content or a double- or single-quoted attribute. */
function h(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ENTITIES[char] ?? char);
}

const HTML_ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

function section(id: string, heading: string, content: string): string {
  return `<section aria-labelledby="${id}-heading">\n<h2 id="${id}-heading">${h(heading)}</h2>\n${content}\n</section>`;
}

/** Cells are HTML already; the first column heads its row. */
function htmlTable(
  labelledBy: string,
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const head = headers.map((header) => `<th scope="col">${h(header)}</th>`).join("");
  const bodyRows = rows.map(
    ([first = "", ...rest]) =>
      `<tr><th scope="row">${first}</th>${rest.map((cell) => `<td>${cell}</td>`).join("")}</tr>`,
  );
  return `<table aria-labelledby="${labelledBy}">\n<thead><tr>${head}</tr></thead>\n<tbody>\n${bodyRows.join("\n")}\n</tbody>\n</table>`;
}

function htmlUrl(url: string): string {
  const href = webHref(url);
  return href ? `<a href="${h(href)}">${h(url.trim())}</a>` : `<code>${h(url)}</code>`;
}

// ---------------------------------------------------------------------------------------------
// The visual comparison with production (summary.visual)

export interface VisualRenderOptions {
  /** The link target of an image path of the report (relative to the summary's folder). */
  imageHref?: (path: string) => string;
}

const pageLabel = (page: VisualPage) => `${page.page} (${page.viewport})`;

function visualCounts(visual: VisualReport): string {
  const parts = (["changed", "added", "removed", "unchanged"] as const)
    .map((status) => [status, visual.pages.filter((p) => p.status === status).length] as const)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`);
  return parts.join(", ") || "no pages";
}

function baselineText(visual: VisualReport): string {
  return visual.baseline === "none yet"
    ? "No production release to compare with yet: every page is new."
    : `Compared with production ${visual.baseline} (${visual.reused ? "its shots from an earlier run, reused while it serves that version" : "shot during this run"}); a page changed when over ${formatRatio(visual.threshold)} of its pixels differ.`;
}

/**
 * The visual section of the Markdown summary: a compact table of the pages that changed, were
 * added or removed, with links to their images, and the unchanged pages on one line.
 */
export function renderVisualMarkdown(
  visual: VisualReport,
  options: VisualRenderOptions = {},
): string {
  const href = options.imageHref ?? fileHref;
  const link = (text: string, path: string | undefined) =>
    path ? `[${text}](${mdDestination(href(path))})` : "";
  const lines = [
    "### Visual changes",
    `${mdText(visualCounts(visual))}. ${mdText(baselineText(visual))}`,
  ];
  const listed = visual.pages.filter((p) => p.status !== "unchanged");
  if (listed.length > 0) {
    lines.push(
      mdTable(
        ["Page", "Viewport", "Status", "Changed", "Images"],
        listed.map((p) => [
          mdText(p.page),
          mdText(p.viewport),
          mdText(p.status),
          p.ratio === undefined ? "–" : formatRatio(p.ratio),
          [link("preview", p.preview), link("production", p.production), link("diff", p.diff)]
            .filter(Boolean)
            .join(" · "),
        ]),
      ),
    );
  }
  const unchanged = visual.pages.filter((p) => p.status === "unchanged");
  if (unchanged.length > 0) {
    lines.push(`**Unchanged:** ${unchanged.map((p) => mdText(pageLabel(p))).join(", ")}`);
  }
  return lines.join("\n\n");
}

function visualImage(path: string, alt: string, href: (path: string) => string): string {
  const src = h(href(path));
  return `<a href="${src}"><img src="${src}" alt="${h(alt)}" loading="lazy"></a>`;
}

function visualPageHtml(page: VisualPage, index: number, href: (path: string) => string): string {
  const label = pageLabel(page);
  const ratio = page.ratio === undefined ? "" : `, ${formatRatio(page.ratio)} of its pixels`;
  const heading = `<h3>${h(label)}: <span class="status status-${h(page.status)}">${h(page.status)}</span>${h(ratio)}</h3>`;
  if (page.status !== "changed" || !page.preview || !page.production || !page.diff) {
    const only = page.preview ?? page.production;
    const side = page.preview ? "preview" : "production";
    return `<article class="visual-page visual-single">${heading}${only ? `<figure>${visualImage(only, `${label} on the ${side}`, href)}<figcaption>${h(side)}</figcaption></figure>` : ""}</article>`;
  }
  const name = `visual-${index}`;
  const modes = [
    ["side", "Side by side"],
    ["preview", "Preview"],
    ["production", "Production"],
    ["diff", "Diff"],
  ] as const;
  const figure = (path: string, caption: string) =>
    `<figure>${visualImage(path, `${label}, ${caption}`, href)}<figcaption>${h(caption)}</figcaption></figure>`;
  return [
    `<article class="visual-page" aria-labelledby="${name}-heading">`,
    heading.replace("<h3>", `<h3 id="${name}-heading">`),
    `<div class="visual-modes" role="radiogroup" aria-label="${h(`How to show ${label}`)}">`,
    // The inputs come before the views: the CSS shows the view of the checked one (~).
    ...modes.map(
      ([mode, text], i) =>
        `<input type="radio" class="mode-${mode}" name="${name}" id="${name}-${mode}"${i === 0 ? " checked" : ""}><label for="${name}-${mode}">${h(text)}</label>`,
    ),
    `<div class="visual-view visual-side">${figure(page.preview, "preview")}${figure(page.production, "production")}${figure(page.diff, "diff: changed pixels in red")}</div>`,
    `<div class="visual-view visual-preview">${figure(page.preview, "preview")}</div>`,
    `<div class="visual-view visual-production">${figure(page.production, "production")}</div>`,
    `<div class="visual-view visual-diff">${figure(page.diff, "diff: changed pixels in red")}</div>`,
    `</div>`,
    `</article>`,
  ].join("\n");
}

/**
 * The visual section of the HTML summary: per changed page, the preview, production and diff
 * images side by side, with a switch to flip between preview and production on the same spot;
 * added and removed pages with their one image; unchanged pages on one line.
 */
export function renderVisualHtml(visual: VisualReport, options: VisualRenderOptions = {}): string {
  const href = options.imageHref ?? fileHref;
  const parts = [`<p><strong>${h(visualCounts(visual))}.</strong> ${h(baselineText(visual))}</p>`];
  visual.pages.forEach((page, index) => {
    if (page.status !== "unchanged") parts.push(visualPageHtml(page, index, href));
  });
  const unchanged = visual.pages.filter((p) => p.status === "unchanged");
  if (unchanged.length > 0) {
    parts.push(
      `<p class="visual-unchanged"><strong>Unchanged:</strong> ${unchanged.map((p) => h(pageLabel(p))).join(", ")}</p>`,
    );
  }
  return section("visual", "Visual changes", parts.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The PR comment's images (cloud): the visual comparison and screenshots, by URL

/** The hidden start of the approval line, which `approve-visual` rewrites in place. */
export const APPROVAL_MARKER = "<!-- codex-visual-approval -->";

/** The comment a reviewer posts to approve the visual changes (see commands/approve-visual.ts). */
export const APPROVE_COMMAND = "/codex approve-visual";

/** The width of an image in the comment, in pixels: three side by side fit GitHub's column. */
const THUMB_WIDTH = 240;

/**
 * The summary with every file path of `e2e` and `visual` turned into its URL on the published
 * report (`summary.reportUrl`): the one place that maps the summary folder onto the report
 * Worker. Paths already http(s) stay; without `reportUrl` the summary is returned as it is.
 */
export function withPublishedReport(summary: Summary): Summary {
  const base = summary.reportUrl ? webHref(summary.reportUrl) : null;
  if (!base) return summary;
  const root = base.endsWith("/") ? base : `${base}/`;
  const at = (path: string): string => {
    if (webHref(path)) return path.trim();
    const relativePath = fileHref(path).replace(/^(?:\.\/)+/, "");
    // An absolute or parent path is not in the published folder: it stays a name, not a URL.
    if (
      relativePath.startsWith("/") ||
      relativePath.startsWith("..") ||
      /^file:/.test(relativePath)
    )
      return path;
    return new URL(relativePath, root).href;
  };
  const e2e = summary.e2e && {
    ...summary.e2e,
    reportDir: at(summary.e2e.reportDir),
    screenshots: summary.e2e.screenshots.map(at),
  };
  const visual = summary.visual && {
    ...summary.visual,
    pages: summary.visual.pages.map((page) => ({
      ...page,
      ...(page.preview === undefined ? {} : { preview: at(page.preview) }),
      ...(page.production === undefined ? {} : { production: at(page.production) }),
      ...(page.diff === undefined ? {} : { diff: at(page.diff) }),
    })),
  };
  return { ...summary, ...(e2e ? { e2e } : {}), ...(visual ? { visual } : {}) };
}

/** A linked thumbnail for a table cell, or "–" when the image is not published (no URL). */
function thumb(url: string | undefined, alt: string): string {
  const href = url ? webHref(url) : null;
  if (!href) return "–";
  const target = h(mdDestination(href));
  return `<a href="${target}"><img src="${target}" width="${THUMB_WIDTH}" alt="${h(oneLine(alt)).replace(/\|/g, "&#124;")}"></a>`;
}

/**
 * The comment's approval line, found again by {@link APPROVAL_MARKER} (approve-visual rewrites
 * it). `changes` counts the changed, added and removed page views.
 */
export function approvalLine(approval: VisualReport["approval"], changes: number): string {
  let text: string;
  if (approval?.state === "approved") {
    text = `✅ approved${approval.by ? ` by ${mdText(approval.by)}` : ""}`;
  } else if (changes === 0 || approval?.state === "not-needed") {
    text = "✅ no change to approve";
  } else {
    text =
      `⏳ waiting for approval: a reviewer with write access comments ${mdCode(APPROVE_COMMAND)} ` +
      "(the `codex/visual` check stays pending until then; a new push asks again)";
  }
  // The marker ends the line: a line that starts with an HTML comment is an HTML block in
  // CommonMark (GitHub's Markdown), and the rest of the line would not be rendered.
  return `**Approval:** ${text} ${APPROVAL_MARKER}`;
}

/**
 * The sticky comment's visual section: each changed page as a table (one row per viewport:
 * preview, production and diff side by side, each linking to its full-size image) with its
 * changed-pixel ratio, added and removed pages listed, unchanged ones folded into one
 * `<details>` line, the approval, and a link to the Playwright report. Images appear only by
 * http(s) URL (see {@link withPublishedReport}); call it on a scrubbed summary.
 */
export function renderVisualComment(summary: Summary): string {
  const visual = summary.visual;
  const blocks: string[] = ["### Visual changes"];
  const report = summary.e2e ? webHref(summary.e2e.reportDir) : null;
  const reportLink = report ? ` · [Playwright report](${mdDestination(report)})` : "";
  if (!visual) {
    const shots = (summary.e2e?.screenshots ?? []).filter((s) => webHref(s));
    if (shots.length === 0) return "";
    blocks.push(
      `Not compared with production.${reportLink}`,
      `<details><summary>${shots.length} screenshot(s)</summary>\n\n` +
        shots.map((s) => thumb(s, screenshotName(s))).join(" ") +
        "\n\n</details>",
    );
    return blocks.join("\n\n");
  }
  const pages = visual.pages;
  const changed = pages.filter((p) => p.status === "changed");
  const added = pages.filter((p) => p.status === "added");
  const removed = pages.filter((p) => p.status === "removed");
  const unchanged = pages.filter((p) => p.status === "unchanged");
  const counts =
    `**${changed.length} of ${pages.length} page views changed** against production ` +
    `${mdCode(visual.baseline)} (threshold ${formatRatio(visual.threshold)}${visual.reused ? ", its shots from an earlier run" : ""})`;
  blocks.push(`${counts}${reportLink}`);
  blocks.push(approvalLine(visual.approval, changed.length + added.length + removed.length));

  const byPage = new Map<string, VisualPage[]>();
  for (const page of changed) byPage.set(page.page, [...(byPage.get(page.page) ?? []), page]);
  for (const [name, views] of byPage) {
    blocks.push(
      `#### ${mdText(name)}`,
      mdTable(
        ["Viewport", "Changed", "Preview", "Production", "Diff"],
        views.map((v) => [
          mdText(v.viewport),
          v.ratio === undefined ? "?" : formatRatio(v.ratio),
          thumb(v.preview, `${pageLabel(v)}, preview`),
          thumb(v.production, `${pageLabel(v)}, production`),
          thumb(v.diff, `${pageLabel(v)}, changed pixels`),
        ]),
      ),
    );
  }
  if (added.length > 0) {
    blocks.push(
      `**Added** (not in production): ` +
        added
          .map((p) => {
            const href = p.preview ? webHref(p.preview) : null;
            return href
              ? `[${mdText(pageLabel(p))}](${mdDestination(href)})`
              : mdText(pageLabel(p));
          })
          .join(", "),
    );
  }
  if (removed.length > 0) {
    blocks.push(
      `**Removed** (only in production): ${removed.map((p) => mdText(pageLabel(p))).join(", ")}`,
    );
  }
  if (unchanged.length > 0) {
    blocks.push(
      `<details><summary>${unchanged.length} unchanged</summary>\n\n` +
        unchanged.map((p) => mdText(pageLabel(p))).join(", ") +
        "\n\n</details>",
    );
  }
  return blocks.join("\n\n");
}

/**
 * The sticky comment's Markdown: {@link renderMarkdown}, with the images (the visual comparison,
 * or the published screenshots) in their own section before the last line. Screenshots that are
 * URLs are shown there, not as full-size images in the tests' section.
 */
export function renderCommentMarkdown(summary: Summary, options: RenderOptions = {}): string {
  const s = clean(summary, options);
  const images = renderVisualComment(s);
  const { visual: _shownBelow, ...rest } = s;
  const base = renderMarkdown(
    rest.e2e
      ? {
          ...rest,
          e2e: { ...rest.e2e, screenshots: rest.e2e.screenshots.filter((p) => !webHref(p)) },
        }
      : rest,
    options,
  );
  if (!images) return base;
  const footer = base.lastIndexOf("\n\nUpdated ");
  return footer < 0
    ? `${base}\n${images}\n`
    : `${base.slice(0, footer)}\n\n${images}${base.slice(footer)}`;
}
