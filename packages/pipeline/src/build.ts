/**
 * Builds an environment's bundles exactly as the cloud target would upload them: the web app
 * with vite, then every Worker with `wrangler deploy --dry-run` on its derived config.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import type { DerivedStack, WorkerKind } from "./core/derive";
import { PipelineError } from "./errors";
import { exec } from "./exec";
import { killGroup } from "./local/processes";
import { statePaths, writeFileAtomic, withLock, REPO_ROOT, type StatePaths } from "./state";

/**
 * The web build writes to apps/web/.svelte-kit, one folder per checkout whatever the state
 * folder, so its lock, its marker and its record of running builds live in the checkout's own
 * .codex/, shared by every state folder (and by the web app's tests, see apps/web/test/stack.ts).
 */
export const BUILD_PATHS = statePaths(join(REPO_ROOT, ".codex"));

/**
 * Names the hash of the web app's sources (webCodeHash) vite's output in apps/web/.svelte-kit
 * was built from; while it matches, builds reuse that output. Without it, the next build runs
 * vite again.
 */
export const WEB_BUILD_MARKER = join(BUILD_PATHS.builds, "web-build.json");

/** Where each Worker's sources (and its wrangler config) are in the checkout at `root`. */
export function workerDirs(root: string): Record<WorkerKind, string> {
  return {
    web: join(root, "apps", "web"),
    auth: join(root, "workers", "auth"),
    webhook: join(root, "workers", "stripe-webhook-handler"),
  };
}

export const WORKER_DIRS = workerDirs(REPO_ROOT);

// What the bundles are made of. A change anywhere here means a new build.
export const SOURCES = [
  "apps/web/src",
  "apps/web/static",
  "apps/web/svelte.config.js",
  "apps/web/vite.config.ts",
  "workers/auth/src",
  "workers/stripe-webhook-handler/src",
  "packages/database/src",
  "packages/database/drizzle",
  "packages/observability/src",
  "packages/worker-kit/src",
  "pnpm-lock.yaml",
];

async function hashTree(hash: ReturnType<typeof createHash>, path: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return;
  if (info.isDirectory()) {
    for (const entry of (await readdir(path)).sort()) {
      if (entry.endsWith(".test.ts")) continue;
      await hashTree(hash, join(path, entry));
    }
    return;
  }
  hash.update(relative(REPO_ROOT, path));
  hash.update(await readFile(path));
}

// What vite's output is made of: the same, but the migrations. No Worker bundles them (they are
// read from disk by the Node side, packages/database/src/migrate.ts), so a change that only adds
// or edits a migration makes new bundles and a new version, on the web app's vite output as it was.
export const WEB_SOURCES = SOURCES.filter((source) => source !== "packages/database/drizzle");

async function hashSources(sources: readonly string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const source of sources) await hashTree(hash, join(REPO_ROOT, source));
  return hash.digest("hex").slice(0, 16);
}

/** A short hash of the code the bundles are built from. */
export function codeHash(): Promise<string> {
  return hashSources(SOURCES);
}

/** A short hash of what vite's output is built from: the key of WEB_BUILD_MARKER. */
export function webCodeHash(): Promise<string> {
  return hashSources(WEB_SOURCES);
}

/** The code's hash plus this environment's derived configs: equal hashes, equal bundles. */
export function versionHash(code: string, stack: DerivedStack): string {
  return createHash("sha256")
    .update(code)
    .update(JSON.stringify(stack.workers.map((w) => w.config)))
    .digest("hex")
    .slice(0, 16);
}

/** True when the web app's vite output in this checkout was built from `code` (webCodeHash). */
export async function webBuildIsCurrent(code: string): Promise<boolean> {
  const marker = await readFile(WEB_BUILD_MARKER, "utf8").then(
    (t) => (JSON.parse(t) as { hash?: string }).hash,
    () => undefined,
  );
  return (
    marker === code && existsSync(join(WORKER_DIRS.web, ".svelte-kit", "cloudflare", "_worker.js"))
  );
}

export interface BuiltWorker {
  kind: WorkerKind;
  name: string;
  configPath: string;
  bundleDir: string;
  main: string;
}

export interface BuildResult {
  workers: BuiltWorker[];
  assetsDir: string;
}

/**
 * Runs a build tool in its own process group, recorded in builds/active.json, so that a run
 * killed with SIGKILL leaves a trace the next run uses to stop the orphan before building.
 */
