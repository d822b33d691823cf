/**
 * The whole platform (web, auth and webhook Workers) built as it would deploy, and served by
 * one Miniflare instance with the Workers wired to each other through service bindings.
 *
 * The web app's integration tests and the Playwright suite run against it. The pipeline's local
 * target serves the same bundles the same way, per environment.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";
import lockfile from "proper-lockfile";

const run = promisify(execFile);
export const REPO_ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
export const BUILD_DIR = join(REPO_ROOT, ".codex", "build");
const COMPATIBILITY_DATE = "2026-04-20";

interface WorkerSource {
  name: string;
  /** Folder holding the Worker's wrangler.jsonc. */
  dir: string;
}

export const WORKERS = {
  web: { name: "codex-web", dir: join(REPO_ROOT, "apps", "web") },
  auth: { name: "auth-worker", dir: join(REPO_ROOT, "workers", "auth") },
  webhook: {
    name: "stripe-webhook-handler",
    dir: join(REPO_ROOT, "workers", "stripe-webhook-handler"),
  },
} as const satisfies Record<string, WorkerSource>;

// Every source the bundles are built from; a build older than any of them is rebuilt.
const SOURCE_DIRS = [
  "apps/web/src",
  "apps/web/static",
  "workers/auth/src",
  "workers/stripe-webhook-handler/src",
  "packages/database/src",
  "packages/observability/src",
  "packages/worker-kit/src",
];
const SOURCE_FILES = [
  "pnpm-lock.yaml",
  "apps/web/svelte.config.js",
  "apps/web/vite.config.ts",
  "apps/web/wrangler.jsonc",
  "workers/auth/wrangler.jsonc",
  "workers/stripe-webhook-handler/wrangler.jsonc",
];

async function newestMtime(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of await readdir(path)) {
    newest = Math.max(newest, await newestMtime(join(path, entry)));
  }
  return newest;
}

async function sourcesChangedSince(stampFile: string): Promise<boolean> {
  const stamp = await stat(stampFile).catch(() => undefined);
  if (!stamp) return true;
  for (const path of [...SOURCE_DIRS, ...SOURCE_FILES]) {
    if ((await newestMtime(join(REPO_ROOT, path))) > stamp.mtimeMs) return true;
  }
  return false;
}

/** Bundles one Worker exactly as `wrangler deploy` would upload it. */
async function bundle(worker: WorkerSource, outDir: string): Promise<void> {
  await rm(outDir, { recursive: true, force: true });
  await run("pnpm", ["exec", "wrangler", "deploy", "--dry-run", "--outdir", outDir], {
    cwd: worker.dir,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
  });
}

/**
 * The checkout's build lock, shared with the pipeline (packages/pipeline/src/build.ts): vite
 * writes to apps/web/.svelte-kit, so two builds at once (a deploy and these tests) would
 * corrupt each other.
 */
async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = join(REPO_ROOT, ".codex", "locks");
  await mkdir(locks, { recursive: true });
  const target = join(locks, "build.lock-target");
  await writeFile(target, "", { flag: "a" });
  const release = await lockfile.lock(target, {
    stale: 10_000,
    update: 2_000,
    retries: { retries: 1200, minTimeout: 500, maxTimeout: 500, factor: 1 },
    realpath: false,
  });
  try {
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}

/**
 * Builds the web app (vite) and bundles all three Workers (wrangler's dry run) into
 * .codex/build, unless a build newer than every source is already there.
 */
export function ensureStackBuilt(log: (line: string) => void = () => {}): Promise<string> {
  return withBuildLock(() => buildUnlocked(log));
}

