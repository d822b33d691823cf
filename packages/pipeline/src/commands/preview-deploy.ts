import { join } from "node:path";
import { migrate } from "@codex/database/migrate";
import { checkLiveRelease } from "./old-code";
import { deriveStack, loadStack } from "../core/derive";
import type { Environment } from "../core/environments";
import { PipelineError } from "../errors";
import { checkSchema } from "../schema";
import { pendingMigrations } from "../schema/pending";
import { REPO_ROOT, withLock } from "../state";
import type { Summary } from "../core/summary";
import {
  contextFor,
  finishDeploy,
  startSummary,
  targetLabel,
  type CommandIO,
  type LocalTarget,
  type Target,
} from "./context";
import { assertChromium, checkSpecFilter, e2eSummary, runPlaywright } from "../playwright";
import { clearShots, compareWithLiveProduction, visualFolders, visualVerdict } from "../visual";
import {
  applyEndpoint,
  planEndpoint,
  retireReplaced,
  retiresAny,
} from "../providers/stripe/preview-endpoint";
import { assertTestsPassed, countTests, runPlatformTests, testsOfSummary } from "./platform-tests";

export interface PreviewDeployOptions {
  /** The preview, parsed from `--pr N` by the caller (previewEnvironment). */
  environment: Environment;
  skipTests?: boolean;
  reset?: boolean;
  /** Also run the Playwright suite against the new environment, with screenshots in the summary. */
  e2e?: boolean;
  /** Only the Playwright spec files matching this ("visual"); all of them by default. */
  e2eSpec?: string;
  /** The changed-pixel ratio above which a page counts as changed (DEFAULT_VISUAL_THRESHOLD). */
  visualThreshold?: number;
  /** Build new bundles even when nothing changed (a new version). */
  rebuild?: boolean;
  target?: Target;
  /** The local target's state folder and port, when not CODEX_STATE_DIR and CODEX_PORT. */
  local?: LocalTarget;
}

/**
 * preview-deploy --pr N: an isolated, browsable copy of the whole stack for PR N. Running it
 * again updates the environment in place.
 */
