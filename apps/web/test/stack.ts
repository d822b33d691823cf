/**
 * The whole platform (web, auth and webhook Workers) built as it would deploy, and served by
 * one Miniflare instance with the Workers wired to each other through service bindings.
 *
 * The web app's integration tests and the Playwright suite run against it. It is the pipeline's
 * own build, derivation and Miniflare options: its local target serves each environment so.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { Miniflare } from "miniflare";
import {
  BUILD_PATHS,
  buildStack,
  codeHash,
  deriveStack,
  environmentOptions,
  loadStack,
  localHostnames,
  parseEnvironment,
  PRODUCTION,
  REPO_ROOT,
  versionHash,
  webCodeHash,
  type BuildResult,
} from "@codex/pipeline";

const BUILD_DIR = join(BUILD_PATHS.root, "build");
const STAMP = join(BUILD_DIR, "stamp.json");

/**
 * Builds the stack into .codex/build unless the build there is of the same code and configs.
 * The bundles do not depend on the environment (their configs do, and those are derived again
 * for each stack started), so one build serves every environment.
 */
export async function ensureStackBuilt(log: (line: string) => void = () => {}): Promise<void> {
  const stack = deriveStack(loadStack(REPO_ROOT), PRODUCTION);
  const code = await codeHash();
  const hash = versionHash(code, stack);
  if ((await readStamp().catch(() => undefined))?.hash === hash) {
    log("stack build is up to date");
    return;
  }
  const started = Date.now();
  log(
    "building the web app (vite build) and bundling the three Workers (wrangler deploy --dry-run)...",
  );
  const result = await buildStack(stack, await webCodeHash(), BUILD_DIR);
  await writeFile(STAMP, JSON.stringify({ hash, result }));
  log(`stack built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function readStamp(): Promise<{ hash: string; result: BuildResult }> {
  return JSON.parse(await readFile(STAMP, "utf8")) as { hash: string; result: BuildResult };
}

export interface StackOptions {
  databaseUrl: string;
  /** The environment served: "production", "staging" or "preview-<N>". */
  environment: string;
  /** Signs the test checkout's events (web) and verifies them (webhook). */
  stripeWebhookSecret: string;
  sessionSecret: string;
  /** debug | info | warn | error, for all three Workers; info by default. */
  logLevel?: string;
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

/** Serves the built stack on 127.0.0.1; web is the entry Worker, the others sit behind it. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const { result } = await readStamp();
  const environment = parseEnvironment(options.environment);
  const derived = deriveStack(loadStack(REPO_ROOT), environment);
  const hosts = localHostnames(environment);
  const workers = derived.workers.map((worker) => ({
    ...(result.workers.find((built) => built.kind === worker.kind) as BuildResult["workers"][0]),
    name: worker.name,
    hostname: hosts[worker.kind],
  }));
  // Web first: Miniflare gives the first Worker every request no route claims (all of them here).
  workers.sort((a, b) => Number(b.kind === "web") - Number(a.kind === "web"));
  const onOutput = options.onOutput;
  const miniflare = new Miniflare({
    ...environmentOptions(
      { workers, assetsDir: result.assetsDir },
      {
        configs: Object.fromEntries(derived.workers.map((w) => [w.name, w.config])),
        // LOG_LEVEL rides with the secrets: both are plain-text bindings of all three Workers.
        secrets: {
          SESSION_SECRET: options.sessionSecret,
          STRIPE_WEBHOOK_SECRET: options.stripeWebhookSecret,
          LOG_LEVEL: options.logLevel ?? "info",
        },
        databaseUrl: options.databaseUrl,
      },
    ),
    ...(onOutput && {
      handleRuntimeStdio: (...streams: Readable[]) => {
        for (const stream of streams) createInterface(stream).on("line", onOutput);
      },
    }),
  });
  const url = await miniflare.ready;
  return { url, miniflare, dispose: () => miniflare.dispose() };
}
