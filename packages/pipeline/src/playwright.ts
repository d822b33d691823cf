/** Running the Playwright suite (apps/web/e2e) and reading its results. */
import { access, readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { CommandIO } from "./commands/context";
import { PipelineError, userError } from "./errors";
import { run } from "./exec";
import { REPO_ROOT } from "./state";
import type { Summary } from "./core/summary";

export interface E2eResult {
  passed: number;
  failed: number;
  skipped: number;
  durationMs: number;
  reportDir: string;
  screenshots: string[];
}

export async function assertChromium(): Promise<string> {
  const path = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  try {
    await access(path);
    return path;
  } catch {
    throw userError(
      "CHROMIUM_MISSING",
      `no Chromium at ${path}`,
      "Install Debian's: `apt-get install -y chromium`, or set CHROMIUM_PATH to a Chromium binary.",
    );
  }
}

/** An `--e2e-spec` value: part of a spec file's name, nothing Playwright could take for a flag. */
export function checkSpecFilter(spec: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(spec))
    throw userError(
      "INVALID_ARGUMENT",
      `--e2e-spec must be part of a spec file's name, such as "visual" (got "${spec}")`,
    );
  return spec;
}

/**
 * The Playwright file filter for `--e2e-spec`. Playwright matches its filters, as regular
 * expressions, against the whole path: only the spec file's own name may match, never a folder's
 * (a checkout in /tmp/codex-visual-x/ would otherwise run every spec).
 */
export function specFileFilter(spec: string): string {
  return `(^|/)${checkSpecFilter(spec).replaceAll(".", "\\.")}[^/]*\\.spec\\.ts$`;
}

interface PlaywrightJson {
  stats: { expected: number; unexpected: number; skipped: number; flaky: number; duration: number };
}

/** The e2e part of a summary, with paths relative to the summary's folder `dir`. */
export function e2eSummary(dir: string, result: E2eResult): NonNullable<Summary["e2e"]> {
  return {
    passed: result.passed,
    failed: result.failed,
    skipped: result.skipped,
    durationMs: result.durationMs,
    reportDir: relative(dir, join(result.reportDir, "html", "index.html")),
    screenshots: result.screenshots.map((s) => relative(dir, s)),
  };
}

/** Runs the Playwright suite against `baseUrl` (or, without one, a fresh stack it serves itself). */
export async function runPlaywright(
  options: {
    baseUrl?: string;
    environment?: string;
    reportDir: string;
    /** Only the spec files whose path matches this (Playwright's file filter): "visual". */
    spec?: string;
    /** Where the visual spec writes `<viewport>/<page>.png` (default: <reportDir>/visual). */
    visualDir?: string;
    /** Only shots of an environment the run does not change (E2E_SHOTS_ONLY, the config's). */
    shotsOnly?: boolean;
  },
  io: CommandIO,
): Promise<E2eResult> {
  const started = Date.now();
  const env: NodeJS.ProcessEnv = { ...process.env, E2E_REPORT_DIR: options.reportDir };
  if (options.baseUrl) env.E2E_BASE_URL = options.baseUrl;
  else delete env.E2E_BASE_URL;
  if (options.environment) env.E2E_ENVIRONMENT = options.environment;
  if (options.visualDir) env.E2E_VISUAL_DIR = options.visualDir;
  else delete env.E2E_VISUAL_DIR;
  if (options.shotsOnly) env.E2E_SHOTS_ONLY = "1";
  else delete env.E2E_SHOTS_ONLY;
  const args = ["--filter", "@codex/web", "exec", "playwright", "test"];
  if (options.spec !== undefined) args.push(specFileFilter(options.spec));
  const { code } = await run("pnpm", args, {
    cwd: REPO_ROOT,
    env,
    onLine: (line) => {
      if (line.trim()) io.out(`  ${line}`);
    },
  });
  const report = JSON.parse(
    await readFile(join(options.reportDir, "results.json"), "utf8").catch(() => "null"),
  ) as PlaywrightJson | null;
  if (!report)
    throw new PipelineError("TESTS_FAILED", `Playwright ended (exit ${code}) without a report`);
  const screenshotsDir = join(options.reportDir, "screenshots");
  const screenshots = (await readdir(screenshotsDir).catch(() => [] as string[]))
    .filter((f) => f.endsWith(".png"))
    .sort()
    .map((f) => join(screenshotsDir, f));
  return {
    passed: report.stats.expected + report.stats.flaky,
    failed: report.stats.unexpected + (code !== 0 && report.stats.unexpected === 0 ? 1 : 0),
    skipped: report.stats.skipped,
    durationMs: Date.now() - started,
    reportDir: options.reportDir,
    screenshots,
  };
}
