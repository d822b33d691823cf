/**
 * The report Worker: a static-assets-only Worker per preview (`codex-report-preview-<N>`, named
 * by core/environments.ts) that publishes the environment's e2e folder (the Playwright HTML
 * report, the screenshots, and the visual comparison's preview, production and diff images) at
 * `https://<name>.<subdomain>.workers.dev`, so that the pull request's comment can show them: GitHub
 * takes no image uploads through its API.
 *
 * An assets-only Worker has a wrangler config with `assets.directory` and no `main`
 * (https://developers.cloudflare.com/workers/static-assets/#assets-only-workers, supported by
 * wrangler since 3.x; 4.86 uploads it as a manifest, the missing files, then the Worker's
 * metadata with the completion token: https://developers.cloudflare.com/workers/static-assets/direct-upload/).
 * It has no code, no vars, no secrets and no bindings. What it serves is public to anyone with
 * the URL, so before the upload every file is searched for the run's known secret values (in
 * every form the scrubber knows, core/scrub.ts), and a hit refuses the publish, naming the file; compressed files
 * (Playwright's trace archives) cannot be searched and are left out: they stay in the run's
 * artifact.
 */
import { existsSync } from "node:fs";
import { cp, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join, relative, sep } from "node:path";
import { checkEnvironment, reportWorkerName, type Environment } from "../../../core/environments";
import { secretForms } from "../../../core/scrub";
import { PipelineError, userError } from "../../../errors";
import {
  NOT_FOUND_CODES,
  WRANGLER_FAILED,
  describeExit,
  stripAnsi,
  tail,
  type Wrangler,
} from "./wrangler";

/** Cloudflare's limit on one static asset (https://developers.cloudflare.com/workers/platform/limits/#static-assets). */
export const ASSET_MAX_BYTES = 25 * 1024 * 1024;
/** Cloudflare's limit on the number of static assets per Worker version (free plan), same page. */
export const ASSET_MAX_FILES = 20_000;
/** Archives cannot be searched for secrets: they are not published. */
const UNSEARCHABLE = new Set([".zip", ".gz", ".br", ".zst", ".7z"]);
/** The compatibility date of the report Worker's config (it runs no code: any recent date). */
const COMPATIBILITY_DATE = "2026-04-20";

export interface PublishedReport {
  name: string;
  url: string;
  /** Files uploaded (relative to the published root, "/" separated). */
  files: string[];
  /** Files left out, with why. */
  skipped: { file: string; why: string }[];
}

/** The summary folder's `e2e` folder is published under `/e2e/`: summary paths resolve as they are. */
export const REPORT_FOLDER = "e2e";

/**
 * Deploys the report Worker of `environment` with the files of `e2eDir`, placed under
 * `/e2e/` so that a path relative to the summary's folder ("e2e/html/index.html") is the same
 * path on the Worker. `secrets` are the values that must not be published.
 */
