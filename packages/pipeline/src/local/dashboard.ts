/**
 * The local host's dashboard, at a fixed host (http://codex.localhost:PORT): every live
 * environment with its URLs, version and status, its last summary (served from the state folder)
 * and its visual verdict. Read-only: it serves only an environment's summary files and its e2e
 * folder (reports, screenshots, visual diffs), never its secrets or anything outside it.
 */
import { realpath, readFile, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join, relative, sep } from "node:path";
import { lookup } from "mime-types";
import { formatRatio } from "../core/format";
import type { Summary } from "../core/summary";
import type { LiveEnvironment } from "./miniflare-options";

export const DASHBOARD_HOSTNAME = "codex.localhost";

/** What an environment's folder may serve: its summaries and its e2e folder, nothing else. */
const SERVABLE = /^(summary\.html|summary\.md|e2e\/.+)$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const escape = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

/** The dashboard's own URL on this port. */
export function dashboardUrl(port: number | string): string {
  return `http://${DASHBOARD_HOSTNAME}:${port}/`;
}

/**
 * The file an `/envs/<name>/<path>` request names, inside that environment's folder; undefined
 * for anything else: another folder, a dot segment, an encoded slash, a path outside SERVABLE, a
 * symbolic link that leads out.
 */
export async function stateFile(
  envDir: (name: string) => string,
  urlPath: string,
): Promise<string | undefined> {
  const match = /^\/envs\/([^/]+)\/(.+)$/.exec(urlPath.split("?")[0] ?? "");
  const [, rawName = "", rawPath = ""] = match ?? [];
  if (!match) return undefined;
  let name: string;
  let segments: string[];
  try {
    name = decodeURIComponent(rawName);
    segments = rawPath.split("/").map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
  if (!NAME.test(name)) return undefined;
  const bad = (s: string) => s === "" || s === "." || s === ".." || /[/\\\0]/.test(s);
  if (segments.some(bad)) return undefined;
  const relativePath = segments.join("/");
  if (!SERVABLE.test(relativePath)) return undefined;
  try {
    const root = await realpath(envDir(name));
    const file = await realpath(join(root, ...segments));
    // Where a symbolic link really leads must be servable too (not secrets.json, not outside).
    const real = relative(root, file).split(sep).join("/");
    if (!file.startsWith(root + sep) || !SERVABLE.test(real)) return undefined;
    return (await stat(file)).isFile() ? file : undefined;
  } catch {
    return undefined;
  }
}

/** The environment's last summary, when it has one. */
async function readSummary(dir: string): Promise<Summary | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, "summary.json"), "utf8")) as Summary;
  } catch {
    return undefined;
  }
}

export interface DashboardEntry extends LiveEnvironment {
  status?: Summary["status"];
  updatedAt?: string;
  /** Links into this server, when the summary exists. */
  summary?: { html: string; markdown: string };
  e2e?: { passed: number; failed: number; screenshots: number };
  visual?: {
    baseline: string;
    changed: number;
    added: number;
    removed: number;
    unchanged: number;
    /** The changed pages, with their diff image's link. */
    pages: { page: string; viewport: string; ratio?: number; preview?: string; diff?: string }[];
  };
}

const fileLink = (name: string, path: string) =>
  `/envs/${encodeURIComponent(name)}/${path.split("/").map(encodeURIComponent).join("/")}`;

/** Each live environment, with what its last summary says. */
export async function dashboardEntries(
  live: LiveEnvironment[],
  envDir: (name: string) => string,
): Promise<DashboardEntry[]> {
  return Promise.all(
    live.map(async (env): Promise<DashboardEntry> => {
      const summary = NAME.test(env.name) ? await readSummary(envDir(env.name)) : undefined;
      if (!summary) return { ...env };
      const count = (status: string) =>
        summary.visual?.pages.filter((p) => p.status === status).length ?? 0;
      return {
        ...env,
        status: summary.status,
        updatedAt: summary.updatedAt,
        summary: {
          html: fileLink(env.name, "summary.html"),
          markdown: fileLink(env.name, "summary.md"),
        },
        ...(summary.e2e
          ? {
              e2e: {
                passed: summary.e2e.passed,
                failed: summary.e2e.failed,
                screenshots: summary.e2e.screenshots.length,
              },
            }
          : {}),
        ...(summary.visual
          ? {
              visual: {
                baseline: summary.visual.baseline,
                changed: count("changed"),
                added: count("added"),
                removed: count("removed"),
                unchanged: count("unchanged"),
                pages: summary.visual.pages
                  .filter((p) => p.status === "changed")
                  .map((p) => ({
                    page: p.page,
                    viewport: p.viewport,
                    ...(p.ratio !== undefined ? { ratio: p.ratio } : {}),
                    ...(p.preview ? { preview: fileLink(env.name, p.preview) } : {}),
                    ...(p.diff ? { diff: fileLink(env.name, p.diff) } : {}),
                  })),
              },
            }
          : {}),
      };
    }),
  );
}

