import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { freePort } from "@codex/database/embedded";
import { stopHost } from "../local/host-client";
import { statePaths } from "../state";
import { previewDeploy } from "./preview-deploy";
import {
  assertChromium,
  checkSpecFilter,
  e2eSummary,
  runPlaywright,
  type E2eResult,
} from "../playwright";
import { join } from "node:path";
import { previewEnvironment } from "../core/environments";
import { PipelineError, userError } from "../errors";
import { readJson, REPO_ROOT } from "../state";
import { formatDuration } from "../core/format";
import { clearShots, compareWithLiveProduction, visualFolders, visualVerdict } from "../visual";
import type { Summary } from "../core/summary";
import { localContext, type CommandIO, type LocalTarget } from "./context";

export interface E2eOptions {
  pr?: string;
  baseUrl?: string;
  /** Only the spec files whose own name starts with this (`--e2e-spec`, as preview-deploy's). */
  spec?: string;
  /** The local target's state folder and port, when not CODEX_STATE_DIR and CODEX_PORT. */
  local?: LocalTarget;
}

/**
 * Without --pr or --base-url: deploy a fresh local preview in a state folder and on a port of
 * its own (so the developer's previews are untouched), run the suite against it, remove it.
 */
async function e2eOnFreshPreview(io: CommandIO, spec?: string): Promise<E2eResult> {
  const dir = await mkdtemp(join(tmpdir(), "codex-e2e-"));
  await chmod(dir, 0o755); // as root, Postgres runs as `postgres` and must enter it
  const local = { paths: statePaths(dir), port: await freePort() };
  try {
    io.out(`e2e: deploying a fresh local preview (state in ${dir})`);
    const environment = previewEnvironment(1);
    const summary = await previewDeploy({ environment, skipTests: true, local }, io);
    const web = summary.urls?.web ?? `http://pr-1.localhost:${local.port}`;
    return await e2e(
      { baseUrl: web, local, ...(spec !== undefined ? { spec } : {}) },
      io,
      summary.environment,
    );
  } finally {
    await stopHost(local.paths).catch(() => false);
    await rm(dir, { recursive: true, force: true });
  }
}

/** e2e [--pr N | --base-url URL]: the Playwright suite; with --pr, its results join the summary. */
export async function e2e(
  options: E2eOptions,
  io: CommandIO,
  environmentName?: string,
): Promise<E2eResult> {
  if (options.pr !== undefined && options.baseUrl !== undefined) {
    throw userError("INVALID_ARGUMENT", "give either --pr N or --base-url URL, not both");
  }
  if (options.baseUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(options.baseUrl)) {
    throw userError(
      "INVALID_ARGUMENT",
      `--base-url must be an http(s) URL (got "${options.baseUrl}")`,
    );
  }
  if (options.spec !== undefined) checkSpecFilter(options.spec);
  const environment = options.pr === undefined ? undefined : previewEnvironment(options.pr);
  await assertChromium();
  if (!environment && options.baseUrl === undefined) return e2eOnFreshPreview(io, options.spec);
  const ctx = localContext(io, options.local);
  const { progress } = ctx;
  let baseUrl = options.baseUrl;
  let reportDir = join(REPO_ROOT, "reports", "e2e");
  if (environment) {
    const deployed = (await ctx.workers.list()).find((e) => e.name === environment.name);
    if (!deployed?.version) {
      throw userError(
        "NOT_FOUND",
        `${environment.name} is not deployed`,
        `Deploy it first: pnpm preview-deploy --pr ${environment.pr}`,
      );
    }
    await ctx.preflight();
    await ctx.database(); // the local host must be up to serve it
    baseUrl = deployed.urls.web;
    reportDir = join(ctx.paths.env(environment.name), "e2e");
    await clearShots(ctx.paths.env(environment.name));
  }
  const result = await progress.step(
    `e2e against ${baseUrl ?? "a fresh local stack"}`,
    () =>
      runPlaywright(
        {
          ...(baseUrl ? { baseUrl } : {}),
          ...(environment || environmentName
            ? { environment: environment?.name ?? environmentName }
            : {}),
          reportDir,
          ...(options.spec !== undefined ? { spec: options.spec } : {}),
          ...(environment
            ? { visualDir: visualFolders(ctx.paths.env(environment.name)).preview }
            : {}),
        },
        io,
      ),
    (r) => `${r.passed} passed, ${r.failed} failed`,
  );
  if (environment) {
    const envDir = ctx.paths.env(environment.name);
    // The same comparison with production as preview-deploy --e2e makes.
    const visual = await progress.step(
      "shoot production and compare the pages",
      () => compareWithLiveProduction({ envDir, workers: ctx.workers, io }),
      visualVerdict,
    );
    const summaryFile = join(envDir, "summary.json");
    const summary = await readJson<Summary>(summaryFile);
    if (summary) {
      summary.e2e = e2eSummary(envDir, result);
      if (visual) summary.visual = visual;
      else delete summary.visual;
      summary.updatedAt = new Date().toISOString();
      await ctx.publish(summary);
    }
  }
  progress.line();
  progress.line(
    `${result.failed ? "✗" : "✓"} e2e: ${result.passed} passed, ${result.failed} failed in ${formatDuration(result.durationMs)}`,
  );
  progress.line(`  report       ${join(reportDir, "html", "index.html")}`);
  progress.line(`  screenshots  ${join(reportDir, "screenshots")}`);
  if (result.failed) throw new PipelineError("TESTS_FAILED", `${result.failed} e2e test(s) failed`);
  return result;
}