export async function publishReport(
  wrangler: Wrangler,
  environment: Environment,
  e2eDir: string,
  options: { subdomain: string; secrets: readonly string[] },
): Promise<PublishedReport> {
  const env = checkEnvironment(environment);
  const name = reportWorkerName(env);
  if (!existsSync(e2eDir) || !(await stat(e2eDir)).isDirectory()) {
    throw userError(
      "INVALID_ARGUMENT",
      `there is no e2e folder to publish for ${env.name} (${e2eDir})`,
      "Run the deploy with --e2e first.",
    );
  }
  const stage = await mkdtemp(join(tmpdir(), "codex-report-"));
  try {
    const site = join(stage, "site");
    const skipped: { file: string; why: string }[] = [];
    await cp(e2eDir, join(site, REPORT_FOLDER), {
      recursive: true,
      dereference: false,
      filter: async (source) => {
        const info = await stat(source);
        if (info.isDirectory()) return true;
        const file = relative(e2eDir, source).split(sep).join("/");
        if (!info.isFile()) {
          skipped.push({ file, why: "not a regular file" });
          return false;
        }
        if (UNSEARCHABLE.has(extname(source).toLowerCase())) {
          skipped.push({ file, why: "an archive (a trace): it stays in the run's artifact" });
          return false;
        }
        if (info.size > ASSET_MAX_BYTES) {
          skipped.push({
            file,
            why: `larger than Cloudflare's ${ASSET_MAX_BYTES} bytes per asset`,
          });
          return false;
        }
        return true;
      },
    });
    const files = await listFiles(site);
    if (files.length + 1 > ASSET_MAX_FILES) {
      throw userError(
        "INVALID_ARGUMENT",
        `the e2e folder of ${env.name} holds ${files.length} files; a Worker holds at most ${ASSET_MAX_FILES}`,
      );
    }
    await assertNoSecrets(site, files, options.secrets);
    // The root points at the Playwright report, when there is one.
    const report = files.find((f) => f === `${REPORT_FOLDER}/html/index.html`);
    await writeFile(join(site, "index.html"), rootPage(env.name, report));
    const config = join(stage, "wrangler.json");
    await writeFile(
      config,
      `${JSON.stringify(
        {
          name,
          compatibility_date: COMPATIBILITY_DATE,
          assets: { directory: "./site" },
          workers_dev: true,
          preview_urls: false,
        },
        null,
        2,
      )}\n`,
      { mode: 0o600 },
    );
    const result = await wrangler.runIn(stage, [
      "deploy",
      "--config",
      config,
      "--message",
      `codex report of ${env.name}`,
    ]);
    if (result.code !== 0) {
      throw new PipelineError(
        WRANGLER_FAILED,
        `wrangler deploy of the report Worker ${name} ${describeExit(result)}:\n${tail(result, options.secrets)}`,
        { hint: "Run the deploy again: the report Worker is replaced in place." },
      );
    }
    return {
      name,
      url: `https://${name}.${options.subdomain}.workers.dev`,
      files: [...files, "index.html"],
      skipped,
    };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Deletes the report Worker of `environment`; false when there was none. Idempotent. */
export async function deleteReport(wrangler: Wrangler, environment: Environment): Promise<boolean> {
  const name = reportWorkerName(checkEnvironment(environment));
  // No config is needed: --name says which Worker. An empty folder, so none is read by mistake.
  const cwd = await mkdtemp(join(tmpdir(), "codex-report-delete-"));
  try {
    const result = await wrangler.runIn(cwd, ["delete", "--name", name, "--force"]);
    if (result.code === 0) return true;
    if (NOT_FOUND_CODES.test(stripAnsi(result.stdout + result.stderr))) return false;
    throw new PipelineError(
      WRANGLER_FAILED,
      `deleting the report Worker ${name} failed: wrangler delete ${describeExit(result)}:\n${tail(result, [])}`,
      { hint: "Run the cleanup again: Workers already gone count as deleted." },
    );
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join("/"))
    .sort();
}

/**
 * Refuses to publish when a file holds a known secret value, as bytes (text, or an image's
 * metadata), as it is or URL-encoded. The message names the file, never the value.
 */
async function assertNoSecrets(
  root: string,
  files: readonly string[],
  secrets: readonly string[],
): Promise<void> {
  // Short values (a "true", a port) would match by chance; real secrets are longer.
  const needles = secretForms(secrets)
    .filter((form) => form.length >= 8)
    .map((form) => Buffer.from(form));
  if (needles.length === 0) return;
  for (const file of files) {
    const bytes = await readFile(join(root, file));
    if (needles.some((needle) => bytes.includes(needle))) {
      throw new PipelineError(
        "CLOUD_FAILED",
        `refusing to publish the report: ${file} holds a secret value of this run`,
        {
          kind: "user",
          hint: "Find what wrote it (a test printing its environment?) and remove it; nothing was published.",
        },
      );
    }
  }
}

function rootPage(environment: string, report: string | undefined): string {
  const link = report
    ? `<p><a href="/${report}">Playwright report</a></p>`
    : "<p>No Playwright report was published.</p>";
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>codex report: ${environment}</title></head>` +
    `<body><h1>codex report: ${environment}</h1>${link}</body></html>\n`
  );
}