async function buildUnlocked(log: (line: string) => void): Promise<string> {
  const stampFile = join(BUILD_DIR, "stamp.json");
  if (!(await sourcesChangedSince(stampFile))) {
    log("stack build is up to date");
    return BUILD_DIR;
  }
  const started = Date.now();
  await mkdir(BUILD_DIR, { recursive: true });
  log("building the web app (vite build)...");
  await run("pnpm", ["exec", "vite", "build"], { cwd: WORKERS.web.dir });
  log("bundling the three Workers (wrangler deploy --dry-run)...");
  await Promise.all(
    Object.entries(WORKERS).map(([key, worker]) => bundle(worker, join(BUILD_DIR, key))),
  );
  // Static assets as wrangler uploads them: without the files .assetsignore names.
  const source = join(WORKERS.web.dir, ".svelte-kit", "cloudflare");
  const ignored = new Set(
    (await readFile(join(source, ".assetsignore"), "utf8").catch(() => ""))
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .concat(".assetsignore"),
  );
  const assets = join(BUILD_DIR, "web-assets");
  await rm(assets, { recursive: true, force: true });
  await cp(source, assets, {
    recursive: true,
    filter: (path) => !ignored.has(path.slice(source.length + 1)),
  });
  await writeFile(stampFile, JSON.stringify({ builtAt: new Date().toISOString() }));
  log(`stack built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return BUILD_DIR;
}

export interface StackOptions {
  databaseUrl: string;
  /** The value of every Worker's ENVIRONMENT var. */
  environment: string;
  /** Signs the test checkout's events (web) and verifies them (webhook). */
  stripeWebhookSecret: string;
  sessionSecret: string;
  /** debug | info | warn | error, for all three Workers; info by default. */
  logLevel?: string;
  /** Extra bindings for the web Worker (e.g. STRIPE_SECRET_KEY in a test). */
  webBindings?: Record<string, string>;
  port?: number;
  /**
   * Receives each line workerd writes: the Workers' console output, as the local host's log
   * gets it. By default the lines go to this process's console.
   */
  onOutput?: (line: string) => void;
}

export interface Stack {
  url: URL;
  miniflare: Miniflare;
  dispose(): Promise<void>;
}

function workerModule(buildDir: string, key: keyof typeof WORKERS, main: string) {
  const dir = join(buildDir, key);
  return {
    name: WORKERS[key].name,
    // Listed rather than discovered: wrangler's bundles keep non-literal import()s, which
    // Miniflare cannot follow on its own.
    modules: [{ type: "ESModule" as const, path: join(dir, main) }],
    modulesRoot: dir,
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags: ["nodejs_compat"],
  };
}

/** Serves the built stack on 127.0.0.1; web is the entry Worker, the others sit behind it. */
export async function startStack(options: StackOptions, buildDir = BUILD_DIR): Promise<Stack> {
  const common = {
    ENVIRONMENT: options.environment,
    DATABASE_URL: options.databaseUrl,
    LOG_LEVEL: options.logLevel ?? "info",
  };
  const onOutput = options.onOutput;
  const miniflare = new Miniflare({
    host: "127.0.0.1",
    port: options.port ?? 0,
    ...(onOutput && {
      handleRuntimeStdio: (...streams: Readable[]) => {
        for (const stream of streams) createInterface(stream).on("line", onOutput);
      },
    }),
    workers: [
      {
        ...workerModule(buildDir, "web", "_worker.js"),
        bindings: {
          ...common,
          STRIPE_WEBHOOK_SECRET: options.stripeWebhookSecret,
          ...options.webBindings,
        },
        serviceBindings: { AUTH: WORKERS.auth.name, WEBHOOK: WORKERS.webhook.name },
        assets: {
          directory: join(buildDir, "web-assets"),
          binding: "ASSETS",
          routerConfig: { has_user_worker: true },
        },
      },
      {
        ...workerModule(buildDir, "auth", "index.js"),
        bindings: {
          ...common,
          SESSION_SECRET: options.sessionSecret,
        },
      },
      {
        ...workerModule(buildDir, "webhook", "index.js"),
        bindings: {
          ...common,
          STRIPE_WEBHOOK_SECRET: options.stripeWebhookSecret,
        },
      },
    ],
  });
  const url = await miniflare.ready;
  return { url, miniflare, dispose: () => miniflare.dispose() };
}
