import { ensureHost, configuredPort } from "../local/host-client";
import type { HostStatus } from "../local/host";
import { statePaths, type StatePaths } from "../local/state";
import { LocalDatabaseBranches } from "../providers/database/local";
import { LocalReviewChannel } from "../providers/review/local";
import { LocalWorkerPlatform } from "../providers/workers/local";
import { formatDuration, Progress } from "../progress";
import type { Summary } from "../providers/review/shared";
import { join } from "node:path";
import { readJson, withLock, writeFileAtomic } from "../local/state";

/** Everything a command needs on the local target. Cloud comes with its own (issue 5). */
export interface LocalContext {
  paths: StatePaths;
  port: number;
  progress: Progress;
  workers: LocalWorkerPlatform;
  review: LocalReviewChannel;
  /** Publishes the summary (and keeps it as summary.json, for later commands to extend). */
  publish(summary: Summary): Promise<{ location: string }>;
  /** Starts the host if needed; databases are reachable only after this. */
  host(): Promise<{ status: HostStatus; database: LocalDatabaseBranches }>;
}

export interface CommandIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

export function localContext(io: CommandIO): LocalContext {
  const paths = statePaths();
  const port = configuredPort();
  const progress = new Progress({ write: io.out });
  let opened: { status: HostStatus; database: LocalDatabaseBranches } | undefined;
  const workers = new LocalWorkerPlatform(paths, port);
  // The environment's own secret values, scrubbed from its summary should any ever reach it.
  let secretValues: string[] = [];
  const review = new LocalReviewChannel({
    dir: (environment) => paths.env(environment),
    secrets: () => secretValues,
  });
  return {
    paths,
    port,
    progress,
    workers,
    review,
    async publish(summary) {
      const secrets = await readJson<Record<string, string>>(
        join(paths.env(summary.environment), "secrets.json"),
      ).catch(() => undefined);
      secretValues = Object.values(secrets ?? {});
      await writeFileAtomic(
        join(paths.env(summary.environment), "summary.json"),
        JSON.stringify(summary, null, 2),
      );
      return review.publish(summary);
    },
    async host() {
      if (!opened) {
        const status = await ensureHost(paths);
        opened = {
          status,
          database: new LocalDatabaseBranches(status.pgPort, (fn) =>
            withLock(paths, "main-database", fn),
          ),
        };
      }
      return opened;
    },
  };
}

/** A deploy's summary as it starts: in progress, with the steps recorded as they run. */
export function startSummary(
  ctx: LocalContext,
  environment: string,
  urls: Summary["urls"],
): Summary {
  return {
    environment,
    target: "local",
    status: "in-progress",
    urls,
    database: null,
    steps: ctx.progress.steps,
    updatedAt: new Date().toISOString(),
  };
}

/**
 * Publishes a deploy's summary and prints its outcome: the URLs when it is deployed, and where
 * the summary is. Why it failed is printed by the CLI, from the error.
 */
export async function finishDeploy(ctx: LocalContext, summary: Summary): Promise<void> {
  summary.updatedAt = new Date().toISOString();
  const published = await ctx.publish(summary).catch(() => undefined);
  const { progress } = ctx;
  const ok = summary.status === "deployed";
  progress.line();
  progress.line(
    `${ok ? "✓" : "✗"} ${summary.environment} ${summary.status} in ${formatDuration(progress.elapsedMs)}`,
  );
  if (ok && summary.urls) {
    progress.line(`  web      ${summary.urls.web}`);
    progress.line(`  auth     ${summary.urls.auth}`);
    progress.line(`  webhook  ${summary.urls.webhook}`);
  }
  if (published) progress.line(`  summary  ${published.location}`);
}