async function build(paths: StatePaths, args: string[], cwd: string, what: string): Promise<void> {
  let pgid = 0;
  try {
    await exec(
      "pnpm",
      args,
      { code: "BUILD_FAILED", what },
      {
        cwd,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
        onStart: (group) => recordActive(paths, (pgid = group), true),
      },
    );
  } finally {
    await recordActive(paths, pgid, false);
  }
}

// Builds run in parallel within one command; their bookkeeping must not interleave.
let recording = Promise.resolve();

function recordActive(paths: StatePaths, pgid: number, active: boolean): Promise<void> {
  recording = recording.then(async () => {
    const file = join(paths.builds, "active.json");
    const groups = new Set((await readJsonArray(file)).filter((g) => g !== pgid));
    if (active) groups.add(pgid);
    await writeFileAtomic(file, JSON.stringify([...groups]));
  });
  return recording;
}

async function readJsonArray(file: string): Promise<number[]> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as number[];
  } catch {
    return [];
  }
}

/** Stops build processes a killed run left behind (we hold the build lock, so they are orphans). */
async function stopOrphanBuilds(paths: StatePaths): Promise<void> {
  const file = join(paths.builds, "active.json");
  const groups = await readJsonArray(file);
  for (const pgid of groups) killGroup(pgid);
  if (groups.length) await writeFileAtomic(file, "[]");
}

/**
 * Builds into `versionDir`: derived configs in config/, bundles in <kind>/, the web app's static
 * assets in web-assets/. The vite step writes to apps/web/.svelte-kit, which every environment
 * shares, so building is serialized across environments; it is skipped while the output there
 * was built from `webCode` (webCodeHash, or any key naming the sources). `root` is the checkout built: this one
 * by default, or another (an earlier commit's sources, see release-build.ts), with its own lock.
 */
export async function buildStack(
  stack: DerivedStack,
  webCode: string,
  versionDir: string,
  root: string = REPO_ROOT,
): Promise<BuildResult> {
  const paths = statePaths(join(root, ".codex"));
  const dirs = workerDirs(root);
  const marker = join(paths.builds, "web-build.json");
  return withLock(paths, "build", async () => {
    await stopOrphanBuilds(paths);
    const built = await readFile(marker, "utf8").then(
      (t) => (JSON.parse(t) as { hash: string }).hash,
      () => "",
    );
    const entry = join(dirs.web, ".svelte-kit", "cloudflare", "_worker.js");
    const present = await stat(entry).then(
      () => true,
      () => false,
    );
    // Configs do not change vite's output, so one web build serves every environment.
    if (built !== webCode || !present) {
      await build(paths, ["exec", "vite", "build"], dirs.web, "the web app's build (vite build)");
      await writeFileAtomic(
        marker,
        JSON.stringify({ hash: webCode, builtAt: new Date().toISOString() }),
      );
    }
    await rm(versionDir, { recursive: true, force: true });
    const workers = await Promise.all(
      stack.workers.map(async (worker): Promise<BuiltWorker> => {
        const configPath = join(versionDir, "config", `${worker.kind}.json`);
        await writeFileAtomic(configPath, `${JSON.stringify(worker.config, null, 2)}\n`);
        const bundleDir = join(versionDir, worker.kind);
        await build(
          paths,
          [
            "exec",
            "wrangler",
            "deploy",
            "--dry-run",
            "--config",
            configPath,
            "--outdir",
            bundleDir,
          ],
          dirs[worker.kind],
          `bundling ${worker.name} (wrangler deploy --dry-run)`,
        );
        const main = (await readdir(bundleDir)).find((f) => f.endsWith(".js"));
        if (!main)
          throw new PipelineError("BUILD_FAILED", `wrangler produced no bundle for ${worker.name}`);
        return { kind: worker.kind, name: worker.name, configPath, bundleDir, main };
      }),
    );
    const assetsDir = join(versionDir, "web-assets");
    await copyAssets(join(dirs.web, ".svelte-kit", "cloudflare"), assetsDir);
    return { workers, assetsDir };
  });
}

/** Copies the static assets as wrangler uploads them: without what .assetsignore names. */
async function copyAssets(source: string, target: string): Promise<void> {
  const ignored = new Set(
    (await readFile(join(source, ".assetsignore"), "utf8").catch(() => ""))
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean)
      .concat(".assetsignore"),
  );
  await mkdir(target, { recursive: true });
  await cp(source, target, {
    recursive: true,
    filter: (path) => !ignored.has(path.slice(source.length + 1)),
  });
}
