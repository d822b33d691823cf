import { ensureHost, configuredPort } from "../local/host-client";
import type { HostStatus } from "../local/host";
import { statePaths, type StatePaths } from "../local/state";
import { LocalDatabaseBranches } from "../providers/database/local";
import { LocalReviewChannel } from "../providers/review/local";
import { LocalWorkerPlatform } from "../providers/workers/local";
import { Progress } from "../progress";
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
