import { migrate } from "@codex/database/migrate";
import { deriveStack, loadStack } from "../core/derive";
import { databaseName, PRODUCTION } from "../core/environments";
import { PipelineError } from "../errors";
import { checkSchema } from "../schema";
import { REPO_ROOT, withLock } from "../state";
import type { Summary } from "../core/summary";
import { checkLiveRelease } from "./old-code";
import {
  contextFor,
  finishDeploy,
  startSummary,
  targetLabel,
  type CommandIO,
  type Target,
} from "./context";

/**
 * production-deploy: try the pending migrations on a throwaway copy of main, and the release
 * production serves now on that copy (commands/old-code.ts), migrate main, deploy
 * production, smoke-check it, and on failure put the previous version back and say so. What
 * "previous" is comes from the platform itself before anything changes (on the cloud target,
 * Cloudflare's deployments), so a CI runner that remembers nothing still rolls back.
 */
export async function productionDeploy(
  options: { rebuild?: boolean; target?: Target; allowIncompatible?: boolean },
  io: CommandIO,
): Promise<Summary> {
  const environment = PRODUCTION;
  const stack = deriveStack(loadStack(REPO_ROOT), environment);
  const ctx = contextFor(options.target ?? "local", io, undefined, environment.kind);
  const { progress } = ctx;
  const urls = ctx.workers.urls(environment);
  const summary = startSummary(ctx, environment.name, urls);
  await ctx.preflight(stack);
  progress.line(`production-deploy (${targetLabel(ctx)})`);
  return withLock(ctx.paths, environment.name, async () => {
    let previous: string | undefined;
    let deploying = false;
    let databaseUrl: string | undefined;
    try {
      previous = await progress.step(
        "record what production serves now",
        () => ctx.workers.live(environment),
        (live) => (live ? short(live) : "nothing yet"),
      );
      const database = await ctx.database();
      const main = await progress.step(
        ctx.target === "cloud" ? "find main (the default branch)" : "prepare main",
        () => database.ensureMain(),
        (m) => (m.created ? "created, migrated and seeded" : "ready"),
      );
      // The copy also serves the old-code check: the live release, tried on the migrated schema.
      const scratch = await database.scratch("migration_check");
      try {
        const tried = await progress.step(
          "try the pending migrations on a throwaway copy of main",
          async () => {
            try {
              return await migrate(scratch.url);
            } catch (error) {
              throw new PipelineError(
                "MIGRATION_FAILED",
                `a migration fails on a copy of main, so main was not touched: ${(error as Error).message}`,
                {
                  cause: error,
                  hint: "Fix the migration; production still serves the previous version.",
                },
              );
            }
          },
          (m) => (m.applied.length ? `${m.applied.length} pending, all apply` : "none pending"),
        );
        // Lint, schema diff (main against the migrated copy) and the destructive-change gate,
        // which refuses before main is touched.
        await checkSchema(progress, {
          mainUrl: main.directUrl,
          migratedUrl: scratch.url,
          enforce: true,
          summary,
        });
        await checkLiveRelease(ctx, summary, {
          databaseUrl: scratch.url,
          pending: tried.applied,
          onFailure: options.allowIncompatible ? "allow" : "refuse",
          live: async () => previous,
        });
      } finally {
        await scratch.drop();
      }
      const migrations = await progress.step(
        "migrate main",
        () => migrate(main.directUrl),
        (m) => (m.applied.length ? `applied ${m.applied.join(", ")}` : "none pending"),
      );
      summary.database = {
        branch: databaseName(environment),
        migrationsApplied: migrations.applied,
        migrationsTotal: migrations.total,
      };
      databaseUrl = ctx.deployDatabase({ name: databaseName(environment), url: main.url });
      deploying = true;
      const result = await progress.step(
        "build and deploy the Workers, then web",
        () =>
          ctx.workers.deploy(stack, {
            database: databaseUrl as string,
            rebuild: options.rebuild ?? false,
          }),
        (d) => `${d.version}${d.built ? "" : " (unchanged: bundles reused)"}`,
      );
      summary.version = result.version;
      await progress.step("smoke-check production", () =>
        ctx.smoke(urls, environment).then(() => undefined),
      );
      await progress.step("refresh the snapshot new previews copy", () =>
        database.refreshFromMain(),
      );
      summary.status = "deployed";
    } catch (error) {
      summary.status = "failed";
      summary.error = (error as Error).message;
      // Also after a deploy that stopped halfway: the Workers it changed go back, the rest are skipped.
      if (deploying && previous && previous !== summary.version) {
        const to = previous;
        const back = await progress
          .step(`roll back to ${short(to)}`, () =>
            ctx.workers.rollback(environment, to, databaseUrl ? { database: databaseUrl } : {}),
          )
          .catch(() => undefined);
        if (back)
          summary.error += `\nRolled back from ${back.from} to ${back.to}: production serves ${back.to} again.`;
      }
      throw error;
    } finally {
      await finishDeploy(ctx, summary);
    }
    return summary;
  });
}

/** A version id as deploys print them: full Cloudflare version ids cut to their first 8 characters. */
function short(version: string): string {
  return version
    .split(".")
    .map((id) => (/^[0-9a-f]{8}-[0-9a-f-]{27}$/.test(id) ? id.slice(0, 8) : id))
    .join(".");
}
