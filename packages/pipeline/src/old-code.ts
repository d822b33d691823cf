/**
 * Old code on a new schema: a release (the bundles an environment served, or serves now) run
 * in a throwaway workerd (Miniflare, in this process) against a database it is not deployed
 * on, and asked each Worker's `/health?schema=1` (its reads through its real query paths, see
 * packages/worker-kit/src/schema-check.ts). What production-deploy asks before migrating main
 * (would the live release survive the pending migrations?) and what rollback asks before
 * serving an older version on today's schema. Nothing of the runtime outlives the check.
 */
import type { Readable } from "node:stream";
import type { WorkerKind, WranglerConfig } from "./core/derive";
import type { SchemaCheck } from "./core/summary";
import { environmentOptions } from "./local/miniflare-options";
import { healthUrls, smokeCheck, type HealthGetter, type SmokeResult } from "./smoke";

/** A release's bundles and what they were deployed with, ready to serve anywhere. */
export interface ReleaseBundles {
  /** The version id, as deploys print it and `rollback --to` takes it. */
  version: string;
  /** How many migrations the code was built with; absent when the version did not record it. */
  migrations?: number;
  workers: {
    kind: WorkerKind;
    name: string;
    bundleDir: string;
    main: string;
    hostname: string;
  }[];
  assetsDir: string;
  /** Derived wrangler configs by Worker name. */
  configs: Record<string, WranglerConfig>;
  /** Secret bindings (not DATABASE_URL). */
  secrets: Record<string, string>;
}

/**
 * A release as a platform names it, before its bundles are at hand: on the local target they are
 * on disk; on the cloud target they are built from the release's commit (which takes a minute),
 * so `load` is called only when the release is to be tried. `unavailable` says why it cannot be
 * (a deploy without a commit, a commit this clone lacks); `load` then throws.
 */
export interface ReleaseHandle {
  version: string;
  /** How many migrations the code was built with, when known without building it. */
  migrations?: number;
  /** Where the bundles come from, for the progress line ("recorded bundles", "built from …"). */
  source: string;
  unavailable?: string;
  load(): Promise<ReleaseBundles>;
}

export type OldCodeVerdict = SchemaCheck & { version?: string };

/**
 * Serves `release` against `databaseUrl` in a Miniflare of its own and smoke-checks its three
 * Workers' schema checks. Passed: every one answered 200; failed: the detail names each Worker
 * that did not, and the read that failed. The runtime is disposed of in every case.
 */
export async function tryRelease(
  release: ReleaseBundles,
  databaseUrl: string,
  environment: string,
): Promise<OldCodeVerdict> {
  // Imported here: loading Miniflare takes 0.6 s, which the commands pay only when they try one.
  const { Miniflare } = await import("miniflare");
  const miniflare = new Miniflare({
    ...environmentOptions(release, {
      configs: release.configs,
      secrets: release.secrets,
      databaseUrl,
    }),
    // The Workers' own log lines are not this command's output: the verdict says what failed.
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      stdout.resume();
      stderr.resume();
    },
  });
  try {
    await miniflare.ready;
    // Miniflare routes a dispatched request by its URL's host, as the Workers' routes say.
    const get: HealthGetter = async (url) => {
      const response = await miniflare.dispatchFetch(url, {
        headers: { accept: "application/json" },
      });
      return { status: response.status, body: await response.text() };
    };
    const host = (kind: WorkerKind) =>
      `http://${release.workers.find((w) => w.kind === kind)?.hostname ?? "missing.invalid"}`;
    const urls = { web: host("web"), auth: host("auth"), webhook: host("webhook") };
    const results: SmokeResult[] = [];
    // One at a time: web's /health also calls its siblings, and the scratch database is small.
    for (const url of healthUrls(urls)) results.push(await smokeCheck(get, url, environment));
    const failed = results.filter((r) => !r.ok);
    if (!failed.length) {
      return {
        status: "passed",
        version: release.version,
        detail: `${release.version} answered its schema checks (web, auth, webhook)`,
      };
    }
    const named = failed.map((r) => {
      const worker = release.workers.find((w) => w.hostname === new URL(r.url).hostname);
      return `${worker?.name ?? r.url}: ${r.detail}`;
    });
    return {
      status: "failed",
      version: release.version,
      detail: `${release.version} does not survive the schema: ${named.join("; ")}`,
    };
  } finally {
    await miniflare.dispose().catch(() => {});
  }
}