const STYLE = `
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: #1f2328; }
main { max-width: 64rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.125rem; margin: 0 0 0.5rem; }
article { border: 1px solid #d1d9e0; border-radius: 6px; padding: 1rem; margin: 1rem 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 0.5rem 0; }
dt { font-weight: 600; } dd { margin: 0; overflow-wrap: anywhere; }
a { color: #0969da; } .muted { color: #59636e; }
.changed { color: #cf222e; font-weight: 600; } .ok { color: #1a7f37; font-weight: 600; }
.thumbs { display: flex; flex-wrap: wrap; gap: 0.75rem; } .thumbs figure { margin: 0; width: 14rem; }
.thumbs img { width: 100%; height: 9rem; object-fit: cover; object-position: top; border: 1px solid #d1d9e0; }
`.trim();

function entryHtml(e: DashboardEntry): string {
  const urls = (["web", "auth", "webhook"] as const)
    .map((k) => `<a href="${escape(e.urls[k])}">${escape(k)}</a>`)
    .join(" · ");
  const rows = [
    ["URLs", urls],
    ["Version", `<code>${escape(e.version)}</code>`],
    [
      "Status",
      e.status
        ? `${escape(e.status)}${e.updatedAt ? ` <span class="muted">(updated ${escape(e.updatedAt)})</span>` : ""}`
        : `<span class="muted">no summary yet</span>`,
    ],
  ];
  if (e.summary)
    rows.push([
      "Last summary",
      `<a href="${escape(e.summary.html)}">summary.html</a> · <a href="${escape(e.summary.markdown)}">summary.md</a>`,
    ]);
  if (e.e2e)
    rows.push([
      "End-to-end",
      escape(`${e.e2e.passed} passed, ${e.e2e.failed} failed, ${e.e2e.screenshots} screenshots`),
    ]);
  let thumbs = "";
  if (e.visual) {
    const v = e.visual;
    const counts = [
      v.changed ? `<span class="changed">${v.changed} changed</span>` : "",
      v.added ? `${v.added} added` : "",
      v.removed ? `${v.removed} removed` : "",
      v.unchanged ? `${v.unchanged} unchanged` : "",
    ].filter(Boolean);
    const verdict =
      v.changed || v.added || v.removed ? "" : `<span class="ok">no visual change</span> · `;
    rows.push([
      "Visual",
      `${verdict}${counts.join(", ") || "no pages"} <span class="muted">against ${v.baseline === "none yet" ? "no production yet" : `production ${escape(v.baseline)}`}</span>`,
    ]);
    thumbs = v.pages.length
      ? `<div class="thumbs">${v.pages
          .map(
            (p) =>
              `<figure><a href="${escape(p.diff ?? p.preview ?? "")}"><img src="${escape(p.preview ?? "")}" alt="${escape(`${p.page} (${p.viewport}) on the preview`)}" loading="lazy"></a><figcaption>${escape(`${p.page} (${p.viewport})`)}${p.ratio !== undefined ? ` · ${formatRatio(p.ratio)}` : ""}${p.diff ? ` · <a href="${escape(p.diff)}">diff</a>` : ""}</figcaption></figure>`,
          )
          .join("")}</div>`
      : "";
  }
  return `<article aria-labelledby="env-${escape(e.name)}"><h2 id="env-${escape(e.name)}"><a href="${escape(e.urls.web)}">${escape(e.name)}</a></h2><dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("")}</dl>${thumbs}</article>`;
}

/** The dashboard's page (HTML), or the same entries as JSON for who asks for it. */
export function dashboardPage(
  entries: DashboardEntry[],
  accept: string,
): { contentType: string; body: string } {
  if (accept.includes("application/json")) {
    return { contentType: "application/json", body: JSON.stringify({ environments: entries }) };
  }
  const body =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'">` +
    `<title>codex environments</title><style>${STYLE}</style></head><body><main><h1>codex environments</h1>` +
    (entries.length
      ? entries.map(entryHtml).join("")
      : "<p>No environment is live. Run <code>pnpm preview-deploy --pr 1</code>.</p>") +
    "</main></body></html>";
  return { contentType: "text/html; charset=utf-8", body };
}

/** Answers a request to the dashboard's host: the page, or a file of an environment's folder. */
export async function serveDashboard(
  request: IncomingMessage,
  response: ServerResponse,
  options: { live: LiveEnvironment[]; envDir: (name: string) => string },
): Promise<void> {
  const send = (status: number, contentType: string, body: string | Buffer) => {
    response.writeHead(status, {
      "content-type": contentType,
      "content-length": Buffer.byteLength(body),
      "x-content-type-options": "nosniff",
      "cache-control": "no-store",
    });
    response.end(request.method === "HEAD" ? undefined : body);
  };
  if (request.method !== "GET" && request.method !== "HEAD") {
    return send(405, "application/json", JSON.stringify({ error: "method_not_allowed" }));
  }
  const path = request.url ?? "/";
  if (path === "/" || path.startsWith("/?")) {
    const page = dashboardPage(
      await dashboardEntries(options.live, options.envDir),
      request.headers.accept ?? "",
    );
    return send(200, page.contentType, page.body);
  }
  const file = await stateFile(options.envDir, path);
  if (!file) return send(404, "application/json", JSON.stringify({ error: "not_found", path }));
  const type = lookup(file) || "application/octet-stream";
  send(200, /^text\/|json/.test(type) ? `${type}; charset=utf-8` : type, await readFile(file));
}