export async function previewDeploy(
  options: PreviewDeployOptions,
  io: CommandIO,
): Promise<Summary> {
  // Validate everything before anything is created.
  const { environment } = options;
  if (options.e2eSpec !== undefined) checkSpecFilter(options.e2eSpec);
  const stack = deriveStack(loadStack(REPO_ROOT), environment);
  const ctx = contextFor(options.target ?? "local", io, options.local, environment.kind);
  const { progress } = ctx;
  const urls = ctx.workers.urls(environment);
  const summary = startSummary(ctx, environment.name, urls);
  // A preview's own Stripe endpoint brings its signing secret; otherwise it must be configured.
  await ctx.preflight(stack, ctx.webhooks ? ["STRIPE_WEBHOOK_SECRET"] : []);
  // Reuse the endpoint whose secret the Workers hold, or count the room for a new one, now.
  const webhooks = ctx.webhooks;
  const endpointPlan = webhooks
    ? await planEndpoint(webhooks, environment, new URL("/webhook", urls.webhook).href, () =>
        ctx.holdsSecret(stack, "STRIPE_WEBHOOK_SECRET"),
      )
    : undefined;

  progress.line(`preview-deploy ${environment.name} (${targetLabel(ctx)})`);
  return withLock(ctx.paths, environment.name, async () => {
    try {
      const database = await ctx.database();
      const main = await progress.step(
        "prepare main",
        () => database.ensureMain(),
        (m) => (m.created ? "created, migrated and seeded" : "ready"),
      );
      await ctx.register(environment);
      const branch = await progress.step(
        options.reset ? "re-copy the database branch from main" : "branch the database from main",
        () => database.ensure(environment, { reset: options.reset ?? false }),
        (b) => `${b.name} ${b.created ? "created" : "reused"}`,
      );
      const migrations = await progress.step(
        "migrate the branch",
        // Directly, not through Neon's pooler: schema migrations need a direct connection.
        () => migrate(branch.directUrl),
        (m) => (m.applied.length ? `applied ${m.applied.join(", ")}` : "none pending"),
      );
      summary.database = {
        branch: branch.name,
        migrationsApplied: migrations.applied,
        migrationsTotal: migrations.total,
      };
      // The verdict production-deploy would give, shown now (the preview itself goes ahead).
      await checkSchema(progress, {
        mainUrl: main.directUrl,
        migratedUrl: branch.directUrl,
        enforce: false,
        summary,
      });
      // The PR's migrations (those main lacks) against the code production serves: a verdict
      // for the reviewer, in the summary and the PR comment; the preview deploys either way.
      await checkLiveRelease(ctx, summary, {
        databaseUrl: branch.directUrl,
        pending: (await pendingMigrations(main.directUrl)).map((m) => m.tag),
        onFailure: "report",
      });

      if (options.skipTests || process.env.CODEX_NESTED_RUN) {
        summary.testsSkipped = true;
        progress.skip("run the platform tests", options.skipTests ? "--skip-tests" : "nested run");
      } else {
        // A failed run fails its step (✗), and the error names what failed.
        await progress.step(
          "run the platform tests against the branch",
          async () => {
            const tests = await runPlatformTests({ databaseUrl: branch.directUrl });
            summary.tests = testsOfSummary(tests);
            assertTestsPassed(
              tests,
              "Nothing was deployed. Fix the tests, or pass --skip-tests to deploy anyway.",
            );
            return tests;
          },
          countTests,
        );
      }

      let endpointId: string | undefined;
      if (webhooks && endpointPlan) {
        await progress.step(
          "give the preview its own Stripe webhook endpoint",
          async () => {
            const endpoint = await applyEndpoint(webhooks, endpointPlan);
            endpointId = endpoint.id;
            // Reused: the Workers keep the secret they hold (Stripe would not show it again).
            if (endpoint.secret === undefined) ctx.keepSecret(environment, "STRIPE_WEBHOOK_SECRET");
            else ctx.provideSecret(environment, "STRIPE_WEBHOOK_SECRET", endpoint.secret);
            return endpoint;
          },
          (e) => `${e.id} ${e.created ? "created" : "reused"} → ${endpointPlan.url}`,
        );
      }

      const deployed = await progress.step(
        "build and deploy the three Workers",
        () =>
          ctx.workers.deploy(stack, {
            database: ctx.deployDatabase(branch),
            rebuild: options.rebuild ?? false,
          }),
        (d) => `${d.version}${d.built ? "" : " (unchanged: bundles reused)"}`,
      );
      summary.version = deployed.version;
      if (webhooks && endpointPlan && endpointId && retiresAny(endpointPlan)) {
        // Only now that the Workers verify the new endpoint's events may the old one go.
        const keep = endpointId;
        await progress.step(
          "delete the Stripe endpoint the new one replaces",
          () => retireReplaced(webhooks, endpointPlan, keep),
          (d) => (d ? "deleted" : "there was none"),
        );
      }

      await progress.step("smoke-check web, auth and webhook", () => ctx.smoke(urls, environment));
      summary.status = "deployed";
      if (options.e2e) {
        await assertChromium();
        const envDir = ctx.paths.env(environment.name);
        const reportDir = join(envDir, "e2e");
        const spec = options.e2eSpec !== undefined ? { spec: options.e2eSpec } : {};
        await clearShots(envDir);
        const result = await progress.step(
          "e2e against the preview",
          () =>
            runPlaywright(
              {
                baseUrl: urls.web,
                environment: environment.name,
                reportDir,
                visualDir: visualFolders(envDir).preview,
                ...spec,
              },
              io,
            ),
          (r) => `${r.passed} passed, ${r.failed} failed`,
        );
        summary.e2e = e2eSummary(envDir, result);
        const visual = await progress.step(
          "shoot production and compare the pages",
          () =>
            compareWithLiveProduction({
              envDir,
              workers: ctx.workers,
              ...(options.visualThreshold !== undefined
                ? { threshold: options.visualThreshold }
                : {}),
              io,
            }),
          visualVerdict,
        );
        if (visual) summary.visual = visual;
        // On the cloud, where GitHub can show it: the report, screenshots and visual images.
        const publishReport = ctx.publishReport;
        if (publishReport) {
          const published = await progress.step(
            "publish the e2e report",
            () => publishReport(environment, reportDir, [branch.url, branch.directUrl]),
            (p) =>
              `${p.url} (${p.files.length} files` +
              `${p.skipped.length ? `; left out: ${p.skipped.map((s) => s.file).join(", ")}` : ""})`,
          );
          summary.reportUrl = published.url;
        }
        if (result.failed)
          throw new PipelineError(
            "TESTS_FAILED",
            `${result.failed} e2e test(s) failed against ${urls.web}`,
          );
      }
    } catch (error) {
      summary.status = "failed";
      summary.error = (error as Error).message;
      throw error;
    } finally {
      await finishDeploy(ctx, summary);
    }
    return summary;
  });
}
