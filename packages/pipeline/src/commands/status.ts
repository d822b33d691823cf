import { hostStatus } from "../local/host-client";
import { readRegistry } from "../local/registry";
import type { DeployedEnvironment } from "../providers/workers/shared";
import { healthUrls, localGetter, smokeCheck } from "../smoke";
import { cloudContext, localContext, type CommandIO, type Target } from "./context";

/**
 * An environment's state: `healthy` when its web /health answers 200 for it (its database and
 * both sibling Workers reachable), `unhealthy` when the host serves it but that check fails,
 * `stopped` when the host does not serve it, `deploying` before its first version.
 */
export type EnvironmentState = "healthy" | "unhealthy" | "stopped" | "deploying" | "deployed";

export interface StatusReport {
  host: {
    running: boolean;
    port?: number;
    pgPort?: number;
    /** Where Postgres keeps its files, and why not in the state folder when it is not. */
    pgData?: string;
    pgDataMovedBecause?: string;
    pid?: number;
    rssMb?: number;
    uptimeS?: number;
  };
  environments: {
    name: string;
    version?: string;
    versions: string[];
    web: string;
    branch: string;
    /** Served by the running host (locally), or deployed (on the cloud). */
    live: boolean;
    state: EnvironmentState;
    /** Why it is unhealthy: the failed check's answer. */
    detail?: string;
  }[];
}

/** status: environments, URLs, branches, versions, and the host's health. */
export async function status(
  options: { json?: boolean; target?: Target },
  io: CommandIO,
): Promise<StatusReport> {
  if (options.target === "cloud") return cloudStatus(options, io);
  const ctx = localContext(io);
  const host = await hostStatus(ctx.paths);
  const live = new Set(host?.environments.map((e) => e.name) ?? []);
  const registry = await readRegistry(ctx.paths);
  const deployed = await ctx.workers.list();
  const health = new Map(
    await Promise.all(
      deployed
        .filter((e) => live.has(e.name))
        .map(async (e) => {
          const check = await smokeCheck(
            localGetter(ctx.port),
            healthUrls(e.urls)[0] ?? "",
            e.name,
          );
          return [e.name, check] as const;
        }),
    ),
  );
  const report: StatusReport = {
    host: host
      ? {
          running: true,
          port: host.port,
          pgPort: host.pgPort,
          ...(host.pgData
            ? {
                pgData: host.pgData.dir,
                ...(host.pgData.movedBecause
                  ? { pgDataMovedBecause: host.pgData.movedBecause }
                  : {}),
              }
            : {}),
          pid: host.pid,
          rssMb: Math.round(host.rssBytes / 1048576),
          uptimeS: Math.round(host.uptimeMs / 1000),
        }
      : { running: false },
    environments: rows(
      deployed,
      (name) => registry.environments[name]?.database ?? "",
      (name) => live.has(name),
      (e) => {
        const check = health.get(e.name);
        if (check)
          return check.ok ? { state: "healthy" } : { state: "unhealthy", detail: check.detail };
        return { state: e.version ? "stopped" : "deploying" };
      },
    ),
  };
  if (options.json) {
    io.out(JSON.stringify(report, null, 2));
    return report;
  }
  if (host) {
    io.out(
      `local host: running (pid ${host.pid}), Workers on http://localhost:${host.port}, Postgres on 127.0.0.1:${host.pgPort}, ${report.host.rssMb} MB resident, up ${report.host.uptimeS} s`,
    );
    if (report.host.pgData)
      io.out(
        `  Postgres data: ${report.host.pgData}${report.host.pgDataMovedBecause ? ` (not in ${ctx.paths.root}: ${report.host.pgDataMovedBecause})` : ""}`,
      );
    io.out("  stop it with: pnpm stop (environments are kept; the next deploy starts it again)");
  } else {
    io.out("local host: not running (the next deploy starts it)");
  }
  if (!report.environments.length) {
    io.out("no environments. Create one with: pnpm preview-deploy --pr 1");
    return report;
  }
  io.out("");
  io.out(
    `${"environment".padEnd(16)}${"version".padEnd(10)}${"branch".padEnd(12)}${"state".padEnd(11)}url`,
  );
  for (const env of report.environments) {
    io.out(
      `${env.name.padEnd(16)}${(env.version ?? "-").padEnd(10)}${env.branch.padEnd(12)}${env.state.padEnd(11)}${env.web}`,
    );
    if (env.detail) io.out(`${"".padEnd(16)}↳ ${env.detail}`);
  }
  return report;
}

/**
 * status --target cloud: the environments with Workers on Cloudflare (as recorded here, and as
 * Cloudflare lists them), with their Neon branches.
 */
async function cloudStatus(options: { json?: boolean }, io: CommandIO): Promise<StatusReport> {
  const ctx = cloudContext(io);
  const database = await ctx.database();
  const [deployed, branches] = await Promise.all([ctx.workers.list(), database.list()]);
  const branchOf = new Map(branches.map((b) => [b.environment, b.name]));
  const report: StatusReport = {
    host: { running: false },
    environments: rows(
      deployed,
      (name) => branchOf.get(name) ?? (name === "production" ? "(default branch)" : ""),
      () => true,
      () => ({ state: "deployed" }),
    ),
  };
  if (options.json) {
    io.out(JSON.stringify(report, null, 2));
    return report;
  }
  if (!report.environments.length) {
    io.out(
      "no environments on Cloudflare. Create one with: pnpm preview-deploy --pr 1 --target cloud",
    );
    return report;
  }
  io.out(`${"environment".padEnd(16)}${"version".padEnd(30)}${"branch".padEnd(20)}url`);
  for (const env of report.environments) {
    io.out(
      `${env.name.padEnd(16)}${(env.version ?? "-").padEnd(30)}${env.branch.padEnd(20)}${env.web}`,
    );
  }
  const orphans = branches.filter((b) => !deployed.some((d) => d.name === b.environment));
  if (orphans.length) {
    io.out("");
    io.out(
      `database branches with no Workers: ${orphans.map((b) => b.name).join(", ")} (pnpm cleanup --stale --target cloud removes them)`,
    );
  }
  return report;
}

/** The report's rows, sorted by name (preview-2 before preview-10). */
function rows(
  deployed: DeployedEnvironment[],
  branch: (name: string) => string,
  live: (name: string) => boolean,
  state: (e: DeployedEnvironment) => { state: EnvironmentState; detail?: string },
): StatusReport["environments"] {
  return deployed
    .sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }))
    .map((e) => ({
      name: e.name,
      ...(e.version ? { version: e.version } : {}),
      versions: e.versions,
      web: e.urls.web,
      branch: branch(e.name),
      live: live(e.name),
      ...state(e),
    }));
}
